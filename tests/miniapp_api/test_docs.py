"""The API document and its offline docs page."""

from __future__ import annotations

import re


async def test_openapi_document_is_served_and_cached(client):
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    assert "ErrorOut" in doc["components"]["schemas"]
    # neither the document nor the docs page, the bot or metrics describe themselves
    assert "/api/v1/openapi.json" not in doc["paths"] and "/api/v1/docs" not in doc["paths"]
    assert not any(p.startswith(("/bot", "/sandbox", "/metrics")) for p in doc["paths"])
    again = await (await client.get("/api/v1/openapi.json")).json()
    assert again == doc


async def test_docs_page_is_self_contained_and_lists_every_operation(client):
    doc = await (await client.get("/api/v1/openapi.json")).json()
    resp = await client.get("/api/v1/docs")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    page = await resp.text()
    # then no external resource is loaded (there is no internet where this runs)
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script" not in page
    # and every operation appears with its method, path and summary, grouped by tag
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert f">{method.upper()}</span> <code>{path}</code>" in page.replace("&#x27;", "'")
            assert op["summary"].replace("&", "&amp;").replace("<", "&lt;") in page
            assert f'id="tag-{op["tags"][0]}"' in page
            if op.get("security"):
                assert "登录（Bearer token）" in page
    assert "数据结构" in page and 'id="schema-ErrorOut"' in page
