"""Money is integer fen. Yuan appears only when text is shown to a person."""

from __future__ import annotations


def percent_of(amount_fen: int, percent_bp: int) -> int:
    """``amount_fen`` x ``percent_bp`` basis points (1 % = 100 bp), floored to the fen.

    Rounding rule (docs/ARCHITECTURE.md, Money): floor; the remainder stays with the platform.
    """
    if amount_fen < 0 or percent_bp < 0:
        raise ValueError("percent_of takes non-negative amounts and rates")
    return amount_fen * percent_bp // 10_000


def prorate(total_fen: int, part: int, whole: int) -> int:
    """``total_fen`` x part / whole, floored to the fen (whole > 0)."""
    if whole <= 0:
        raise ValueError("whole must be positive")
    return total_fen * part // whole


def split_by_weights(total_fen: int, weights: list[int]) -> list[int]:
    """Split ``total_fen`` over ``weights`` exactly: floors first, then the leftover fen go
    one by one to the largest remainders (ties: earlier first), so the parts sum to the total."""
    whole = sum(weights)
    if whole <= 0:
        return [0 for _ in weights]
    parts = [total_fen * w // whole for w in weights]
    leftover = total_fen - sum(parts)
    order = sorted(range(len(weights)), key=lambda i: (-(total_fen * weights[i] % whole), i))
    for i in order[:leftover]:
        parts[i] += 1
    return parts


def yuan(amount_fen: int) -> str:
    """Display only: 1234 -> '12.34'."""
    sign = "-" if amount_fen < 0 else ""
    a = abs(amount_fen)
    return f"{sign}{a // 100}.{a % 100:02d}"
