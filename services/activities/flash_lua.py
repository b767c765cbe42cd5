"""The flash-sale Redis scripts. Every key of one session carries the hash tag ``{fs:<id>}``
so a script touches one Redis Cluster slot and runs unchanged on a cluster (and on
``memory://``: fakeredis runs the same Lua)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def keys(session_id: int) -> dict[str, str]:
    tag = f"{{fs:{session_id}}}"
    return {"meta": f"{tag}:meta", "stock": f"{tag}:stock", "limit": f"{tag}:limit", "pending": f"{tag}:pending",
            "tag": tag}


def users_key(session_id: int, item_id: int) -> str:
    return f"{{fs:{session_id}}}:u:{item_id}"


def request_key(session_id: int, user_id: int, request_id: str) -> str:
    return f"{{fs:{session_id}}}:r:{user_id}:{request_id}"


def pending_field(user_id: int, request_id: str) -> str:
    """A won claim's field in the session's ``pending`` hash until its order exists."""
    return f"{user_id}:{request_id}"


def ordered_key(session_id: int, user_id: int, request_id: str) -> str:
    """A queued claim's new order as the poll shows it (a snapshot kept 30 s: the polls
    of a burst are answered from Redis, not from the database the line is writing to)."""
    return f"{{fs:{session_id}}}:o:{user_id}:{request_id}"


def failure_key(session_id: int, user_id: int, request_id: str) -> str:
    """Why a won claim got no order (kept an hour for the mini-program's poll)."""
    return f"{{fs:{session_id}}}:f:{user_id}:{request_id}"


@dataclass(frozen=True)
class PendingClaim:
    """A won claim whose order is not written yet, as ``CLAIM`` records it in the session's
    pending hash (field: ``pending_field``; value: ``payload()``)."""

    session_id: int
    item_id: int
    user_id: int
    quantity: int
    request_id: str
    delivery_mode: str
    address_id: int | None
    pickup_point_id: int | None
    remark: str
    claimed_at: float  # epoch seconds

    def payload(self) -> str:
        # Built for every claim that reaches the script: a plain join, not JSON (a burst's
        # first second builds thousands). The remark goes last: it may hold the separator.
        return (f"{self.item_id}|{self.quantity}|{self.delivery_mode}|{_opt(self.address_id)}|"
                f"{_opt(self.pickup_point_id)}|{self.claimed_at}|{self.remark}")

    @classmethod
    def from_pending(cls, session_id: int, field: str, payload: str) -> PendingClaim:
        user, _, request_id = field.partition(":")
        item_id, quantity, mode, address_id, pickup_point_id, at, remark = payload.split("|", 6)
        return cls(session_id, int(item_id), int(user), int(quantity), request_id, mode,
                   int(address_id) if address_id else None, int(pickup_point_id) if pickup_point_id else None,
                   remark, float(at))


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


REQUEST_TTL_SECONDS = 24 * 3600  # how long a claim's Idempotency-Key is remembered in Redis


def claim_call(claim: PendingClaim) -> tuple[list[str], list[Any]]:
    """``CLAIM``'s keys and arguments for this claim (it records ``claim`` as pending if won)."""
    k = keys(claim.session_id)
    return ([k["meta"], k["stock"], k["limit"], users_key(claim.session_id, claim.item_id),
             request_key(claim.session_id, claim.user_id, claim.request_id), k["pending"]],
            [claim.item_id, claim.user_id, claim.quantity, int(claim.claimed_at), REQUEST_TTL_SECONDS,
             pending_field(claim.user_id, claim.request_id), claim.payload()])


# KEYS: meta, stock, limit, users(item), request, pending
# ARGV: item, user, qty, now (epoch s), request ttl, pending field, pending payload (JSON)
# A won claim is written to the session's pending hash in the same step: until its order exists
# it is there, so a process that dies before writing the order leaves it for recovery. The item
# is looked up before the session's window: an item not in the session is a 404 at any time,
# not "not started".
# Returns {1, left} claimed | {0} duplicate request | {-1} not loaded | {-2, left} sold out |
# {-3, have, limit} over the per-user limit | {-5} stopped | {-6} not started | {-7} ended
CLAIM = """
if redis.call('EXISTS', KEYS[5]) == 1 then return {0} end
local meta = redis.call('HMGET', KEYS[1], 'starts', 'ends', 'active')
if not meta[1] then return {-1} end
local left = redis.call('HGET', KEYS[2], ARGV[1])
if not left then return {-1} end
left = tonumber(left)
if meta[3] ~= '1' then return {-5} end
local now = tonumber(ARGV[4])
if now < tonumber(meta[1]) then return {-6} end
if now >= tonumber(meta[2]) then return {-7} end
local qty = tonumber(ARGV[3])
local limit = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
local have = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0')
if have + qty > limit then return {-3, have, limit} end
if left < qty then return {-2, left} end
redis.call('HINCRBY', KEYS[2], ARGV[1], -qty)
redis.call('HINCRBY', KEYS[4], ARGV[2], qty)
redis.call('SET', KEYS[5], '1', 'EX', tonumber(ARGV[5]))
redis.call('HSET', KEYS[6], ARGV[6], ARGV[7])
return {1, left - qty}
"""

# KEYS: stock, users(item), request, pending
# ARGV: item, user, qty, restore_stock (1|0), forget_request (1|0), pending field ('' = none)
# Gives a claim's units back (stock only when the item is loaded: a missing key is reloaded
# from the database, which already counts them) and the user's count; a claim that never got
# its order leaves the pending hash in the same step.
RELEASE = """
local qty = tonumber(ARGV[3])
if ARGV[4] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], ARGV[1], qty)
end
local c = redis.call('HINCRBY', KEYS[2], ARGV[2], -qty)
if c <= 0 then redis.call('HDEL', KEYS[2], ARGV[2]) end
if ARGV[5] == '1' then redis.call('DEL', KEYS[3]) end
if ARGV[6] ~= '' then redis.call('HDEL', KEYS[4], ARGV[6]) end
return 1
"""

# KEYS: meta, stock, limit   ARGV: starts, ends, active, then (item, left, limit) triples
# Meta and limits are (re)written; stock only where missing (a live count is never overwritten).
LOAD = """
redis.call('HSET', KEYS[1], 'starts', ARGV[1], 'ends', ARGV[2], 'active', ARGV[3])
local n = 0
for i = 4, #ARGV, 3 do
  n = n + redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 2])
end
return n
"""

# KEYS: users(item)   ARGV: (user, count) pairs. Per-user counts where missing.
LOAD_USERS = """
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""

# KEYS: stock   ARGV: item, expected ('' = missing), value. Compare-and-set of one stock count.
REPAIR = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""
