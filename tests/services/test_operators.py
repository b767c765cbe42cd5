import pytest

from huituan.core.errors import Conflict, RateLimited, Unauthorized, ValidationFailed
from huituan.core.tokens import read_token
from huituan.models.user import Operator
from huituan.services.operators import authenticate_operator, create_operator, login_operator, verify_password


async def test_password_is_stored_as_salted_scrypt(rt):
    a = await create_operator("ann", "password-1")
    b = await create_operator("ben", "password-1")
    assert a.password_hash.startswith("scrypt$16384$8$1$")
    assert a.password_hash != b.password_hash  # random salt
    assert verify_password("password-1", a.password_hash)
    assert not verify_password("password-2", a.password_hash)
    assert a.display_name == "ann"


async def test_duplicate_username_and_short_password(rt):
    await create_operator("ann", "password-1")
    with pytest.raises(Conflict) as exc:
        await create_operator("ann", "password-2")
    assert exc.value.code == "operator_exists"
    with pytest.raises(ValidationFailed) as exc:
        await create_operator("cat", "short")
    assert exc.value.details["field"] == "password"
    assert await Operator.all().count() == 1


async def test_authenticate_and_token(rt):
    op = await create_operator("ann", "password-1", wecom_userid="AnnW")
    assert (await authenticate_operator(rt, "ann", "password-1")).id == op.id
    out = await login_operator(rt, "ann", "password-1")
    claims = read_token(rt.settings.secret_key, out["token"])
    assert claims.role == "operator" and claims.subject_id == op.id
    assert out["operator"]["wecom_userid"] == "AnnW"


async def test_throttle_counts_per_username_in_redis(rt):
    await create_operator("ann", "password-1")
    for _ in range(5):
        with pytest.raises(Unauthorized):
            await authenticate_operator(rt, "ann", "wrong-password")
    with pytest.raises(RateLimited):
        await authenticate_operator(rt, "ann", "password-1")
    ttl = await rt.redis.ttl("admin:login_attempts:user:ann")
    assert 0 < ttl <= 300
    await rt.redis.delete("admin:login_attempts:user:ann")  # the window passed
    assert (await authenticate_operator(rt, "ann", "password-1")).username == "ann"
