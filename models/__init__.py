"""Tortoise models only: one module per aggregate, status StrEnums beside them.

A new model module is imported here and added to ``MODEL_APP``; then run
``huituan makemigrations`` and commit the file it writes under models/migrations/.
"""

from huituan.core.db import ModelApp
from huituan.models import (
    catalog,
    commission,
    leader,
    migrations,
    notification,
    ops,
    order,
    outbox,
    promoter,
    referral,
    user,
    wallet,
)

MODEL_APP = ModelApp(
    modules=(user, catalog, order, outbox, ops, referral, promoter, commission, wallet, leader, notification),
    migrations=migrations,
)
