"""Admin API for notifications and the outbox: lists with filters, why skipped or failed,
retry of failed ones, delivery counts per template."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin.notifications_schemas import (
    NotificationListOut,
    NotificationOut,
    NotificationQuery,
    OutboxListOut,
    OutboxOut,
    OutboxQuery,
    StatsOut,
    StatsQuery,
)
from huituan.services import outbox
from huituan.services.notifications import admin


async def list_notifications(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, NotificationQuery)
    return json_response(await admin.list_notifications(**q.model_dump()))


async def get_notification(request: web.Request, operator_id: int) -> web.Response:
    return json_response(await admin.get_notification(path_int(request, "id")))


async def retry_notification(request: web.Request, operator_id: int) -> web.Response:
    result = await admin.retry_notification(path_int(request, "id"))
    outbox.kick(request.app[RUNTIME_KEY])
    return json_response(result)


async def list_outbox(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, OutboxQuery)
    return json_response(await admin.list_outbox(**q.model_dump()))


async def retry_outbox(request: web.Request, operator_id: int) -> web.Response:
    result = await admin.retry_outbox(path_int(request, "id"))
    outbox.kick(request.app[RUNTIME_KEY])
    return json_response(result)


async def stats(request: web.Request, operator_id: int) -> web.Response:
    q = parse_query(request, StatsQuery)
    return json_response(await admin.delivery_stats(q.since, q.until))


def setup(app: web.Application) -> None:
    a = dict(tag="admin-notifications", auth=Auth.operator)
    p = "/api/admin/v1"
    api(app, "GET", f"{p}/notifications", list_notifications, summary="通知列表", query=NotificationQuery,
        response=NotificationListOut, **a)
    api(app, "GET", f"{p}/notifications/stats", stats, summary="按模板统计发送结果", query=StatsQuery,
        response=StatsOut, **a)
    api(app, "GET", f"{p}/notifications/{{id}}", get_notification, summary="通知详情（跳过或失败的原因）",
        response=NotificationOut, errors=(404,), **a)
    api(app, "POST", f"{p}/notifications/{{id}}/retry", retry_notification, summary="重试发送失败的通知",
        response=NotificationOut, errors=(404, 409), **a)
    api(app, "GET", f"{p}/outbox", list_outbox, summary="发件箱列表", query=OutboxQuery, response=OutboxListOut, **a)
    api(app, "POST", f"{p}/outbox/{{id}}/retry", retry_outbox, summary="重试失败的发件箱记录", response=OutboxOut,
        errors=(404, 409), **a)
