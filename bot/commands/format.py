"""Chinese labels and money display for bot replies (yuan only at display)."""

from __future__ import annotations

from datetime import datetime

from huituan.core.clock import china_display
from huituan.core.money import yuan
from huituan.models.order import ORDER_STATUS_LABELS  # noqa: F401  (re-exported for the commands)

DELIVERY_LABELS = {"express": "快递", "pickup": "自提"}


def money(fen: int) -> str:
    return f"¥{yuan(fen)}"


def when(dt: datetime | None) -> str:
    if dt is None:
        return "—"
    return china_display(dt, "%m-%d %H:%M:%S")


def parse_yuan(text: str) -> int:
    """'50' / '12.5' / '¥12.50' / '12.50元' -> fen; anything else is refused with a Chinese reason."""
    import re

    from huituan.core.errors import ValidationFailed

    t = (text or "").strip().lstrip("¥￥").removesuffix("元").strip()
    if not re.fullmatch(r"\d{1,7}(\.\d{1,2})?", t):
        raise ValidationFailed(f"金额「{(text or '')[:12]}」不正确，请写元，最多两位小数，例如：提现 50 或 提现 12.5",
                               field="amount")
    whole, _, frac = t.partition(".")
    fen = int(whole) * 100 + int((frac + "00")[:2])
    if fen <= 0:
        raise ValidationFailed("提现金额必须大于 0", field="amount")
    return fen


def parse_count(text: str, label: str, lo: int, hi: int) -> int:
    from huituan.core.errors import ValidationFailed

    t = (text or "").strip()
    if not t.isdigit() or not lo <= int(t) <= hi:
        raise ValidationFailed(f"{label}「{t[:12]}」不正确，应为 {lo} 到 {hi} 之间的整数", field=label)
    return int(t)
