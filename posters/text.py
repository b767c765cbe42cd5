"""Fonts and text for posters: the CJK font loaded once per process, characters the font
cannot draw dropped (emoji and the like never become tofu boxes), Chinese line wrapping with
ellipsis, and cutting a name to a width by whole characters.

Pure functions over Pillow; used inside the render pool (processes or threads).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from PIL import ImageFont

ELLIPSIS = "…"
# Characters that may not begin a line in Chinese typesetting (避头): pulled back onto the line before.
NO_LINE_START = set("，。、；：！？）》」』】〕〉”’,.;:!?)]}%·…—～")
_SPACES = re.compile(r"\s+")
_FONT_PATH: str | None = None
_FONT_INDEX = 0


def default_font_path() -> str:
    import noto_cjk_sans_otc

    return str(noto_cjk_sans_otc.FONT_PATH)


def configure(path: str = "", index: int = 2) -> None:
    """Choose the poster font for this process (a setting may override the bundled Noto Sans CJK)."""
    global _FONT_PATH, _FONT_INDEX
    path = path or default_font_path()
    if (path, index) != (_FONT_PATH, _FONT_INDEX):
        _FONT_PATH, _FONT_INDEX = path, index
        font.cache_clear()
        _advance.cache_clear()
        _notdef.cache_clear()
        _has_glyph.cache_clear()


def font_id() -> tuple[str, int]:
    if _FONT_PATH is None:
        configure()
    return _FONT_PATH or "", _FONT_INDEX


@lru_cache(maxsize=64)
def font(size: int) -> ImageFont.FreeTypeFont:
    """One FreeTypeFont per size, created once per process."""
    path, index = font_id()
    try:
        return ImageFont.truetype(path, size, index=index, layout_engine=ImageFont.Layout.BASIC)
    except OSError:  # a collection index that a single-face file does not have
        return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=1)
def _notdef() -> bytes:
    m = font(24).getmask("\U0010fffd")  # a private-use code point: no font draws it, .notdef is drawn
    return bytes(m) + repr(m.size).encode()


@lru_cache(maxsize=20000)
def _has_glyph(ch: str) -> bool:
    m = font(24).getmask(ch)
    return bytes(m) + repr(m.size).encode() != _notdef()


def has_glyph(ch: str) -> bool:
    """Does the poster font draw ``ch`` (rather than its .notdef box)? Whitespace counts as drawn."""
    if ch.isspace():
        return True
    return _has_glyph(ch)


def clean(text: str) -> str:
    """What can be drawn of ``text``: control characters and line breaks become spaces, emoji,
    their modifiers and joiners and anything else without a glyph are dropped, spaces collapsed."""
    out = []
    for ch in unicodedata.normalize("NFC", text or ""):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Zl", "Zp") or ch in "\t\n\r":
            out.append(" ")
        elif cat in ("Cf", "Cs", "Co", "Cn", "Mn") and not has_glyph(ch):
            continue
        elif has_glyph(ch):
            out.append(ch)
    return _SPACES.sub(" ", "".join(out)).strip()


def fit(text: str, f: ImageFont.FreeTypeFont, width: int) -> str:
    """``text`` cut by whole characters to ``width`` pixels, with an ellipsis when cut."""
    if f.getlength(text) <= width:
        return text
    room = width - f.getlength(ELLIPSIS)
    lo, hi = 0, len(text)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if f.getlength(text[:mid]) <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + ELLIPSIS


@lru_cache(maxsize=20000)
def _advance(size: int, ch: str) -> float:
    return font(size).getlength(ch)


def _cut(text: str, f: ImageFont.FreeTypeFont, width: int) -> int:
    """How many leading characters of ``text`` fit in ``width``: summed per-character advances
    (cached), then checked with the real layout, which may kern a little tighter or looser."""
    total, n = 0.0, 0
    for ch in text:
        total += _advance(f.size, ch)
        if total > width:
            break
        n += 1
    while n > 1 and f.getlength(text[:n]) > width:
        n -= 1
    return max(n, 1)


def wrap(text: str, f: ImageFont.FreeTypeFont, width: int, max_lines: int) -> list[str]:
    """Greedy Chinese line breaking (any character may end a line, except that closing
    punctuation never starts one; Latin words stay whole when they fit), at most ``max_lines``,
    the last one ellipsized when text is left over."""
    lines: list[str] = []
    rest = text
    while rest and len(lines) < max_lines:
        cut = _cut(rest, f, width)
        if cut >= len(rest):
            lines.append(rest)
            rest = ""
            break
        if rest[cut] in NO_LINE_START and cut > 1:
            cut -= 1
        if rest[cut].isascii() and rest[cut].isalnum():
            space = rest.rfind(" ", 0, cut)
            if space > 0:
                cut = space
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest and lines:
        lines[-1] = fit(lines[-1] + rest, f, width)
    return lines
