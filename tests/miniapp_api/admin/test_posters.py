"""Admin poster templates: list, add (a bad one refused naming the field as a JSON pointer),
preview, switch; the switched template gives a new poster (its version is in the cache key)."""

from __future__ import annotations

import copy
import io

import pytest
from PIL import Image

from huituan.posters.templates import builtin_templates
from tests.factories import auth, make_product, make_user, token_for
from tests.miniapp_api.poster_helpers import decode_poster, share_code_of

T = "/api/admin/v1/poster-templates"


@pytest.fixture
def settings(make_settings):
    return make_settings(poster_render_mode="thread", poster_request_cache_seconds=30)


async def test_list_add_preview_switch(client, admin):
    data = await (await client.get(T, headers=admin)).json()
    assert {"classic", "fresh", "festive"} <= {t["key"] for t in data["items"]}
    assert data["current"]["product"] == "classic"

    spec = copy.deepcopy(builtin_templates()["fresh"])
    spec["name"] = "夜间黑"
    spec["background"]["color"] = "#101010"
    bad = copy.deepcopy(spec)
    bad["layers"][6]["max_lines"] = 0
    resp = await client.post(T, headers=admin, json={"key": "night", "spec": bad})
    err = await resp.json()
    assert resp.status == 422 and err["details"]["field"] == "/layers/6/max_lines", err
    resp = await client.post(T, headers=admin, json={"key": "classic", "spec": spec})
    assert resp.status == 409
    resp = await client.post(T, headers=admin, json={"key": "night", "spec": spec})
    added = await resp.json()
    assert resp.status == 201, added

    resp = await client.post(f"{T}/preview", headers=admin, json={"kind": "product", "spec": spec})
    assert resp.status == 200 and resp.content_type == "image/png"
    preview = await resp.read()
    assert Image.open(io.BytesIO(preview)).getpixel((5, 1190))[:3] == (16, 16, 16)
    assert share_code_of(decode_poster(preview)) == "SAMPLE00"
    resp = await client.post(f"{T}/preview", headers=admin, json={"kind": "product", "spec": bad})
    assert resp.status == 422 and (await resp.json())["details"]["field"] == "/layers/6/max_lines"
    # A template the preview names by key that does not exist: the body's field is "key".
    resp = await client.post(f"{T}/preview", headers=admin, json={"kind": "product", "key": "nope"})
    assert resp.status == 404 and (await resp.json())["details"]["field"] == "key"

    sharer = await make_user()
    product = await make_product()
    url = f"/api/v1/posters/product?target={product.id}"
    before = await client.get(url, headers=auth(token_for(sharer)))
    assert before.content_type == "image/jpeg"
    resp = await client.put(f"{T}/current", headers=admin, json={"kind": "product", "key": "night"})
    assert resp.status == 200, await resp.text()
    after = await client.get(url, headers=auth(token_for(sharer)))
    assert after.content_type == "image/png" and after.headers["ETag"] != before.headers["ETag"]
    # A new version of the template: a new poster again.
    spec["background"]["color"] = "#202020"
    assert (await client.post(T, headers=admin, json={"key": "night", "spec": spec})).status == 201
    again = await client.get(url, headers=auth(token_for(sharer)))
    assert again.headers["ETag"] not in (before.headers["ETag"], after.headers["ETag"])
    resp = await client.put(f"{T}/current", headers=admin, json={"kind": "product", "key": "missing"})
    assert resp.status == 404 and (await resp.json())["details"]["field"] == "key"
