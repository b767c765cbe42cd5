"""Two-level commission: computed at payment, frozen until completion + freeze days, settled
by a batched job, reduced or clawed back by refunds (docs/COMMISSION.md)."""
