"""Pydantic request/response models of the mini-program API (they also build the OpenAPI doc)."""

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict


def _no_control_chars(value: str) -> str:
    # PostgreSQL refuses NUL in text; other control characters are never meant in these fields.
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise ValueError("不能包含控制字符")
    return value


Text = Annotated[str, AfterValidator(_no_control_chars)]


def _visible(value: str) -> str:
    # A name shown to people: spaces and invisible format characters (U+200B ...) alone are blank.
    if not any(not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zs", "Zl", "Zp") for ch in value):
        raise ValueError("不能为空白")
    return value


# A title or name that people see: text (no control characters) with something visible in it.
Name = Annotated[str, AfterValidator(_no_control_chars), AfterValidator(_visible)]


class Body(BaseModel):
    """A request body: a field it does not know is refused, naming it (a misspelt optional
    field silently ignored is a request that does something else than meant)."""

    model_config = ConfigDict(extra="forbid")
