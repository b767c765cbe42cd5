"""Tortoise models only: one module per aggregate, status StrEnums beside them.

Add a new module to MODEL_MODULES, then run ``huituan makemigrations`` and commit
the file it writes under models/migrations/.
"""

MODEL_MODULES: tuple[str, ...] = (
    "models.user",
    "models.catalog",
    "models.order",
    "models.outbox",
    "models.ops",
    "models.referral",
    "models.promoter",
    "models.commission",
    "models.wallet",
    "models.leader",
)
