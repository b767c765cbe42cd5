"""The leader centre of the mini-program (团长中心): apply, profile, staff, WeCom bind code,
group robot, store products, the point day (summary, pick list, CSV, printable page),
arrival, pickup verification (by code or scan) and shortage reports."""

from __future__ import annotations

from aiohttp import web

from huituan.core.web.auth import Auth
from huituan.core.web.http import parse_json, parse_query, path_int
from huituan.core.web.keys import RUNTIME_KEY
from huituan.core.web.openapi import api
from huituan.miniapp_api.admin.schemas import respond
from huituan.miniapp_api.schemas import leaders as s
from huituan.models.leader import ShortageKind
from huituan.services import leader_store, leaders, pickup_points
from huituan.services.pickup import arrival, day, shortage, tickets


async def apply(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.LeaderApplyIn)
    return respond(s.LeaderProfileOut, await leaders.apply_leader(user_id, body.model_dump()), 201)


async def profile(request: web.Request, user_id: int) -> web.Response:
    return respond(s.LeaderProfileOut, await leaders.get_profile(user_id))


async def bind_code(request: web.Request, user_id: int) -> web.Response:
    return respond(s.BindCodeOut, await leaders.issue_leader_bind_code(user_id), 201)


async def add_staff(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.StaffIn)
    return respond(s.LeaderProfileOut, await leaders.add_staff(user_id, body.user_id, body.name))


async def remove_staff(request: web.Request, user_id: int) -> web.Response:
    return respond(s.LeaderProfileOut, await leaders.remove_staff(user_id, path_int(request, "user_id")))


async def staff_invitations(request: web.Request, user_id: int) -> web.Response:
    return respond(s.StaffInvitationListOut, await leaders.staff_invitations(user_id))


async def accept_staff_invitation(request: web.Request, user_id: int) -> web.Response:
    return respond(s.StaffInvitationListOut,
                   await leaders.accept_staff_invitation(user_id, path_int(request, "leader_id")))


async def leave_staff(request: web.Request, user_id: int) -> web.Response:
    return respond(s.StaffInvitationListOut, await leaders.leave_staff(user_id, path_int(request, "leader_id")))


async def set_robot(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.RobotIn)
    return respond(s.LeaderProfileOut, await leaders.set_robot(user_id, body.webhook))


async def set_cutoff(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.CutoffIn)
    return respond(s.CutoffOut, await pickup_points.set_cutoff(user_id, body.cutoff_time))


async def my_store(request: web.Request, user_id: int) -> web.Response:
    leader = await leaders.approved_leader_of_user(user_id)
    return respond(s.StoreOut, {"leader_id": leader.id, "leader_name": leader.name,
                                "items": await leader_store.store_products(leader.id, include_off=True)})


async def switch_product(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.StoreSwitchIn)
    leader = await leaders.approved_leader_of_user(user_id)
    await leader_store.set_product_enabled(leader.id, path_int(request, "product_id"), body.enabled)
    return respond(s.StoreOut, {"leader_id": leader.id, "leader_name": leader.name,
                                "items": await leader_store.store_products(leader.id, include_off=True)})


async def _report(request: web.Request, user_id: int) -> dict:
    q = parse_query(request, s.DayQuery)
    point = await day.point_for_actor(user_id, q.pickup_point_id)
    return await day.day_report(point.id, tickets.parse_day(q.day))


async def day_report(request: web.Request, user_id: int) -> web.Response:
    return respond(s.DayReportOut, await _report(request, user_id))


