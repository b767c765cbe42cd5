import pytest

from huituan.services.operators import create_operator
from tests.factories import auth


async def operator_headers(client, username: str = "ops", password: str = "secret-pass-1") -> dict[str, str]:
    """Given an operator, log in through the admin API and return the Authorization header."""
    await create_operator(username, password, display_name="运营小王")
    resp = await client.post("/api/admin/v1/auth/login", json={"username": username, "password": password})
    data = await resp.json()
    assert resp.status == 200, data
    return auth(data["token"])


@pytest.fixture
async def admin(client):
    return await operator_headers(client)
