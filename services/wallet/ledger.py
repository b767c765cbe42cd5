"""The wallet ledger: the only code that changes a wallet's cached balances.

Every change is a ``WalletEntry`` (one per bucket moved, UNIQUE idempotency key) written in
the same transaction as a guarded update of the wallet row:

    UPDATE wallet SET available_fen = available_fen + d, ..., version = version + 1
    WHERE id = ? AND version = <version read under the row lock> AND available_fen + d >= 0 ...

The balances change by increments, never by writing a value computed from an earlier read;
the version compare-and-set makes the ``balance_after_fen`` written on each entry exact even
on SQLite (where SELECT ... FOR UPDATE is a no-op); on PostgreSQL the rows are locked
(``FOR UPDATE``, in user-id order so concurrent batches cannot deadlock) before planning.

Callers pass a *planner*: it receives the locked balances and returns the postings, so rules
that depend on the balance (a clawback takes what is available and books the rest as debt;
income pays down debt first) are decided on the locked row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Callable, Iterable

from tortoise.expressions import F

from huituan.core.clock import utcnow
from huituan.core.errors import Conflict
from huituan.core.sql import is_pg
from huituan.models.wallet import BUCKETS, EntryKind, Wallet, WalletEntry
from huituan.services import events


@dataclass
class Balances:
    wallet_id: int
    user_id: int
    version: int
    pending: int = 0
    available: int = 0
    withdrawing: int = 0
    withdrawn: int = 0
    debt: int = 0

    def get(self, bucket: str) -> int:
        return getattr(self, bucket)

    def as_dict(self) -> dict[str, int]:
        return {f"{b}_fen": getattr(self, b) for b in BUCKETS}


@dataclass
class Posting:
    user_id: int
    bucket: str
    amount_fen: int
    kind: EntryKind
    key: str
    ref_type: str
    ref_id: int


Planner = Callable[[dict[int, Balances]], list[Posting]]


class LedgerConflict(Conflict):
    code = "ledger_conflict"
    message = "余额已变化，请稍后重试"


class InsufficientBalance(Conflict):
    code = "insufficient_balance"
    message = "可用余额不足"



_COLS = "id, user_id, version, pending_fen, available_fen, withdrawing_fen, withdrawn_fen, debt_fen"


def _balances(row) -> Balances:
    return Balances(wallet_id=row["id"], user_id=row["user_id"], version=row["version"],
                    pending=row["pending_fen"], available=row["available_fen"],
                    withdrawing=row["withdrawing_fen"], withdrawn=row["withdrawn_fen"], debt=row["debt_fen"])


async def _read(conn, user_ids: list[int]) -> dict[int, Balances]:
    if is_pg(conn):
        rows = await conn.execute_query_dict(
            f"SELECT {_COLS} FROM wallet WHERE user_id = ANY($1::bigint[]) ORDER BY user_id FOR UPDATE", [user_ids])
    else:
        rows = await Wallet.filter(user_id__in=user_ids).using_db(conn).values(
            "id", "user_id", "version", "pending_fen", "available_fen", "withdrawing_fen", "withdrawn_fen", "debt_fen")
    return {r["user_id"]: _balances(r) for r in rows}


async def lock_wallets(conn, user_ids: Iterable[int]) -> dict[int, Balances]:
    """Read (and on PostgreSQL lock) the wallets of ``user_ids``, creating missing ones."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    found = await _read(conn, ids)
    missing = [u for u in ids if u not in found]
    if missing:
        await Wallet.bulk_create([Wallet(user_id=u) for u in missing], ignore_conflicts=True, using_db=conn)
        found = await _read(conn, ids)
    return found


async def get_balances(user_id: int, conn=None) -> Balances:
    w = await Wallet.get_or_none(user_id=user_id).using_db(conn) if conn else await Wallet.get_or_none(user_id=user_id)
    if w is None:
        return Balances(wallet_id=0, user_id=user_id, version=0)
    return Balances(wallet_id=w.id, user_id=user_id, version=w.version, pending=w.pending_fen,
                    available=w.available_fen, withdrawing=w.withdrawing_fen, withdrawn=w.withdrawn_fen,
                    debt=w.debt_fen)


async def _insert_entries(conn, rows: list[tuple], now: datetime) -> None:
    if not rows:
        return
    if is_pg(conn):
        cols = list(zip(*rows))
        await conn.execute_query(
            "INSERT INTO wallet_entry (wallet_id, user_id, bucket, kind, amount_fen, balance_after_fen, ref_type,"
            " ref_id, idempotency_key, created_at) SELECT w, u, b, k, a, ba, rt, ri, ik, $10 FROM unnest("
            "$1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],"
            " $8::bigint[], $9::text[]) AS t(w, u, b, k, a, ba, rt, ri, ik)",
            [list(c) for c in cols] + [now],
        )
    else:
        await WalletEntry.bulk_create(
            [WalletEntry(wallet_id=r[0], user_id=r[1], bucket=r[2], kind=r[3], amount_fen=r[4],
                         balance_after_fen=r[5], ref_type=r[6], ref_id=r[7], idempotency_key=r[8], created_at=now)
             for r in rows],
            using_db=conn,
        )


