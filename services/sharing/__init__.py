"""Share codes, their funnel and the share material library (see models.sharing)."""
