"""The API document: GET /api/v1/openapi.json (OpenAPI 3.1, built once per app) and
GET /api/v1/docs, a self-contained HTML page rendered from the same document (no CDN: the
page must work offline and inside closed networks). Neither is listed in the document."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response
from huituan.core.web.openapi import ERROR_DESCRIPTIONS, api, build_openapi

# Built lazily on the first request (every route module has run setup by then) and kept:
# the app is frozen after startup, so the cache is a dict put in place at setup time.
_CACHE_KEY = web.AppKey("openapi_cache", dict)

AUTH_LABELS = {"userToken": "小程序用户登录（Bearer token）", "operatorToken": "运营账号登录（Bearer token）"}
METHOD_ORDER = ("get", "post", "put", "patch", "delete")


def openapi_document(app: web.Application) -> dict[str, Any]:
    cache = app[_CACHE_KEY]
    if "doc" not in cache:
        cache["doc"] = build_openapi(app)
    return cache["doc"]


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(openapi_document(request.app))


async def docs_page(request: web.Request) -> web.Response:
    cache = request.app[_CACHE_KEY]
    if "html" not in cache:
        cache["html"] = render_docs(openapi_document(request.app))
    return web.Response(text=cache["html"], content_type="text/html", charset="utf-8")


def _ref_name(schema: dict[str, Any] | None) -> str | None:
    if not schema:
        return None
    ref = schema.get("$ref")
    if ref:
        return ref.rsplit("/", 1)[-1]
    return None


def _type_text(schema: dict[str, Any]) -> str:
    if not isinstance(schema, dict):
        return ""
    name = _ref_name(schema)
    if name:
        return f'<a href="#schema-{html.escape(name)}">{html.escape(name)}</a>'
    if "anyOf" in schema or "oneOf" in schema:
        parts = [_type_text(s) for s in schema.get("anyOf", schema.get("oneOf", []))]
        return " | ".join(p for p in parts if p)
    kind = schema.get("type", "")
    if kind == "array":
        return f"{_type_text(schema.get('items', {}))}[]"
    text = html.escape(str(kind or "any"))
    if "enum" in schema:
        text += " (" + ", ".join(html.escape(str(v)) for v in schema["enum"]) + ")"
    if "const" in schema:
        text += f" = {html.escape(json.dumps(schema['const'], ensure_ascii=False))}"
    limits = []
    for key, label in (("minimum", "≥"), ("maximum", "≤"), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<"),
                       ("minLength", "长度≥"), ("maxLength", "长度≤"), ("minItems", "项数≥"), ("maxItems", "项数≤")):
        if key in schema:
            limits.append(f"{label}{schema[key]}")
    if schema.get("format"):
        limits.append(html.escape(str(schema["format"])))
    if schema.get("pattern"):
        limits.append("格式 " + html.escape(str(schema["pattern"])))
    if limits:
        text += f' <span class="muted">{" ".join(html.escape(x) if "<" not in x else x for x in limits)}</span>'
    return text


_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LINK = re.compile(r"\[([^\]]+)\]\((/[^)\s]*)\)")  # same-site links only: the page loads nothing external


def _inline(text: str) -> str:
    """Escape, then `code`, **bold** and [text](/relative) links."""
    parts = _INLINE_CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
            continue
        escaped = html.escape(part)
        escaped = _BOLD.sub(r"<b>\1</b>", escaped)
        escaped = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', escaped)
        out.append(escaped)
    return "".join(out)


def _table(lines: list[str]) -> str:
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    rows = [r for r in rows if not all(re.fullmatch(r":?-{2,}:?", c) for c in r if c)]
    if not rows:
        return ""
    head, *body = rows
    out = ["<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in body]
    return "".join(out) + "</table>"


def markdown_html(text: str) -> str:
    """The Markdown our descriptions use (paragraphs, fenced code, lists, tables, `code`,
    **bold**, same-site links) as HTML. Everything else is escaped text: descriptions are ours,
    but the page never echoes raw markup."""
    out: list[str] = []
    lines = text.strip("\n").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip().startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].strip().startswith("```"):
                j += 1
            out.append("<pre><code>" + html.escape("\n".join(lines[i + 1:j])) + "</code></pre>")
            i = j + 1
            continue
        if line.strip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].strip().startswith("|"):
                j += 1
            out.append(_table(lines[i:j]))
            i = j
            continue
        if re.match(r"\s*([-*]|\d+\.)\s+", line):
            ordered = bool(re.match(r"\s*\d+\.", line))
            items: list[str] = []
            while i < len(lines) and lines[i].strip():
                m = re.match(r"\s*([-*]|\d+\.)\s+(.*)", lines[i])
                if m:
                    items.append(m.group(2))
                elif items:
                    items[-1] += " " + lines[i].strip()
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{_inline(x)}</li>" for x in items) + f"</{tag}>")
            continue
        if not line.strip():
            i += 1
            continue
        para = []
        while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(("```", "|")) \
                and not re.match(r"\s*([-*]|\d+\.)\s+", lines[i]):
            para.append(lines[i].strip())
            i += 1
        out.append("<p>" + _inline(" ".join(para)) + "</p>")
    return "\n".join(out)


def _example_html(label: str, ctype: str, example: Any) -> str:
    if example is None:
        return ""
    text = example if isinstance(example, str) else json.dumps(example, ensure_ascii=False, indent=2)
    return (f'<details class="ex" open><summary>{html.escape(label)}（{html.escape(ctype)}）</summary>'
            f"<pre><code>{html.escape(text)}</code></pre></details>")


def _operation_html(path: str, method: str, op: dict[str, Any]) -> str:
    out: list[str] = []
    anchor = html.escape(op.get("operationId", f"{method}-{path}"))
    out.append(f'<section class="op" id="{anchor}">')
    out.append(f'<h3><span class="m m-{method}">{method.upper()}</span> <code>{html.escape(path)}</code> '
               f'<span class="summary">{html.escape(op.get("summary", ""))}</span></h3>')
    if op.get("description"):
        out.append(f'<div class="md">{markdown_html(op["description"])}</div>')
    security = op.get("security") or []
    auth = "、".join(AUTH_LABELS.get(k, k) for s in security for k in s) or "无需登录"
    out.append(f'<p><b>认证：</b>{html.escape(auth)}</p>')
    params = op.get("parameters") or []
    if params:
        out.append('<table><tr><th>参数</th><th>位置</th><th>必填</th><th>类型</th><th>说明</th></tr>')
        for p in params:
            out.append(
                f'<tr><td><code>{html.escape(p["name"])}</code></td><td>{html.escape(p["in"])}</td>'
                f'<td>{"是" if p.get("required") else "否"}</td><td>{_type_text(p.get("schema", {}))}</td>'
                f'<td>{_inline(p.get("description") or p.get("schema", {}).get("description", "") or "")}</td></tr>'
            )
        out.append("</table>")
    body = op.get("requestBody")
    if body:
        for ctype, media in body.get("content", {}).items():
            out.append(f'<p><b>请求体</b>（{html.escape(ctype)}）：{_type_text(media.get("schema", {}))}</p>')
            if ctype == "multipart/form-data":
                fields = media.get("schema", {}).get("properties", {})
                out.append("<ul>" + "".join(f"<li><code>{html.escape(n)}</code>：{html.escape(f.get('description', ''))}</li>"
                                            for n, f in fields.items()) + "</ul>")
            out.append(_example_html("请求示例", ctype, media.get("example")))
    out.append('<table><tr><th>状态码</th><th>说明</th><th>响应</th></tr>')
    for status, resp in sorted(op.get("responses", {}).items()):
        content = resp.get("content") or {}
        shape = "；".join(f'{html.escape(ct)}：{_type_text(m.get("schema", {}))}' for ct, m in content.items()) or "—"
        desc = resp.get("description") or ERROR_DESCRIPTIONS.get(int(status), "") if status.isdigit() else ""
        cls = "ok" if status.startswith("2") else "err"
        out.append(f'<tr><td class="{cls}">{html.escape(status)}</td><td>{html.escape(desc or "")}</td><td>{shape}</td></tr>')
    out.append("</table>")
    for status, resp in sorted(op.get("responses", {}).items()):
        for ctype, media in (resp.get("content") or {}).items():
            if status.startswith("2") and "example" in media:
                out.append(_example_html(f"响应示例 {status}", ctype, media["example"]))
    out.append("</section>")
    return "\n".join(out)


def _schema_html(name: str, schema: dict[str, Any]) -> str:
    out = [f'<section class="schema" id="schema-{html.escape(name)}"><h3>{html.escape(name)}</h3>']
    if schema.get("description"):
        out.append(f'<div class="md">{markdown_html(schema["description"])}</div>')
    props = schema.get("properties")
    if props:
        required = set(schema.get("required", []))
        out.append('<table><tr><th>字段</th><th>必填</th><th>类型</th><th>说明</th></tr>')
        for field, sub in props.items():
            desc = sub.get("description", "") if isinstance(sub, dict) else ""
            title = sub.get("title", "") if isinstance(sub, dict) else ""
            out.append(f'<tr><td><code>{html.escape(field)}</code></td><td>{"是" if field in required else "否"}</td>'
                       f'<td>{_type_text(sub)}</td><td>{_inline(desc or title)}</td></tr>')
        out.append("</table>")
    else:
        out.append(f"<p>{_type_text(schema)}</p>")
    out.append("</section>")
    return "\n".join(out)


CSS = """
body{font-family:-apple-system,"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:0;color:#1f2328;line-height:1.5}
header{background:#07c160;color:#fff;padding:16px 24px}header h1{margin:0;font-size:22px}
main{display:flex}nav{width:260px;flex-shrink:0;padding:16px;border-right:1px solid #ddd;position:sticky;top:0;height:100vh;overflow:auto;font-size:13px}
nav a{color:#1f2328;text-decoration:none;display:block;padding:1px 0}nav h4{margin:12px 0 4px}
.content{padding:16px 24px;max-width:1100px}.op,.schema{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;margin:12px 0}
h2{border-bottom:2px solid #07c160;padding-bottom:4px;margin-top:28px}h3{font-size:16px;margin:6px 0}
.m{display:inline-block;min-width:56px;text-align:center;border-radius:4px;color:#fff;font-size:12px;padding:2px 4px}
.m-get{background:#0969da}.m-post{background:#1a7f37}.m-put,.m-patch{background:#9a6700}.m-delete{background:#cf222e}
table{border-collapse:collapse;margin:6px 0;font-size:13px}td,th{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px;border-radius:4px}
.ex summary{cursor:pointer;color:#0969da;font-size:13px}.md p{margin:6px 0}.md table{font-size:12px}.muted{color:#656d76;font-size:12px}.ok{color:#1a7f37}.err{color:#cf222e}code{background:#f6f8fa;padding:0 3px}
"""


def render_docs(doc: dict[str, Any]) -> str:
    info = doc.get("info", {})
    groups: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in doc.get("paths", {}).items():
        for method in METHOD_ORDER:
            if method in item:
                op = item[method]
                tag = (op.get("tags") or ["其他"])[0]
                groups.setdefault(tag, []).append((path, method, op))
    nav: list[str] = []
    body: list[str] = []
    for tag in groups:
        ops = groups[tag]
        nav.append(f'<h4><a href="#tag-{html.escape(tag)}">{html.escape(tag)}</a></h4>')
        body.append(f'<h2 id="tag-{html.escape(tag)}">{html.escape(tag)}</h2>')
        for path, method, op in ops:
            anchor = html.escape(op.get("operationId", ""))
            nav.append(f'<a href="#{anchor}">{method.upper()} {html.escape(path)}</a>')
            body.append(_operation_html(path, method, op))
    schemas = doc.get("components", {}).get("schemas", {})
    if schemas:
        nav.append('<h4><a href="#schemas">数据结构</a></h4>')
        body.append('<h2 id="schemas">数据结构</h2>')
        for name in sorted(schemas):
            body.append(_schema_html(name, schemas[name]))
    title = html.escape(info.get("title", "API"))
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title} 文档</title>'
        f"<style>{CSS}</style></head><body>"
        f'<header><h1>{title} <small>v{html.escape(info.get("version", ""))}</small></h1>'
        f'<div>{html.escape(info.get("description", ""))} 机器可读版本：<a style="color:#fff" href="/api/v1/openapi.json">/api/v1/openapi.json</a></div></header>'
        f'<main><nav>{"".join(nav)}</nav><div class="content">{"".join(body) or "<p>暂无接口</p>"}</div></main>'
        "</body></html>"
    )


def setup(app: web.Application) -> None:
    app[_CACHE_KEY] = {}
    # Left out of the document: it does not describe itself.
    api(app, "GET", "/api/v1/openapi.json", openapi_json, summary="OpenAPI 文档", tag="docs", auth=Auth.public, public=False)
    api(app, "GET", "/api/v1/docs", docs_page, summary="接口文档页面", tag="docs", auth=Auth.public, public=False)
