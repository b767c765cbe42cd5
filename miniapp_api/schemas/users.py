from __future__ import annotations

from pydantic import BaseModel, Field

from huituan.miniapp_api.schemas import Body, Text


class UserLoginIn(Body):
    code: Text = Field(..., min_length=1, max_length=128, description="wx.login 返回的 code")
    scene: Text | None = Field(None, max_length=128, description="分享场景值（推荐绑定用）")


class PhoneIn(Body):
    code: Text = Field(..., min_length=1, max_length=128, description="getPhoneNumber 返回的 code")


class UserOut(BaseModel):
    id: int
    nickname: str
    avatar_url: str
    phone: str | None
    has_phone: bool
    created_at: str | None


class UserLoginOut(BaseModel):
    token: str
    expires_in: int
    is_new: bool
    user: UserOut
