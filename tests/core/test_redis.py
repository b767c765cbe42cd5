"""core.redis: commands are packed by hiredis in C, byte for byte as redis-py packs them, and
anything else (booleans, enums, None) still goes through redis-py, errors included."""

from __future__ import annotations

import enum
import math

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from huituan.core.redis import _with_c_packer, create_redis

ARG = st.one_of(
    st.text(), st.binary(), st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False), st.sampled_from([math.inf, -math.inf, 0.0, -0.0, 1e-300, 1.5e300]),
)
COMMAND = st.sampled_from(["EVALSHA", "HGET", "CONFIG GET", b"SET", b"CLIENT SETNAME", "hmget"])


@settings(max_examples=400, deadline=None)
@given(command=COMMAND, args=st.lists(ARG, max_size=20), poisoned=st.sampled_from([False] * 9 + [True]))
def test_c_packing_is_byte_for_byte_redis_py(command, args, poisoned):
    ours, theirs = _with_c_packer(Connection)(), Connection()
    if poisoned:
        args = [*args, "a\ud800"]  # a lone surrogate is not UTF-8
    try:
        expected = b"".join(theirs.pack_command(command, *args))
    except UnicodeEncodeError:  # a lone surrogate: both refuse it
        event("refused: not UTF-8")
        with pytest.raises(UnicodeEncodeError):
            ours.pack_command(command, *args)
        return
    event("multi-word command" if b" " in (command if isinstance(command, bytes) else command.encode()) else "one word")
    event(f"arguments: {min(len(args), 3)}+" if len(args) >= 3 else f"arguments: {len(args)}")
    assert b"".join(ours.pack_command(command, *args)) == expected


class Colour(enum.IntEnum):
    red = 1


def test_other_arguments_go_through_redis_py_and_its_errors():
    ours = _with_c_packer(Connection)()
    for bad in (True, None, [1]):
        with pytest.raises(DataError):
            ours.pack_command("SET", "k", bad)
    assert ours.pack_command("SET", "k", Colour.red) == Connection().pack_command("SET", "k", Colour.red)


def test_every_connection_kind_and_the_pool_get_the_packer():
    for kind in (Connection, SSLConnection, UnixDomainSocketConnection):
        packed = _with_c_packer(kind)
        assert issubclass(packed, kind) and packed.pack_command is not kind.pack_command
        assert _with_c_packer(kind) is packed  # made once
    client = create_redis("redis://127.0.0.1:1/0")
    assert client.connection_pool.connection_class.pack_command is not Connection.pack_command
    assert create_redis("unix:///tmp/none.sock").connection_pool.connection_class.__mro__[1] is UnixDomainSocketConnection
