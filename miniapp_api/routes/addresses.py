"""Shipping addresses of the current user."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, path_int
from huituan.core.web.openapi import api
from huituan.miniapp_api.schemas.addresses import AddressIn, AddressListOut, AddressOut, AddressUpdateIn, DeletedOut
from huituan.services import addresses


async def list_addresses(request: web.Request, user_id: int) -> web.Response:
    return json_response(await addresses.list_addresses(user_id))


async def create_address(request: web.Request, uid: int) -> web.Response:
    body = await parse_json(request, AddressIn)
    return json_response(await addresses.create_address(uid, body.model_dump()), status=201)


async def update_address(request: web.Request, uid: int) -> web.Response:
    aid = path_int(request, "id")
    body = await parse_json(request, AddressUpdateIn)
    return json_response(await addresses.update_address(uid, aid, body.model_dump(exclude_unset=True)))


async def delete_address(request: web.Request, uid: int) -> web.Response:
    await addresses.delete_address(uid, path_int(request, "id"))
    return json_response({"deleted": True})


def setup(app: web.Application) -> None:
    api(app, "GET", "/api/v1/addresses", list_addresses, summary="收货地址列表", tag="addresses", auth=Auth.user,
        response=AddressListOut)
    api(app, "POST", "/api/v1/addresses", create_address, summary="新增收货地址", tag="addresses", auth=Auth.user,
        body=AddressIn, response=AddressOut, status=201, description="第一个地址自动成为默认地址。")
    api(app, "PUT", "/api/v1/addresses/{id}", update_address, summary="修改收货地址", tag="addresses", auth=Auth.user,
        body=AddressUpdateIn, response=AddressOut, errors=(404,))
    api(app, "DELETE", "/api/v1/addresses/{id}", delete_address, summary="删除收货地址", tag="addresses",
        auth=Auth.user, response=DeletedOut, errors=(404,))
