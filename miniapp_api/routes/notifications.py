"""The user's subscribe-message quota and reminder preferences."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import json_response, parse_json, parse_query
from huituan.core.web.openapi import api
from huituan.miniapp_api.schemas.notifications import (
    PreferencesIn,
    PreferencesOut,
    ReminderIn,
    RemindersOut,
    SubscriptionQuery,
    SubscriptionResultIn,
    SubscriptionStatusOut,
)
from huituan.services.notifications import subscriptions


async def post_subscriptions(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, SubscriptionResultIn)
    return json_response(await subscriptions.record_subscription_result(user_id, body.result))


async def get_subscriptions(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, SubscriptionQuery)
    events = [e for e in (q.events or "").split(",") if e] or None
    return json_response(await subscriptions.subscription_status(user_id, events))


async def get_preferences(request: web.Request, user_id: int) -> web.Response:
    return json_response(await subscriptions.get_preferences(user_id))


async def put_preferences(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, PreferencesIn)
    return json_response(await subscriptions.set_preferences(user_id, body.events))


async def get_reminders(request: web.Request, user_id: int) -> web.Response:
    return json_response(await subscriptions.list_reminders(user_id))


async def post_reminder(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, ReminderIn)
    return json_response(await subscriptions.ask_reminder(user_id, body.event, body.ref_id), status=201)


async def delete_reminder(request: web.Request, user_id: int) -> web.Response:
    q = parse_query(request, ReminderIn)
    return json_response(await subscriptions.cancel_reminder(user_id, q.event, q.ref_id))


def setup(app: web.Application) -> None:
    tag = "notifications"
    api(app, "POST", "/api/v1/notifications/subscriptions", post_subscriptions, summary="上报订阅消息授权结果",
        tag=tag, auth=Auth.user, body=SubscriptionResultIn, response=SubscriptionStatusOut, errors=(422,),
        description="把 wx.requestSubscribeMessage 的结果原样上报：每个 accept 允许发送该模板一条消息。")
    api(app, "GET", "/api/v1/notifications/subscriptions", get_subscriptions, summary="订阅消息额度与下次请求的模板",
        tag=tag, auth=Auth.user, query=SubscriptionQuery, response=SubscriptionStatusOut, errors=(422,))
    api(app, "GET", "/api/v1/notifications/preferences", get_preferences, summary="通知偏好", tag=tag,
        auth=Auth.user, response=PreferencesOut)
    api(app, "PUT", "/api/v1/notifications/preferences", put_preferences, summary="设置通知偏好（关闭某类提醒）",
        tag=tag, auth=Auth.user, body=PreferencesIn, response=PreferencesOut, errors=(422,))
    api(app, "GET", "/api/v1/notifications/reminders", get_reminders, summary="我预约的提醒", tag=tag,
        auth=Auth.user, response=RemindersOut)
    api(app, "POST", "/api/v1/notifications/reminders", post_reminder, summary="预约提醒（如秒杀开抢提醒）", tag=tag,
        auth=Auth.user, body=ReminderIn, response=RemindersOut, status=201, errors=(404, 409),
        description="按下“提醒我”时调用；消息仍需用户对相应模板的订阅授权。秒杀场次不存在为 404（`ref_id`），"
                    "已结束为 409 flash_ended。")
    api(app, "DELETE", "/api/v1/notifications/reminders", delete_reminder, summary="取消预约的提醒", tag=tag,
        auth=Auth.user, query=ReminderIn, response=RemindersOut)
