"""The pure renderer: a template spec, text fields, image bytes and the code -> image bytes.

No I/O, no database, no event loop: ``render(job)`` runs in the render pool (a process or a
thread, see huituan.posters.pool). ``job`` is a plain dict so it crosses process boundaries:

    {"spec": <validated template spec>, "fields": {"title": "...", "price_fen": 1990, ...},
     "images": {"image": b"..." | None, "sharer_avatar": b"..." | None},
     "code": {"png": b"..."} | {"text": "https://h5/share?s=Ab3dE5gH"}}

A missing image draws a placeholder; a text or price layer whose field is missing or empty is
skipped; prices are integer fen shown in yuan.
"""

from __future__ import annotations

import hashlib
import io
from collections import OrderedDict
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw

from huituan.core.money import yuan
from huituan.posters import text as ptext

PLACEHOLDER = (236, 236, 236)


def _rgb(color: str) -> tuple[int, int, int]:
    c = color.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _open(data: bytes | None, size: tuple[int, int]) -> Image.Image | None:
    if not data:
        return None
    try:
        im = Image.open(io.BytesIO(data))
        im.draft("RGB", size)  # JPEG: decode at the smallest scale still >= size (much faster)
        if im.mode == "RGB":
            im.load()
            return im
        return im.convert("RGB")
    except Exception:  # not an image, truncated, a decompression bomb: placeholder
        return None


