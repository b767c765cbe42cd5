"""Examples for the API document, built from the pydantic models: a field's own
``examples=[...]`` first, then a model's ``json_schema_extra={"examples": [...]}``, then a
value chosen by the field's name and type (real shapes: order numbers are 14 digits of UTC
time + 10 digits, money is integer fen, times are ISO 8601 UTC)."""

from __future__ import annotations

import enum
import types
import typing
from datetime import date, datetime
from typing import Any, Literal, Union

from annotated_types import Ge, Gt, MaxLen, MinLen
from pydantic import BaseModel

ORDER_NO = "202405010430014821937560"
EXAMPLE_TIME = "2024-05-01T04:30:01Z"

# Exact field names -> a value of the right shape.
NAMED: dict[str, Any] = {
    "order_no": ORDER_NO, "refund_no": "R202405010512302264018375", "out_bill_no": "W202405020800005531029384",
    "transaction_id": "4200002024050112345678901234", "phone": "13800000000", "contact_phone": "13800000001",
    "receiver": "张三", "province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号",
    "address": "文三路 100 号幸福里小区 3 幢 1 楼便利店", "title": "烟台红富士苹果", "subtitle": "脆甜多汁，产地直发",
    "product_title": "烟台红富士苹果", "category": "蔬菜水果", "sku_name": "2.5kg 装（约 10 个）",
    "code": "0c3Xk8ll2Q9Zbm0Vx1fG0Yp8Qd3Xk8lQ", "sku_code": "DEMO-APPLE-2.5KG", "username": "admin", "password": "admin12345",
    "display_name": "演示运营", "nickname": "微信用户", "real_name": "李四", "express_company": "顺丰",
    "express_no": "SF1234567890", "reason": "商品有破损", "note": "已核实", "review_note": "已核实", "remark": "请放门卫",
    "token": "eyJ1IjoxLCJleHAiOjE3MTUwMDAwMDB9.c2lnbmF0dXJl", "openid": "oAbCdEfGhIjKlMnOpQrStUvWxYz0",
    "image": "https://img.example.com/demo/yantai-apple-1.jpg", "main_image": "https://img.example.com/demo/yantai-apple.jpg",
    "avatar_url": "https://img.example.com/avatar.jpg", "business_hours": "08:00-21:00", "cutoff_time": "22:00",
    "description": "烟台红富士苹果：脆甜多汁，产地直发。", "wecom_userid": "demo-operator", "scene": "r=12",
    "page": 1, "page_size": 20, "quantity": 2, "stock": 500, "sort": 0, "total": 1, "latitude": 30.2775,
    "longitude": 120.131, "commission_bp": 500, "activity_type": "normal", "activity_ref": "", "cancel_reason": "",
    "delivery_mode": "express", "last_error": "",
}


# (a word in the model's class name, field name) -> value, where one name means several things.
IN_CONTEXT: dict[tuple[str, str], Any] = {
    ("Sku", "code"): "DEMO-APPLE-2.5KG", ("Sku", "name"): "2.5kg 装（约 10 个）", ("Category", "name"): "蔬菜水果",
    ("Leader", "name"): "王团长", ("PickupPoint", "name"): "幸福里小区自提点", ("Level", "name"): "金牌推手",
    ("Operator", "name"): "演示运营", ("Product", "name"): "烟台红富士苹果", ("Binding", "reason"): "买家要求更换推手",
}


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, Ge):
            out["ge"] = m.ge
        elif isinstance(m, Gt):
            out["gt"] = m.gt
        elif isinstance(m, MinLen):
            out["min_length"] = m.min_length
        elif isinstance(m, MaxLen):
            out["max_length"] = m.max_length
    return out


def _by_type(tp: Any, name: str, limits: dict[str, Any], inputs: bool, depth: int) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *meta = typing.get_args(tp)
        return _by_type(base, name, {**limits, **_constraints(meta)}, inputs, depth)
    if origin in (Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        return _by_type(options[0], name, limits, inputs, depth) if options else None
    if origin is Literal:
        return typing.get_args(tp)[0]
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(tp)
        return [_by_type(args[0] if args else str, name, {}, inputs, depth)] if depth < 6 else []
    if origin is dict or tp is dict:
        return {}
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return example_for_model(tp, inputs=inputs, depth=depth + 1) if depth < 6 else {}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return next(iter(tp)).value
    if name in NAMED and not isinstance(NAMED[name], dict):
        return NAMED[name]
    if tp is bool:
        return True
    if tp is int:
        if name.endswith("_fen"):
            value = 2990
        elif name.endswith("_bp"):
            value = 500
        elif name == "id" or name.endswith("_id") or name.endswith("_count") or name in ("attempts", "row"):
            value = 1
        else:
            value = 1
        if "ge" in limits:
            value = max(value, limits["ge"])
        if "gt" in limits:
            value = max(value, limits["gt"] + 1)
        return value
    if tp is float:
        return 1.0
    if tp is datetime:
        return EXAMPLE_TIME
    if tp is date:
        return "2024-05-01"
    if tp is str:
        if name.endswith(("_url", "_image")) or name in ("url", "images"):
            return "https://img.example.com/demo/yantai-apple.jpg"
        if name.endswith(("_at", "_time", "_deadline")):
            return EXAMPLE_TIME
        text = "示例"
        if limits.get("min_length", 0) > len(text):
            text = text * limits["min_length"]
        return text
    return None


def example_for_model(model: type[BaseModel], *, inputs: bool = False, depth: int = 0) -> dict[str, Any] | None:
    """An example instance of ``model`` as JSON data (inputs: what a client sends)."""
    extra = model.model_config.get("json_schema_extra")
    if isinstance(extra, dict) and extra.get("examples"):
        return extra["examples"][0]
    out: dict[str, Any] = {}
    fields = model.model_fields
    all_optional = not any(info.is_required() for info in fields.values())
    for name, info in fields.items():
        key = info.alias or name
        if info.examples:
            out[key] = info.examples[0]
            continue
        context = next((v for (word, field), v in IN_CONTEXT.items() if field == name and word in model.__name__), None)
        if context is not None:
            out[key] = context
            continue
        if inputs and not all_optional and not info.is_required() and info.default is None:
            continue  # an optional input left out: the example shows what a client must send
        annotation = info.annotation
        limits = _constraints(info.metadata)
        if name == "images":
            out[key] = ["https://img.example.com/demo/yantai-apple-1.jpg"]
            continue
        out[key] = _by_type(annotation, name, limits, inputs, depth)
    if inputs and all_optional:  # a partial update: show two fields being changed
        out = dict(list(out.items())[:2])
    return out