async def _update_wallets(conn, changes: list[tuple[Balances, dict[str, int]]], now: datetime) -> int:
    if is_pg(conn):
        cols: list[list[int]] = [[], [], [], [], [], [], []]
        for bal, d in changes:
            for i, v in enumerate((bal.wallet_id, bal.version, d["pending"], d["available"], d["withdrawing"],
                                   d["withdrawn"], d["debt"])):
                cols[i].append(v)
        n, _ = await conn.execute_query(
            "UPDATE wallet AS w SET pending_fen = w.pending_fen + v.dp, available_fen = w.available_fen + v.da,"
            " withdrawing_fen = w.withdrawing_fen + v.dw, withdrawn_fen = w.withdrawn_fen + v.dn,"
            " debt_fen = w.debt_fen + v.dd, version = w.version + 1, updated_at = $8"
            " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],"
            " $7::bigint[]) AS v(id, ver, dp, da, dw, dn, dd)"
            " WHERE w.id = v.id AND w.version = v.ver AND w.pending_fen + v.dp >= 0 AND w.available_fen + v.da >= 0"
            " AND w.withdrawing_fen + v.dw >= 0 AND w.withdrawn_fen + v.dn >= 0 AND w.debt_fen + v.dd >= 0",
            cols + [now],
        )
        return n
    total = 0
    for bal, d in changes:
        guards = {f"{b}_fen__gte": -d[b] for b in BUCKETS if d[b] < 0}
        total += await Wallet.filter(id=bal.wallet_id, version=bal.version, **guards).using_db(conn).update(
            version=F("version") + 1, updated_at=now,
            **{f"{b}_fen": F(f"{b}_fen") + d[b] for b in BUCKETS if d[b]},
        )
    return total


async def apply(conn, user_ids: Iterable[int], planner: Planner, *, now: datetime | None = None) -> dict[int, Balances]:
    """Lock the wallets, ask ``planner`` for postings, apply them with their entries.

    Must run inside a transaction (``conn``). Raises InsufficientBalance when a posting would
    take a bucket below zero, LedgerConflict when the guarded update lost (never expected
    under the row lock; the whole transaction is rolled back either way).
    """
    now = now or utcnow()
    wallets = await lock_wallets(conn, user_ids)
    # The planner may mutate what it is given (credit_income chains): give it copies.
    postings = planner({uid: replace(b) for uid, b in wallets.items()})
    if not postings:
        return wallets
    deltas: dict[int, dict[str, int]] = {}
    running: dict[int, dict[str, int]] = {}
    rows: list[tuple] = []
    for p in postings:
        bal = wallets[p.user_id]
        d = deltas.setdefault(p.user_id, {b: 0 for b in BUCKETS})
        run = running.setdefault(p.user_id, {b: bal.get(b) for b in BUCKETS})
        d[p.bucket] += p.amount_fen
        run[p.bucket] += p.amount_fen
        rows.append((bal.wallet_id, p.user_id, p.bucket, p.kind.value, p.amount_fen, run[p.bucket], p.ref_type,
                     p.ref_id, p.key))
    for uid, run in running.items():
        for b, v in run.items():
            if v < 0:
                raise InsufficientBalance(field="amount_fen", bucket=b)
    changes = [(wallets[uid], d) for uid, d in deltas.items() if any(d.values())]
    updated = await _update_wallets(conn, changes, now)
    if updated != len(changes):
        raise LedgerConflict()
    await _insert_entries(conn, rows, now)
    # Debt booked: whoever holds money for this wallet on its way out reacts in this
    # transaction (a transfer the user has not confirmed yet is cancelled, services.withdrawals).
    for uid in sorted({p.user_id for p in postings if p.bucket == "debt" and p.amount_fen > 0}):
        await events.emit(events.WALLET_IN_DEBT, user_id=uid, debt_fen=running[uid]["debt"], conn=conn)
    result = {}
    for uid, bal in wallets.items():
        run = running.get(uid)
        if run is None:
            result[uid] = bal
        else:
            result[uid] = Balances(wallet_id=bal.wallet_id, user_id=uid, version=bal.version + 1,
                                   **{b: run[b] for b in BUCKETS})
    return result


# -- rules shared by every kind of income and charge --------------------------------------

def credit_income(bal: Balances, amount: int, *, kind: EntryKind, key: str, ref_type: str, ref_id: int,
                  source_bucket: str | None = None, source_kind: EntryKind | None = None,
                  source_key: str | None = None) -> list[Posting]:
    """Money arriving in ``available``: it first pays down debt (docs/ARCHITECTURE.md, Money).

    Optionally moves it out of ``source_bucket`` (pending at settlement, withdrawing on a
    failed payout). Mutates ``bal`` so that a planner can chain several credits.
    """
    out: list[Posting] = []
    if amount <= 0:
        return out
    if source_bucket:
        out.append(Posting(bal.user_id, source_bucket, -amount, source_kind, source_key, ref_type, ref_id))
        setattr(bal, source_bucket, bal.get(source_bucket) - amount)
    repay = min(bal.debt, amount)
    if repay:
        out.append(Posting(bal.user_id, "debt", -repay, EntryKind.debt_repay, f"{key}:debt", ref_type, ref_id))
        bal.debt -= repay
    rest = amount - repay
    if rest:
        out.append(Posting(bal.user_id, "available", rest, kind, key, ref_type, ref_id))
        bal.available += rest
    return out


def charge_clawback(bal: Balances, amount: int, *, key: str, ref_type: str, ref_id: int) -> list[Posting]:
    """Take ``amount`` back after settlement: from available first, the rest becomes debt.
    Never capped, never lost (docs/ARCHITECTURE.md, Money)."""
    out: list[Posting] = []
    if amount <= 0:
        return out
    take = min(bal.available, amount)
    if take:
        out.append(Posting(bal.user_id, "available", -take, EntryKind.clawback, key, ref_type, ref_id))
        bal.available -= take
    rest = amount - take
    if rest:
        out.append(Posting(bal.user_id, "debt", rest, EntryKind.clawback_debt, f"{key}:debt", ref_type, ref_id))
        bal.debt += rest
    return out
