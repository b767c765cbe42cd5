"""Subscribe-message values formatted to WeChat's rules for each keyword data type.

The keyword name is its type plus a number (``thing2``, ``amount3``). WeChat rejects the
whole message (errcode 47003) when one value breaks its type, so values are made valid here:
text is cut on whole characters (a Chinese character, an emoji with its modifiers, a letter
with its accents is never split) and marked with "…", typed values (fen, datetimes) are
rendered in the one accepted shape, and a value that cannot be made valid is a programming
error (``ValueError``) found by the tests, not at WeChat.

| type | rule (WeChat) | we send |
|---|---|---|
| thing | 20 characters, Chinese / letters / digits / symbols | cut to 20 with "…" |
| character_string | 32 letters, digits, symbols (no Chinese) | non-ASCII dropped, cut to 32 |
| number | 32 digits, may have a decimal point | int / Decimal as digits |
| letter | 32 letters | ASCII letters only |
| symbol | 5 symbols | as given, checked |
| amount | currency symbol + up to 10 digits, may end in 元 | fen -> "25.90元" |
| time | 24-hour time, may have the date | datetime -> "2026-12-01 18:30" China time |
| date | a date, may have the time | date -> "2026-12-01" |
| phone_number | 17 digits and symbols | digits, + - * and spaces |
| car_number | 8 characters | cut to 8 |
| name | 10 Chinese characters or 20 letters | cut to 10 / 20 |
| phrase | 5 Chinese characters | checked (values are our constants) |
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from huituan.core.clock import china_display
from huituan.core.money import yuan

ELLIPSIS = "…"
LIMITS = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5, "phrase": 5,
          "phone_number": 17, "car_number": 8, "name": 20, "amount": 11, "time": 32, "date": 32}
_KEY_RE = re.compile(r"^([a-z_]+?)(\d+)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def keyword_type(key: str) -> str:
    m = _KEY_RE.match(key)
    if not m or m.group(1) not in LIMITS:
        raise ValueError(f"{key}: not a subscribe keyword (type + number, e.g. thing2)")
    return m.group(1)


def _joins(prev: str, ch: str) -> bool:
    """True when ``ch`` belongs to the character before it (one grapheme on screen)."""
    cp = ord(ch)
    return (
        unicodedata.combining(ch) != 0
        or prev == "\u200d" or ch == "\u200d"  # zero-width joiner sequences (family emoji)
        or 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF  # variation selectors
        or 0x1F3FB <= cp <= 0x1F3FF  # skin tones
        or 0xE0020 <= cp <= 0xE007F  # tag characters (flags)
        or unicodedata.category(ch) in ("Mn", "Me")
    )


def graphemes(text: str) -> list[str]:
    """Split into user-perceived characters (close enough to UAX 29 for names and titles)."""
    out: list[str] = []
    for ch in text:
        if out and (_joins(out[-1][-1], ch) or _regional_pair(out[-1], ch)):
            out[-1] += ch
        else:
            out.append(ch)
    return out


def _regional_pair(prev: str, ch: str) -> bool:
    def ri(c: str) -> bool:
        return 0x1F1E6 <= ord(c) <= 0x1F1FF

    return len(prev) == 1 and ri(prev) and ri(ch)


def clip(text: str, limit: int, marker: str = ELLIPSIS) -> str:
    """At most ``limit`` code points, cut between whole characters, ``marker`` at the cut.
    WeChat counts code points; a grapheme is never split, so a cut may come out shorter."""
    text = _CONTROL.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    room = limit - len(marker)
    out = ""
    for g in graphemes(text):
        if len(out) + len(g) > room:
            break
        out += g
    return out.rstrip() + marker


def _text(value: Any) -> str:
    if value is None:
        return ""
    return unicodedata.normalize("NFC", str(value))


def format_value(key: str, value: Any) -> str:
    """One keyword value, valid for its type (see the table above)."""
    kind = keyword_type(key)
    limit = LIMITS[kind]
    if kind == "amount":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key}: amount takes integer fen, got {value!r}")
        text = f"{yuan(value)}元"
        if len(text.rstrip("元").lstrip("-").replace(".", "")) > 10:
            raise ValueError(f"{key}: amount longer than 10 digits")
        return text
    if kind == "time":
        if not isinstance(value, datetime):
            raise ValueError(f"{key}: time takes a datetime, got {value!r}")
        return china_display(value)
    if kind == "date":
        if isinstance(value, datetime):
            return china_display(value, "%Y-%m-%d")
        if isinstance(value, date):
            return value.strftime("%Y-%m-%d")
        raise ValueError(f"{key}: date takes a date, got {value!r}")
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise ValueError(f"{key}: number takes an int or Decimal, got {value!r}")
        text = str(value)
        if len(text) > limit:
            raise ValueError(f"{key}: number longer than {limit} digits")
        return text
    text = _text(value)
    if kind == "thing":
        return clip(text, limit) or "-"
    if kind in ("character_string", "letter"):
        keep = (lambda c: c.isascii() and c.isalpha()) if kind == "letter" else (lambda c: c.isascii() and c.isprintable())
        text = "".join(c for c in text if keep(c)).strip()
        return text[:limit] or "-"
    if kind == "phone_number":
        text = "".join(c for c in text if c in "0123456789+-* ")  # ASCII only: "²".isdigit() is True
        return text.strip()[:limit] or "-"
    if kind == "name":
        text = _CONTROL.sub(" ", text).strip()
        limit = limit if text.isascii() else 10
        return clip(text, limit, marker="") or "-"
    if kind == "car_number":
        return clip(text, limit, marker="") or "-"
    if kind == "phrase":
        if not text or len(text) > limit or not all("\u4e00" <= c <= "\u9fff" for c in text):
            raise ValueError(f"{key}: phrase is at most {limit} Chinese characters, got {text!r}")
        return text
    if kind == "symbol":
        if not text or len(text) > limit:
            raise ValueError(f"{key}: symbol is at most {limit} characters, got {text!r}")
        return text
    raise AssertionError(kind)


def format_values(keywords: tuple[str, ...], values: dict[str, Any]) -> dict[str, str]:
    """Every keyword of the template, formatted; a missing or unknown keyword is a ValueError."""
    missing = [k for k in keywords if k not in values]
    extra = [k for k in values if k not in keywords]
    if missing or extra:
        raise ValueError(f"template keywords {keywords}: missing {missing}, unknown {extra}")
    return {k: format_value(k, values[k]) for k in keywords}