def _fitted(im: Image.Image, w: int, h: int, mode: str) -> Image.Image:
    if mode == "contain":
        scale = min(w / im.width, h / im.height)
        inner = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
        out = Image.new("RGB", (w, h), (255, 255, 255))
        out.paste(inner, ((w - inner.width) // 2, (h - inner.height) // 2))
        return out
    scale = max(w / im.width, h / im.height)  # cover: fill, crop the overflow around the centre
    cw, ch = w / scale, h / scale
    left, top = (im.width - cw) / 2, (im.height - ch) / 2
    return im.resize((w, h), Image.BILINEAR, box=(left, top, left + cw, top + ch))


@lru_cache(maxsize=64)
def _mask(w: int, h: int, radius: int, circle: bool = False) -> Image.Image | None:
    if not circle and radius <= 0:
        return None
    # Drawn at 2x and reduced: smooth edges at a small cost.
    m = Image.new("L", (w * 2, h * 2), 0)
    d = ImageDraw.Draw(m)
    if circle:
        d.ellipse((0, 0, w * 2 - 1, h * 2 - 1), fill=255)
    else:
        d.rounded_rectangle((0, 0, w * 2 - 1, h * 2 - 1), radius=radius * 2, fill=255)
    return m.resize((w, h), Image.BILINEAR)


# Fitted images by (content, size, fit), per render worker: a popular product's image is decoded
# and resized once for all of its sharers' posters. Small: each entry is up to a few MB.
_TILES: OrderedDict[tuple, Image.Image] = OrderedDict()
TILE_CACHE_SIZE = 12


def _tile(data: bytes | None, w: int, h: int, fit: str) -> Image.Image:
    if not data:
        return Image.new("RGB", (w, h), PLACEHOLDER)
    key = (hashlib.blake2b(data, digest_size=16).digest(), w, h, fit)
    tile = _TILES.get(key)
    if tile is not None:
        _TILES.move_to_end(key)
        return tile
    im = _open(data, (w, h))
    if im is None:
        return Image.new("RGB", (w, h), PLACEHOLDER)
    tile = _fitted(im, w, h, fit)
    _TILES[key] = tile
    while len(_TILES) > TILE_CACHE_SIZE:
        _TILES.popitem(last=False)
    return tile


def _paste_image(canvas: Image.Image, layer: dict[str, Any], data: bytes | None, circle: bool) -> None:
    x, y = layer["x"], layer["y"]
    w = h = layer["size"] if circle else None
    if not circle:
        w, h = layer["w"], layer["h"]
    tile = _tile(data, w, h, layer.get("fit", "cover"))
    canvas.paste(tile, (x, y), _mask(w, h, layer.get("radius", 0), circle))


def _text_value(layer: dict[str, Any], fields: dict[str, Any]) -> str:
    if layer.get("text"):
        try:
            return layer["text"].format_map(_Strict(fields))
        except KeyError:
            return ""
    value = fields.get(layer.get("field", ""))
    return "" if value is None else str(value)


class _Strict(dict):
    def __missing__(self, key):
        raise KeyError(key)

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if value is None or value == "":
            raise KeyError(key)
        return value


def _draw_text(draw: ImageDraw.ImageDraw, layer: dict[str, Any], value: str) -> None:
    value = ptext.clean(value)
    if not value:
        return
    f = ptext.font(layer["size"])
    color = _rgb(layer.get("color", "#222222"))
    lines = ptext.wrap(value, f, layer["max_width"], layer.get("max_lines", 1))
    # Faux bold (the bundled font has one weight): the line drawn again one pixel to the right,
    # cheaper than FreeType's stroker and close to a semibold at poster sizes.
    bold = layer.get("weight") == "bold"
    step = round(layer["size"] * layer.get("line_height", 1.3))
    for i, line in enumerate(lines):
        x = layer["x"]
        if layer.get("align") == "center":
            x = layer["x"] + (layer["max_width"] - f.getlength(line)) / 2
        elif layer.get("align") == "right":
            x = layer["x"] + layer["max_width"] - f.getlength(line)
        draw.text((x, layer["y"] + i * step), line, font=f, fill=color)
        if bold:
            draw.text((x + 1, layer["y"] + i * step), line, font=f, fill=color)


def _draw_price(draw: ImageDraw.ImageDraw, layer: dict[str, Any], fields: dict[str, Any]) -> None:
    value = fields.get(layer["field"])
    if not isinstance(value, int):
        return
    color = _rgb(layer.get("color", "#e4393c"))
    small = ptext.font(max(10, layer["size"] // 2))
    big = ptext.font(layer["size"])
    x, y = layer["x"], layer["y"]
    prefix = layer.get("prefix", "¥")
    baseline = y + big.getbbox("0")[3]
    if prefix:
        draw.text((x, baseline - small.getbbox("0")[3]), prefix, font=small, fill=color)
        x += small.getlength(prefix) + 2
    amount = yuan(value)
    if amount.endswith(".00"):
        amount = amount[:-3]
    draw.text((x, y), amount, font=big, fill=color)
    draw.text((x + 1, y), amount, font=big, fill=color)
    x += big.getlength(amount) + 16
    struck = fields.get(layer.get("struck_field", ""))
    if isinstance(struck, int) and struck > value:
        sf = ptext.font(layer.get("struck_size") or max(10, layer["size"] // 2))
        label = f"{prefix}{yuan(struck)}"
        grey = _rgb(layer.get("struck_color", "#999999"))
        top = baseline - sf.getbbox("0")[3]
        draw.text((x, top), label, font=sf, fill=grey)
        mid = top + sf.getbbox("0")[3] * 0.6
        draw.line((x, mid, x + sf.getlength(label), mid), fill=grey, width=max(1, sf.size // 14))


def _code_image(code: dict[str, Any], size: int) -> Image.Image:
    im = _open(code.get("png"), (size, size))
    if im is None:
        import qrcode

        # A fixed mask pattern: choosing the "best" of eight costs more than the whole rest of
        # the poster, and any mask scans.
        qr = qrcode.QRCode(border=1, box_size=1, error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=2)
        qr.add_data(code.get("text") or "")
        qr.make(fit=True)
        n = qr.modules_count
        bits = bytes(0 if (0 <= r - 1 < n and 0 <= c - 1 < n and qr.modules[r - 1][c - 1]) else 255
                     for r in range(n + 2) for c in range(n + 2))
        im = Image.frombytes("L", (n + 2, n + 2), bits).convert("RGB")
    # NEAREST keeps modules sharp (a scanner reads edges, not smooth gradients).
    return im.resize((size, size), Image.NEAREST)


def render(job: dict[str, Any]) -> bytes:
    spec, fields, images = job["spec"], job.get("fields", {}), job.get("images", {})
    canvas_spec = spec["canvas"]
    canvas = Image.new("RGB", (canvas_spec["width"], canvas_spec["height"]), _rgb(spec["background"]["color"]))
    bg_field = spec["background"].get("image_field")
    if bg_field and images.get(bg_field):
        _paste_image(canvas, {"x": 0, "y": 0, "w": canvas.width, "h": canvas.height, "fit": "cover"},
                     images[bg_field], circle=False)
    draw = ImageDraw.Draw(canvas)
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "rect":
            draw.rounded_rectangle((layer["x"], layer["y"], layer["x"] + layer["w"], layer["y"] + layer["h"]),
                                   radius=layer.get("radius", 0), fill=_rgb(layer["color"]))
        elif kind == "image":
            if layer["field"] in images or layer.get("placeholder", True):
                _paste_image(canvas, layer, images.get(layer["field"]), circle=False)
        elif kind == "avatar":
            if layer["field"] in images:
                _paste_image(canvas, layer, images.get(layer["field"]), circle=True)
        elif kind == "avatars":
            urls = fields.get(layer["field"]) or []
            for i in range(min(len(urls), layer.get("max", 5))):
                spot = {"x": layer["x"] + i * (layer["size"] + layer.get("gap", 12)), "y": layer["y"], "size": layer["size"]}
                _paste_image(canvas, spot, images.get(f"{layer['field']}.{i}"), circle=True)
        elif kind == "text":
            _draw_text(draw, layer, _text_value(layer, fields))
        elif kind == "price":
            _draw_price(draw, layer, fields)
        elif kind == "code":
            canvas.paste(_code_image(job["code"], layer["size"]), (layer["x"], layer["y"]))
    out = io.BytesIO()
    if spec.get("format", "jpeg") == "png":
        canvas.save(out, format="PNG", optimize=False, compress_level=3)
    else:
        canvas.save(out, format="JPEG", quality=spec.get("quality", 88), optimize=False)
    return out.getvalue()
