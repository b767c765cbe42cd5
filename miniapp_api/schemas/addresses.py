from __future__ import annotations

from pydantic import BaseModel, Field

from huituan.miniapp_api.schemas import Body, Text

PHONE = r"^[0-9+\- ]{5,20}$"


class AddressIn(Body):
    receiver: Text = Field(..., min_length=1, max_length=32)
    phone: Text = Field(..., pattern=PHONE, max_length=20)
    province: Text = Field(..., min_length=1, max_length=32)
    city: Text = Field(..., min_length=1, max_length=32)
    district: Text = Field("", max_length=32)
    detail: Text = Field(..., min_length=1, max_length=200)
    is_default: bool = False


class AddressUpdateIn(Body):
    receiver: Text | None = Field(None, min_length=1, max_length=32)
    phone: Text | None = Field(None, pattern=PHONE, max_length=20)
    province: Text | None = Field(None, min_length=1, max_length=32)
    city: Text | None = Field(None, min_length=1, max_length=32)
    district: Text | None = Field(None, max_length=32)
    detail: Text | None = Field(None, min_length=1, max_length=200)
    is_default: bool | None = None


class AddressOut(BaseModel):
    id: int
    receiver: str
    phone: str
    province: str
    city: str
    district: str
    detail: str
    is_default: bool


class AddressListOut(BaseModel):
    items: list[AddressOut]


class DeletedOut(BaseModel):
    deleted: bool
