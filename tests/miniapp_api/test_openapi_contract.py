"""The OpenAPI document matches the server: required headers are the ones the server refuses a
request without (a walk over the document), every operation has an example request and
response that the server's own models accept, every field and parameter is described in
Chinese, objects are typed, and the import lists its CSV and multipart bodies."""

from __future__ import annotations

import json
import re

from huituan.core.web.openapi import OPERATIONS_KEY
from huituan.services.operators import create_operator
from tests.factories import auth, make_address, make_product, make_user, token_for

CJK = re.compile(r"[\u4e00-\u9fff]")


async def _doc(client) -> dict:
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200
    return await resp.json()


def _public_ops(client):
    return [op for op in client.server.app[OPERATIONS_KEY] if op.public]


async def test_required_headers_in_the_document_are_what_the_server_requires(client):
    doc = await _doc(client)
    # Ids 1 exist so that the document's own examples are valid requests.
    user = await make_user()
    await make_product(skus=[{"price_fen": 2990, "stock": 50}])
    await make_address(user)
    await create_operator("ops", "secret-pass-1", display_name="运营")
    login = await client.post("/api/admin/v1/auth/login", json={"username": "ops", "password": "secret-pass-1"})
    tokens = {"userToken": auth(token_for(user)), "operatorToken": auth((await login.json())["token"])}
    walked = required_seen = 0
    ok_statuses: set[int] = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            headers = [p for p in op["parameters"] if p["in"] == "header"]
            if not headers:
                continue
            assert "{" not in path, "walk only knows operations without path ids"
            if all(h["name"].startswith("Wechatpay-") for h in headers):
                walked, required_seen = await _walk_signed_callback(client, path, headers, walked, required_seen)
                continue
            base = {}
            for scheme in op.get("security", []):
                for name in scheme:
                    base.update(tokens[name])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("example")
            for header in headers:
                walked += 1
                value = "contract-walk-" + header["name"].lower()
                others = {h["name"]: f"{value}-other" for h in headers if h is not header}
                without = await client.request(method, path, headers={**base, **others}, json=body)
                answer = await without.json()
                # A header is named as the edge names every header it refuses: headers.<Name>.
                field = "headers." + header["name"]
                named = answer.get("details", {}).get("field") == field
                if header["required"]:
                    required_seen += 1
                    assert without.status == 422 and named, (method, path, header["name"], answer)
                else:
                    assert not named, (method, path, header["name"], answer)
                with_it = await client.request(method, path, headers={**base, **others, header["name"]: value}, json=body)
                answer = await with_it.json()
                # With the header the answer is about something else (or a success), never the header.
                assert answer.get("details", {}).get("field") != field, (method, path, answer)
                ok_statuses.add(with_it.status)
    assert walked >= 14 and required_seen >= 14  # 2 Idempotency-Keys and the 3 x 4 signature headers
    assert 201 in ok_statuses  # the order example really created an order with its key


NOTIFY_EVENTS = {
    "/api/v1/pay/notify": ("TRANSACTION.SUCCESS", {"out_trade_no": "202405010430014821937560", "trade_state": "SUCCESS",
                                                   "transaction_id": "4200002024050112345678901234",
                                                   "amount": {"total": 1, "payer_total": 1}}),
    "/api/v1/pay/refund-notify": ("REFUND.SUCCESS", {"out_refund_no": "R202405010512302264018375",
                                                     "refund_status": "SUCCESS"}),
    "/api/v1/pay/transfer-notify": ("MCHTRANSFER.BILL.FINISHED", {"out_bill_no": "W202405020800005531029384",
                                                                   "state": "SUCCESS"}),
}


async def _walk_signed_callback(client, path, headers, walked, required_seen):
    """A WeChat Pay callback: a correctly signed notify is accepted; without any one of the
    signature headers the document calls required, the server refuses it (401)."""
    from huituan.core.sandbox.notify import build_signed_notify

    event, resource = NOTIFY_EVENTS[path]
    for header in headers:
        walked += 1
        signed, body = build_signed_notify(resource, event)
        assert header["name"] in signed
        without = await client.post(path, headers={k: v for k, v in signed.items() if k != header["name"]}, data=body)
        if header["required"]:
            required_seen += 1
            assert without.status == 401, (path, header["name"], await without.text())
        signed, body = build_signed_notify(resource, event)
        with_all = await client.post(path, headers=signed, data=body)
        # Signature accepted (an unknown bill number is the handler's business, not the headers').
        assert with_all.status != 401, (path, await with_all.text())
    return walked, required_seen


async def test_every_operation_has_examples_the_models_accept(client):
    doc = await _doc(client)
    ops = _public_ops(client)
    assert len(ops) > 50
    for op in ops:
        spec = doc["paths"][op.path][op.method.lower()]
        if op.body is not None:
            example = spec["requestBody"]["content"]["application/json"]["example"]
            op.body.model_validate_json(json.dumps(example), strict=True)  # as parse_json reads it
        success = spec["responses"][str(op.status)]
        if op.response is not None:
            op.response.model_validate(success["content"][op.response_content_type]["example"])
        else:
            assert "example" in next(iter(success.get("content", {}).values()), {"example": None}), op.path
    order = doc["paths"]["/api/v1/orders"]["post"]
    example = order["responses"]["201"]["content"]["application/json"]["example"]
    assert re.fullmatch(r"\d{24}", example["order_no"])  # the real order-number shape


async def test_every_field_and_parameter_is_described_in_chinese_and_objects_are_typed(client):
    doc = await _doc(client)
    for name, schema in doc["components"]["schemas"].items():
        for field, prop in (schema.get("properties") or {}).items():
            assert CJK.search(prop.get("description", "")), f"{name}.{field} has no Chinese description"
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for param in op["parameters"]:
                assert CJK.search(param.get("description", "")), f"{method} {path} {param['name']}"
    schemas = doc["components"]["schemas"]
    assert schemas["PaymentParamsOut"]["properties"]["payment"]["$ref"].endswith("/WxPaymentOut")
    assert "paySign" in schemas["WxPaymentOut"]["properties"]
    address = schemas["MyOrderOut"]["properties"]["address"]
    assert any(v.get("$ref", "").endswith("/AddressSnapshotOut") for v in address["anyOf"])
    assert schemas["RefundOut"]["properties"]["items"]["items"]["$ref"].endswith("/RefundLineOut")


async def test_import_lists_json_csv_and_multipart_bodies(client):
    doc = await _doc(client)
    content = doc["paths"]["/api/admin/v1/products/import"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "text/csv", "multipart/form-data"}
    assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    assert content["text/csv"]["example"].startswith("商品名称,分类")


async def test_unknown_query_parameters_are_refused_on_every_listing(client):
    doc = await _doc(client)
    user = await make_user()
    await create_operator("ops2", "secret-pass-1", display_name="运营")
    login = await client.post("/api/admin/v1/auth/login", json={"username": "ops2", "password": "secret-pass-1"})
    tokens = {"userToken": auth(token_for(user)), "operatorToken": auth((await login.json())["token"])}
    checked = 0
    for path, item in doc["paths"].items():
        op = item.get("get")
        if op is None or "{" in path or not any(p["in"] == "query" for p in op["parameters"]):
            continue
        headers = {k: v for scheme in op.get("security", []) for name in scheme for k, v in tokens[name].items()}
        resp = await client.get(path, headers=headers, params={"pagesize": "5"})  # a misspelt page_size
        body = await resp.json()
        assert resp.status == 422 and body["details"]["field"] == "pagesize", (path, body)
        assert body["message"] == "pagesize: 不支持的字段", body
        checked += 1
    assert checked >= 8
