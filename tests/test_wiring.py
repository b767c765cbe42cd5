"""The wiring of the composition root: every outbox kind has a handler, every event its
subscribers, and wiring happens once per process."""

from __future__ import annotations

from huituan.models.outbox import OutboxKind
from huituan.services import events, outbox
from huituan.wiring import wire_services


def test_every_outbox_kind_has_a_handler():
    wire_services()
    assert outbox.handled_kinds() == {k.value for k in OutboxKind}


def test_the_events_other_domains_react_to_have_subscribers():
    wire_services()
    for event in (events.ORDER_PAID, events.ORDER_COMPLETED, events.REFUND_SUCCEEDED, events.USER_LOGGED_IN):
        assert events.subscribers(event), event


def test_wiring_twice_changes_nothing():
    wire_services()
    before = (dict(outbox._handlers), {e: events.subscribers(e) for e in events.EVENTS})
    wire_services()
    assert (dict(outbox._handlers), {e: events.subscribers(e) for e in events.EVENTS}) == before
