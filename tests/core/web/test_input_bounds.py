"""The class "text longer than a column" (and numbers past a column, lists without end) is
decided where the route is declared: every string, integer and array a client can send through
a declared body or query model has a bound in its schema, so the edge refuses it with a 422
naming the field before a service or the database sees it. A new model without bounds fails
here, naming the field. Edges read JSON only through ``core.web.http`` (screened there)."""

from __future__ import annotations

import re
from pathlib import Path

from huituan.app import create_app
from huituan.core.web.openapi import OPERATIONS_KEY

ROOT = Path(__file__).resolve().parents[3]


def _unbounded(schema: dict, defs: dict, path: str, out: list[str], seen: frozenset = frozenset()) -> None:
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        if name not in seen:
            _unbounded(defs[name], defs, path, out, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            _unbounded(sub, defs, path, out, seen)
    kind = schema.get("type")
    if kind == "string" and not ({"maxLength", "enum", "const", "pattern", "format"} & set(schema)):
        out.append(f"{path}: string without max_length")
    if kind == "integer" and not ({"maximum", "exclusiveMaximum"} & set(schema)
                                  and {"minimum", "exclusiveMinimum"} & set(schema)):
        out.append(f"{path}: integer without ge/le")
    if kind == "array":
        if "maxItems" not in schema:
            out.append(f"{path}: list without max_length")
        _unbounded(schema.get("items", {}), defs, f"{path}[]", out, seen)
    if kind == "object":
        for name, sub in schema.get("properties", {}).items():
            _unbounded(sub, defs, f"{path}.{name}", out, seen)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            if "maxProperties" not in schema:
                out.append(f"{path}: mapping without max_length")
            _unbounded(extra, defs, f"{path}.*", out, seen)
            _unbounded(schema.get("propertyNames", {"type": "string"}), defs, f"{path}.<key>", out, seen)


def test_every_client_input_is_bounded(make_settings):
    app = create_app(make_settings())
    problems: list[str] = []
    for op in app[OPERATIONS_KEY]:
        for model in (op.body, op.query):
            if model is None:
                continue
            schema = model.model_json_schema()
            _unbounded(schema, schema.get("$defs", {}), f"{op.method} {op.path} {model.__name__}", problems)
    assert not problems, "unbounded client input:\n" + "\n".join(sorted(set(problems)))


def test_edges_read_json_only_through_the_screening_layer():
    pattern = re.compile(r"\.json\(\)|json\.loads\(|\.post\(\)|int\(request\.|request\.match_info\[")
    offenders = []
    for folder in ("miniapp_api", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "parse through huituan.core.web.http (parse_json/parse_query/path_int):\n" + "\n".join(offenders)
