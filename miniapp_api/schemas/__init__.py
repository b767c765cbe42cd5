"""Pydantic request/response models of the mini-program API (they also build the OpenAPI doc)."""

from typing import Annotated

from pydantic import AfterValidator


def _no_control_chars(value: str) -> str:
    # PostgreSQL refuses NUL in text; other control characters are never meant in these fields.
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("不能包含控制字符")
    return value


Text = Annotated[str, AfterValidator(_no_control_chars)]