def _download(text: str, name: str) -> web.Response:
    return web.Response(text=text, content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def summary_csv(request: web.Request, user_id: int) -> web.Response:
    rep = await _report(request, user_id)
    return _download(day.summary_csv(rep), f"summary-{rep['pickup_point_id']}-{rep['day']}.csv")


async def picklist_csv(request: web.Request, user_id: int) -> web.Response:
    rep = await _report(request, user_id)
    return _download(day.picklist_csv(rep), f"picklist-{rep['pickup_point_id']}-{rep['day']}.csv")


async def printable(request: web.Request, user_id: int) -> web.Response:
    return web.Response(text=day.printable_html(await _report(request, user_id)), content_type="text/html",
                        charset="utf-8")


async def announce_arrival(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.ArrivalIn)
    res = await arrival.announce_arrival(user_id, tickets.parse_day(body.day), pickup_point_id=body.pickup_point_id)
    return respond(s.ArrivalOut, res)


async def verify(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.VerifyIn)
    return respond(s.VerifyOut, await arrival.verify_pickup(user_id, body.code, redis=request.app[RUNTIME_KEY].redis))


async def report_shortage(request: web.Request, user_id: int) -> web.Response:
    body = await parse_json(request, s.ShortageIn)
    rt = request.app[RUNTIME_KEY]
    res = await shortage.report_shortage(rt, user_id, body.product_id, body.quantity,
                                         tickets.parse_day(body.day) if body.day else None,
                                         kind=ShortageKind(body.kind), note=body.note)
    return respond(s.ShortageOut, res, 201)


SUMMARY_CSV_EXAMPLE = "商品,规格,数量,金额（元）\r\n烟台红富士苹果,2.5kg 装,12,358.80\r\n"
PICKLIST_CSV_EXAMPLE = ("提货码,收货人,手机,订单号,商品,规格,数量,已提货\r\n"
                        "12345678,张三,138****0000,202405010430014821937560,烟台红富士苹果,2.5kg 装,2,否\r\n")


def setup(app: web.Application) -> None:
    u = dict(auth=Auth.user, tag="leader")
    api(app, "POST", "/api/v1/leader/apply", apply, summary="申请成为团长", body=s.LeaderApplyIn,
        response=s.LeaderProfileOut, status=201, errors=(409,), **u)
    api(app, "GET", "/api/v1/leader/me", profile, summary="团长资料", response=s.LeaderProfileOut, errors=(404,), **u)
    api(app, "POST", "/api/v1/leader/wecom-bind-code", bind_code, summary="获取企业微信绑定码",
        response=s.BindCodeOut, status=201, errors=(403,), **u)
    api(app, "POST", "/api/v1/leader/staff", add_staff, summary="邀请店员（对方接受后可核销）", body=s.StaffIn,
        response=s.LeaderProfileOut, errors=(403, 404, 409), **u,
        description="店员在小程序「我的店员邀请」里接受之前没有任何权限（不能核销、看不到提货单）。")
    api(app, "DELETE", "/api/v1/leader/staff/{user_id}", remove_staff, summary="移除店员（或撤回邀请）",
        response=s.LeaderProfileOut, errors=(403,), **u)
    api(app, "GET", "/api/v1/me/staff-invitations", staff_invitations, summary="我的店员邀请",
        response=s.StaffInvitationListOut, **u)
    api(app, "POST", "/api/v1/me/staff-invitations/{leader_id}/accept", accept_staff_invitation,
        summary="接受店员邀请", response=s.StaffInvitationListOut, errors=(404, 409), **u)
    api(app, "DELETE", "/api/v1/me/staff-invitations/{leader_id}", leave_staff,
        summary="拒绝店员邀请，或不再担任该团长的店员", response=s.StaffInvitationListOut, errors=(404,), **u)
    api(app, "PUT", "/api/v1/leader/robot", set_robot, summary="登记顾客群的群机器人", body=s.RobotIn,
        response=s.LeaderProfileOut, errors=(403,), **u)
    api(app, "PUT", "/api/v1/leader/cutoff", set_cutoff, summary="设置截单时间", body=s.CutoffIn,
        response=s.CutoffOut, errors=(403, 404, 422), **u)
    api(app, "GET", "/api/v1/leader/store", my_store, summary="我的小店商品（含已下架）", response=s.StoreOut,
        errors=(403,), **u)
    api(app, "PUT", "/api/v1/leader/store/products/{product_id}", switch_product, summary="小店商品上架/下架",
        body=s.StoreSwitchIn, response=s.StoreOut, errors=(403,), **u)
    api(app, "GET", "/api/v1/leader/day", day_report, summary="汇总单与分拣单", query=s.DayQuery,
        response=s.DayReportOut, errors=(403, 404), **u)
    api(app, "GET", "/api/v1/leader/day/summary.csv", summary_csv, summary="汇总单 CSV", query=s.DayQuery,
        response_content_type="text/csv", response_example=SUMMARY_CSV_EXAMPLE, errors=(403, 404), **u)
    api(app, "GET", "/api/v1/leader/day/picklist.csv", picklist_csv, summary="分拣单 CSV", query=s.DayQuery,
        response_content_type="text/csv", response_example=PICKLIST_CSV_EXAMPLE, errors=(403, 404), **u)
    api(app, "GET", "/api/v1/leader/day/print", printable, summary="可打印的汇总单与分拣单", query=s.DayQuery,
        response_content_type="text/html", response_example="<!doctype html><html lang='zh-CN'>…</html>",
        errors=(403, 404), **u)
    api(app, "POST", "/api/v1/leader/arrival", announce_arrival, summary="到货通知", body=s.ArrivalIn,
        response=s.ArrivalOut, errors=(403, 404), **u)
    api(app, "POST", "/api/v1/leader/verify", verify, summary="核销提货码（输入或扫码）", body=s.VerifyIn,
        response=s.VerifyOut, errors=(403, 404, 409), **u)
    api(app, "POST", "/api/v1/leader/shortages", report_shortage, summary="报损（自动退款）", body=s.ShortageIn,
        response=s.ShortageOut, status=201, errors=(403, 404, 409), **u)
