"""A JSON value is taken for what it is, on every operation (a walk over the OpenAPI document):
``true``, ``1.0`` and ``"1"`` are not an integer and ``1`` is not a boolean in a body; ``1.0``,
`` 1``, ``+1`` and ``1_0`` are not an integer in a query string, and a query parameter given
twice is refused. Each is a 422 naming the field. Pydantic's lax mode took all of them (the
attacker pass of session 4 found ``quantity: true`` claiming one unit)."""

from __future__ import annotations

import json
import re

from huituan.core.web.openapi import OPERATIONS_KEY
from huituan.services.operators import create_operator
from tests.factories import auth, make_user, token_for

NOT_AN_INT = (True, 1.0, "1")
NOT_A_BOOL = (1, "true")
NOT_A_QUERY_INT = ("1.0", " 1", "+1", "1_0", "1e0")


async def _tokens(client) -> dict[str, dict[str, str]]:
    user = await make_user()
    await create_operator("types-ops", "types-pass-1")
    login = await client.post("/api/admin/v1/auth/login", json={"username": "types-ops", "password": "types-pass-1"})
    return {"userToken": auth(token_for(user)), "operatorToken": auth((await login.json())["token"])}


def _headers(spec: dict, tokens: dict) -> dict[str, str]:
    headers: dict[str, str] = {}
    for scheme in spec.get("security", []):
        for name in scheme:
            headers.update(tokens[name])
    for param in spec["parameters"]:
        if param["in"] == "header":
            headers[param["name"]] = "json-types-walk"
    return headers


def _path(template: str, spec: dict) -> str:
    """The path with each parameter filled: its documented example or first enum value, else 1."""
    for param in spec["parameters"]:
        if param["in"] == "path":
            schema = param.get("schema", {})
            value = param.get("example", schema.get("example", (schema.get("enum") or [1])[0]))
            template = template.replace("{" + param["name"] + "}", str(value))
    return re.sub(r"\{[^}]+\}", "1", template)


def _names(answer: dict) -> set[str]:
    details = answer.get("details", {})
    return {details.get("field")} | {e.get("field") for e in details.get("errors", ())}


async def test_a_body_value_of_the_wrong_json_type_is_a_422_naming_it(client):
    doc = (await (await client.get("/api/v1/openapi.json")).json())["paths"]
    tokens = await _tokens(client)
    tried: dict[str, int] = {"int": 0, "bool": 0}
    for op in client.server.app[OPERATIONS_KEY]:
        if not op.public or op.body is None:
            continue
        spec = doc[op.path][op.method.lower()]
        if any(p["name"].startswith("Wechatpay-") for p in spec["parameters"]):
            continue  # signed callbacks: their body is WeChat's, checked by signature first
        example = spec["requestBody"]["content"]["application/json"]["example"]
        if not isinstance(example, dict):
            continue
        path = _path(op.path, spec)
        props = op.body.model_json_schema().get("properties", {})
        for name, prop in props.items():
            types = {prop.get("type")} | {alt.get("type") for alt in prop.get("anyOf", ())}
            if "integer" in types:
                kind, wrong_values = "int", NOT_AN_INT
            elif "boolean" in types:
                kind, wrong_values = "bool", NOT_A_BOOL
            else:
                continue
            for wrong in wrong_values:
                body = {**example, name: wrong}
                resp = await client.request(op.method, path, headers=_headers(spec, tokens), data=json.dumps(body))
                answer = await resp.json()
                assert resp.status == 422 and name in _names(answer), (op.method, op.path, name, wrong, resp.status, answer)
                tried[kind] += 1
    assert tried["int"] >= 300 and tried["bool"] >= 50, tried  # the walk reached most of the API


async def test_a_query_integer_is_ascii_digits_and_a_parameter_comes_once(client):
    doc = (await (await client.get("/api/v1/openapi.json")).json())["paths"]
    tokens = await _tokens(client)
    tried = repeated = 0
    for path_template, item in doc.items():
        for method, spec in item.items():
            ints = [p["name"] for p in spec["parameters"] if p["in"] == "query"
                    and "integer" in {p["schema"].get("type")} | {s.get("type") for s in p["schema"].get("anyOf", ())}]
            path = _path(path_template, spec)
            for name in ints:
                for wrong in NOT_A_QUERY_INT:
                    resp = await client.request(method, path, headers=_headers(spec, tokens), params={name: wrong})
                    answer = await resp.json()
                    assert resp.status == 422 and name in _names(answer), (method, path_template, name, wrong, answer)
                    tried += 1
                resp = await client.request(method, path, headers=_headers(spec, tokens), params=[(name, "1"), (name, "1")])
                answer = await resp.json()
                assert resp.status == 422 and answer["details"]["field"] == name, (method, path_template, name, answer)
                assert answer["error"] == "duplicate_parameter"
                repeated += 1
    assert tried >= 250 and repeated >= 50, (tried, repeated)


