"""Decode the code on a poster with a real decoder (zxing-cpp) and turn it into a share code."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import zxingcpp
from PIL import Image


def decode_poster(body: bytes) -> str:
    """The text of the one code on the poster (a mini-program page?scene=... or the H5 URL)."""
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(body)).convert("RGB"))
    assert len(found) == 1, [r.text for r in found]
    return found[0].text


def share_code_of(decoded: str) -> str:
    """The sandbox's mini-program code encodes ``<page>?scene=<code>``; the H5 fallback ``<url>?s=<code>``."""
    query = parse_qs(urlsplit(decoded).query)
    return (query.get("scene") or query.get("s"))[0]
