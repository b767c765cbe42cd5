"""Imports every module that subscribes to domain events (see services.events)."""

import importlib

SUBSCRIBER_MODULES: tuple[str, ...] = (
    "services.commission.events",
    "services.referrals.events",
    "services.orders.refunds",  # registers the outbox "refund" handler
)

for _name in SUBSCRIBER_MODULES:
    importlib.import_module(_name)
