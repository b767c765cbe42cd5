"""Tortoise models only: one module per aggregate, status StrEnums beside them.

A new model module is imported here and added to ``MODEL_APP``; then run
``huituan makemigrations`` and commit the file it writes under models/migrations/.
"""

from huituan.core.db import ModelApp
from huituan.models import (
    bargain,
    catalog,
    commission,
    flash_sale,
    group_buy,
    leader,
    migrations,
    notification,
    ops,
    order,
    outbox,
    poster,
    promoter,
    referral,
    sharing,
    user,
    wallet,
)

MODEL_APP = ModelApp(
    modules=(user, catalog, order, outbox, ops, referral, promoter, commission, wallet, leader,
             group_buy, bargain, flash_sale, sharing, poster, notification),
    migrations=migrations,
)
