"""The ledger: guarded updates, idempotency keys, debt rules, and `huituan ledger verify`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from huituan.models.wallet import EntryKind, Wallet
from huituan.services.wallet import ledger
from huituan.services.wallet.verify import verify_ledger
from tests.factories import make_user


def posting(uid, bucket, amount, key):
    return ledger.Posting(uid, bucket, amount, EntryKind.commission_pending, key, "commission", 1)


async def test_entries_and_balances_move_together_and_keys_are_unique(rt):
    u = await make_user()
    async with in_transaction() as conn:
        await ledger.apply(conn, [u.id], lambda w: [posting(u.id, "pending", 500, "k1")])
    assert (await ledger.get_balances(u.id)).pending == 500
    with pytest.raises(IntegrityError):
        async with in_transaction() as conn:
            await ledger.apply(conn, [u.id], lambda w: [posting(u.id, "pending", 500, "k1")])
    # the failed transaction left nothing behind
    assert (await ledger.get_balances(u.id)).pending == 500
    assert await verify_ledger() == []


async def test_no_bucket_goes_negative(rt):
    u = await make_user()
    with pytest.raises(ledger.InsufficientBalance):
        async with in_transaction() as conn:
            await ledger.apply(conn, [u.id], lambda w: [posting(u.id, "available", -1, "neg")])
    assert await verify_ledger() == []


def test_clawback_and_income_rules():
    bal = ledger.Balances(wallet_id=1, user_id=1, version=0, available=300)
    out = ledger.charge_clawback(bal, 1000, key="c", ref_type="commission", ref_id=1)
    assert [(p.bucket, p.amount_fen) for p in out] == [("available", -300), ("debt", 700)]
    out = ledger.credit_income(bal, 1000, kind=EntryKind.commission_settle, key="s", ref_type="commission",
                               ref_id=2)
    assert [(p.bucket, p.amount_fen) for p in out] == [("debt", -700), ("available", 300)]
    assert (bal.available, bal.debt) == (300, 0)


@pytest.mark.ledger_tampered
async def test_verify_reports_a_tampered_balance_and_the_cli_exits_non_zero(rt, settings):
    u = await make_user()
    async with in_transaction() as conn:
        await ledger.apply(conn, [u.id], lambda w: [posting(u.id, "pending", 500, "k2")])
    env = dict(os.environ, HUITUAN_DATABASE_URL=settings.database_url)
    ok = subprocess.run([sys.executable, "-m", "huituan.cli", "ledger", "verify"], env=env, capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    await Wallet.filter(user_id=u.id).update(pending_fen=499)
    problems = await verify_ledger()
    assert problems and "pending" in problems[0]
    bad = subprocess.run([sys.executable, "-m", "huituan.cli", "ledger", "verify"], env=env, capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 1 and "pending" in bad.stdout
