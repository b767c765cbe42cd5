"""Poster templates are data: a JSON spec of canvas, background and layers.

    {"name": "经典白", "format": "jpeg", "quality": 88,
     "canvas": {"width": 750, "height": 1200},
     "background": {"color": "#ffffff", "image_field": null},
     "layers": [
       {"type": "image", "field": "image", "x": 0, "y": 0, "w": 750, "h": 750, "fit": "cover", "radius": 0},
       {"type": "avatar", "field": "sharer_avatar", "x": 40, "y": 790, "size": 72},
       {"type": "avatars", "field": "member_avatars", "x": 40, "y": 790, "size": 64, "gap": 12, "max": 5},
       {"type": "text", "field": "title", "x": 40, "y": 890, "size": 34, "color": "#222222", "weight": "bold",
        "max_width": 670, "max_lines": 2, "line_height": 1.3, "align": "left"},
       {"type": "text", "text": "{sharer_name} 推荐", ...},
       {"type": "price", "field": "price_fen", "struck_field": "reference_price_fen", "x": 40, "y": 1010, "size": 56},
       {"type": "rect", "x": 0, "y": 760, "w": 750, "h": 440, "color": "#ffffff", "radius": 0},
       {"type": "code", "x": 530, "y": 980, "size": 180}]}

Fields every poster kind provides (a kind leaves out what it does not have; layers over a
missing field are skipped): headline, title, subtitle, note, image, price_fen,
reference_price_fen, sharer_name, sharer_avatar, member_avatars (see huituan.posters.registry).

A bad spec is refused with a message naming the field as a JSON pointer (``/layers/3/size``).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from huituan.core.errors import ValidationFailed, pydantic_message

HEX = r"^#[0-9a-fA-F]{6}$"
FIELD = r"^[a-z_]{1,32}$"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Canvas(_M):
    width: int = Field(ge=300, le=1500)
    height: int = Field(ge=300, le=2400)


class Background(_M):
    color: str = Field("#ffffff", pattern=HEX)
    image_field: str | None = Field(None, pattern=FIELD)


class _Box(_M):
    x: int = Field(ge=0, le=2400)
    y: int = Field(ge=0, le=2400)


class RectLayer(_Box):
    type: Literal["rect"]
    w: int = Field(ge=1, le=2400)
    h: int = Field(ge=1, le=2400)
    color: str = Field(pattern=HEX)
    radius: int = Field(0, ge=0, le=600)


class ImageLayer(_Box):
    type: Literal["image"]
    field: str = Field(pattern=FIELD)
    w: int = Field(ge=8, le=2400)
    h: int = Field(ge=8, le=2400)
    fit: Literal["cover", "contain"] = "cover"
    radius: int = Field(0, ge=0, le=600)
    placeholder: bool = True


class AvatarLayer(_Box):
    type: Literal["avatar"]
    field: str = Field(pattern=FIELD)
    size: int = Field(ge=16, le=600)


class AvatarsLayer(_Box):
    type: Literal["avatars"]
    field: str = Field(pattern=FIELD)
    size: int = Field(ge=16, le=300)
    gap: int = Field(12, ge=0, le=200)
    max: int = Field(5, ge=1, le=10)


class TextLayer(_Box):
    type: Literal["text"]
    field: str | None = Field(None, pattern=FIELD)
    text: str | None = Field(None, min_length=1, max_length=200)
    size: int = Field(ge=10, le=200)
    color: str = Field("#222222", pattern=HEX)
    weight: Literal["regular", "bold"] = "regular"
    max_width: int = Field(ge=10, le=2400)
    max_lines: int = Field(1, ge=1, le=6)
    line_height: float = Field(1.3, ge=1.0, le=3.0)
    align: Literal["left", "center", "right"] = "left"


class PriceLayer(_Box):
    type: Literal["price"]
    field: str = Field(pattern=FIELD)
    struck_field: str | None = Field(None, pattern=FIELD)
    size: int = Field(ge=12, le=200)
    color: str = Field("#e4393c", pattern=HEX)
    struck_size: int | None = Field(None, ge=10, le=200)
    struck_color: str = Field("#999999", pattern=HEX)
    prefix: str = Field("¥", max_length=2)


class CodeLayer(_Box):
    type: Literal["code"]
    size: int = Field(ge=120, le=800)  # smaller codes do not scan reliably from a phone screen


Layer = Annotated[Union[RectLayer, ImageLayer, AvatarLayer, AvatarsLayer, TextLayer, PriceLayer, CodeLayer],
                  Field(discriminator="type")]
LAYER_TYPES = ("rect", "image", "avatar", "avatars", "text", "price", "code")


class TemplateSpec(_M):
    name: str = Field(min_length=1, max_length=32)
    format: Literal["jpeg", "png"] = "jpeg"
    quality: int = Field(88, ge=50, le=95)
    canvas: Canvas
    background: Background = Background()
    layers: list[Layer] = Field(min_length=1, max_length=40)


def _pointer(loc: tuple) -> str:
    parts: list[str] = []
    for i, p in enumerate(loc):
        # pydantic puts the union tag after a layer's index: /layers/3/text/size -> /layers/3/size
        if isinstance(p, str) and i > 0 and isinstance(loc[i - 1], int) and p in LAYER_TYPES:
            continue
        parts.append(str(p).replace("~", "~0").replace("/", "~1"))
    return "/" + "/".join(parts) if parts else ""


def _fail(pointer: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{pointer or '/'}: {message}", field=pointer or "/", code="template_invalid")


_MESSAGES = {
    "missing": "缺少必填字段", "extra_forbidden": "不支持的字段", "int_type": "应为整数", "int_parsing": "应为整数",
    "string_type": "应为字符串", "string_pattern_mismatch": "格式不正确", "greater_than_equal": "不能小于 {ge}",
    "less_than_equal": "不能大于 {le}", "literal_error": "取值必须是 {expected}", "too_short": "至少需要 {min_length} 项",
    "too_long": "最多 {max_length} 项", "union_tag_invalid": "图层类型必须是 " + "/".join(LAYER_TYPES),
    "union_tag_not_found": "缺少图层类型 type", "model_type": "应为对象", "list_type": "应为数组",
    "string_too_short": "不能为空", "string_too_long": "长度不能超过 {max_length}", "float_type": "应为数字",
    "float_parsing": "应为数字", "bool_type": "应为布尔值",
}


def validate_spec(data: Any) -> dict[str, Any]:
    """A checked, normalized spec (defaults filled in), or ValidationFailed naming the field
    as a JSON pointer into the template (details.field)."""
    if not isinstance(data, dict):
        raise _fail("", "模板必须是 JSON 对象")
    try:
        spec = TemplateSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        # The house's Chinese messages, ours first: never pydantic's English (attacker pass,
        # session 7: "/canvas/width: Input should be a valid integer, got a number with ...").
        raise _fail(_pointer(tuple(err["loc"])), pydantic_message(err, _MESSAGES)) from None
    width, height = spec.canvas.width, spec.canvas.height
    codes = [i for i, layer in enumerate(spec.layers) if layer.type == "code"]
    if len(codes) != 1:
        raise _fail("/layers", "模板必须有且只有一个 code（小程序码）图层")
    for i, layer in enumerate(spec.layers):
        w = getattr(layer, "w", None) or getattr(layer, "size", None) or 0
        h = getattr(layer, "h", None) or (w if layer.type in ("avatar", "avatars", "code") else 0)
        if layer.type == "text":
            if (layer.field is None) == (layer.text is None):
                raise _fail(f"/layers/{i}/field", "文字图层需要 field 或 text（二选一）")
            w, h = layer.max_width, layer.size
        if layer.type == "avatars":
            w = layer.max * layer.size + (layer.max - 1) * layer.gap
        if layer.x + w > width:
            raise _fail(f"/layers/{i}/x", f"图层超出画布宽度 {width}")
        if layer.y + h > height:
            raise _fail(f"/layers/{i}/y", f"图层超出画布高度 {height}")
    return spec.model_dump(mode="json")


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


@lru_cache(maxsize=1)
def builtin_templates() -> dict[str, dict[str, Any]]:
    """The built-in styles (posters/builtin_templates.json), validated once: key -> spec."""
    return {key: validate_spec(spec) for key, spec in _builtin_file()["templates"].items()}


@lru_cache(maxsize=1)
def builtin_defaults() -> dict[str, str]:
    return dict(_builtin_file()["defaults"])


def _builtin_file() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "builtin_templates.json").read_text(encoding="utf-8"))
