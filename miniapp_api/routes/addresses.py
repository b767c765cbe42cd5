"""Shipping addresses of the current user."""

from __future__ import annotations

from aiohttp import web

from miniapp_api.auth import current_user_id
from miniapp_api.http import json_response, parse_json, path_int
from miniapp_api.openapi import api
from miniapp_api.schemas.addresses import AddressIn, AddressListOut, AddressOut, AddressUpdateIn, DeletedOut
from services import addresses


async def list_addresses(request: web.Request) -> web.Response:
    return json_response(await addresses.list_addresses(current_user_id(request)))


async def create_address(request: web.Request) -> web.Response:
    uid = current_user_id(request)
    body = await parse_json(request, AddressIn)
    return json_response(await addresses.create_address(uid, body.model_dump()), status=201)


async def update_address(request: web.Request) -> web.Response:
    uid = current_user_id(request)
    aid = path_int(request, "id")
    body = await parse_json(request, AddressUpdateIn)
    return json_response(await addresses.update_address(uid, aid, body.model_dump(exclude_unset=True)))


async def delete_address(request: web.Request) -> web.Response:
    uid = current_user_id(request)
    await addresses.delete_address(uid, path_int(request, "id"))
    return json_response({"deleted": True})


def setup(app: web.Application) -> None:
    api(app, "GET", "/api/v1/addresses", list_addresses, summary="收货地址列表", tag="addresses", auth="user",
        response=AddressListOut)
    api(app, "POST", "/api/v1/addresses", create_address, summary="新增收货地址", tag="addresses", auth="user",
        body=AddressIn, response=AddressOut, status=201, description="第一个地址自动成为默认地址。")
    api(app, "PUT", "/api/v1/addresses/{id}", update_address, summary="修改收货地址", tag="addresses", auth="user",
        body=AddressUpdateIn, response=AddressOut, errors=(404,))
    api(app, "DELETE", "/api/v1/addresses/{id}", delete_address, summary="删除收货地址", tag="addresses",
        auth="user", response=DeletedOut, errors=(404,))
