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


async def test_docs_page_renders_markdown_examples_and_the_import_template_link(client):
    page = await (await client.get("/api/v1/docs")).text()
    text_only = re.sub(r"<pre>.*?</pre>", "", page, flags=re.S)  # examples may hold anything
    assert "**" not in text_only and "```" not in text_only
    assert "<b>已有 SKU 只更新该行提供的字段</b>" in page  # bold from the import description
    assert "<th>中文表头</th>" in page  # its Markdown table
    assert 'href="/api/admin/v1/products/import-template"' in page
    assert page.count("请求示例") >= 20 and page.count("响应示例") >= 50
    assert "202405010430014821937560" in page  # examples use the real order-number shape
    resp = await client.get("/api/admin/v1/products/import-template")
    assert resp.status == 200