NOT_A_TIME = ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1", "1700000000", "-1",
              "1999-12-31T23:59:59+00:00", "2100-01-01T00:00:00+00:00")


def _is_time(schema: dict) -> bool:
    alternatives = [schema, *schema.get("anyOf", ())]
    return any(alt.get("format") == "date-time" for alt in alternatives)


async def test_a_time_outside_what_the_service_holds_is_a_422_naming_it(client):
    """Every time a request carries (body or query): a valid ISO text whose UTC instant does
    not exist (year 9999 at -14:00) was a 500 deep in a service; a Unix number was read as
    1970. Both, and years outside 2000..2099, are a 422 naming the field."""
    doc = (await (await client.get("/api/v1/openapi.json")).json())["paths"]
    tokens = await _tokens(client)
    tried: dict[str, int] = {"body": 0, "query": 0}
    for op in client.server.app[OPERATIONS_KEY]:
        if not op.public:
            continue
        spec = doc[op.path][op.method.lower()]
        if any(p["name"].startswith("Wechatpay-") for p in spec["parameters"]):
            continue
        path = _path(op.path, spec)
        if op.body is not None:
            example = spec["requestBody"]["content"]["application/json"]["example"]
            if isinstance(example, dict):
                for name, prop in op.body.model_json_schema().get("properties", {}).items():
                    if not _is_time(prop):
                        continue
                    for wrong in NOT_A_TIME:
                        resp = await client.request(op.method, path, headers=_headers(spec, tokens),
                                                    data=json.dumps({**example, name: wrong}))
                        answer = await resp.json()
                        assert resp.status == 422 and name in _names(answer), (op.path, name, wrong, answer)
                        tried["body"] += 1
        for param in spec["parameters"]:
            if param["in"] == "query" and _is_time(param["schema"]):
                for wrong in NOT_A_TIME:
                    resp = await client.request(op.method, path, headers=_headers(spec, tokens),
                                                params={param["name"]: wrong})
                    answer = await resp.json()
                    assert resp.status == 422 and param["name"] in _names(answer), (op.path, param["name"], wrong, answer)
                    tried["query"] += 1
    assert tried["body"] >= 12 * len(NOT_A_TIME) and tried["query"] >= 8 * len(NOT_A_TIME), tried  # every time field


async def test_an_unknown_body_field_is_a_422_naming_it(client):
    """A misspelt field (``adress_id``) silently ignored is a request that does something else
    than meant: every JSON body refuses what it does not know, naming it (attacker pass,
    session 7: the admin bodies did, the mini-program's did not)."""
    doc = (await (await client.get("/api/v1/openapi.json")).json())["paths"]
    tokens = await _tokens(client)
    tried = 0
    for op in client.server.app[OPERATIONS_KEY]:
        if not op.public or op.body is None:
            continue
        spec = doc[op.path][op.method.lower()]
        if any(p["name"].startswith("Wechatpay-") for p in spec["parameters"]):
            continue  # WeChat's own bodies: new fields appear without notice and are ignored
        example = spec["requestBody"]["content"]["application/json"]["example"]
        if not isinstance(example, dict):
            continue
        resp = await client.request(op.method, _path(op.path, spec),
                                    headers=_headers(spec, tokens) | {"Content-Type": "application/json"},
                                    data=json.dumps({**example, "unexpected_field": 1}))
        answer = await resp.json()
        assert resp.status == 422 and "unexpected_field" in _names(answer), (op.method, op.path, resp.status, answer)
        tried += 1
    assert tried >= 60, tried


BAD_KEYS = (None, "", "k" * 65, "a\tb")


async def test_every_keyed_operation_names_the_idempotency_header_when_the_key_is_bad(client):
    """Every operation that requires an Idempotency-Key refuses a missing, empty, over-long or
    unprintable one with a 4xx naming ``headers.Idempotency-Key``, as the edge names every other
    header it refuses (the services named it without the prefix)."""
    doc = (await (await client.get("/api/v1/openapi.json")).json())["paths"]
    tokens = await _tokens(client)
    walked = 0
    for op in client.server.app[OPERATIONS_KEY]:
        if not op.public or "Idempotency-Key" not in op.headers:
            continue
        spec = doc[op.path][op.method.lower()]
        example = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example", {})
        for bad in BAD_KEYS:
            headers = _headers(spec, tokens)
            headers.pop("Idempotency-Key")
            if bad is not None:
                headers["Idempotency-Key"] = bad
            resp = await client.request(op.method, _path(op.path, spec), headers=headers, json=example)
            answer = await resp.json()
            assert 400 <= resp.status < 500, (op.method, op.path, bad, resp.status, answer)
            assert "headers.Idempotency-Key" in _names(answer), (op.method, op.path, bad, answer)
        walked += 1
    assert walked >= 6  # orders, withdrawals, group open and join, bargain purchase, flash claim
