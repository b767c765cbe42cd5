"""Admin: notifications and outbox with filters, why skipped or failed, retry, counts per template."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from huituan.services import notifications, outbox
from huituan.services.notifications.subscriptions import grant
from tests.factories import make_user
from tests.services.notifications.helpers import sent_with

TPL = "sandbox-tpl-refund-result"


async def _refund_notice(user_id: int, key: str) -> None:
    async with in_transaction() as conn:
        await notifications.notify("refund_result", user_id, {
            "character_string1": "HT0001", "amount2": 100, "phrase3": "退款成功", "thing4": "款项将原路退回"},
            conn=conn, dedupe_key=key, page_args={"order_id": 1})


async def test_list_explain_retry_and_count(client, rt, admin):
    refused, happy, broke = await make_user(openid="o-refused-9"), await make_user(), await make_user()
    for u in (refused, happy):
        await grant(u.id, TPL)
    for u in (refused, happy, broke):
        await _refund_notice(u.id, f"r{u.id}")
    await outbox.deliver_pending(rt)
    # the list filters by status and user
    resp = await client.get("/api/admin/v1/notifications?status=failed", headers=admin)
    data = await resp.json()
    assert resp.status == 200, data
    [failed] = data["items"]
    assert failed["user_id"] == refused.id and failed["error_code"] == 43101 and failed["reason"] == "errcode_43101"
    resp = await client.get(f"/api/admin/v1/notifications?user_id={broke.id}", headers=admin)
    [skipped] = (await resp.json())["items"]
    assert skipped["status"] == "skipped" and skipped["reason"] == "no_quota"
    # the detail shows the outbox row
    resp = await client.get(f"/api/admin/v1/notifications/{failed['id']}", headers=admin)
    detail = await resp.json()
    assert detail["outbox"]["status"] == "failed" and "43101" in detail["outbox"]["last_error"]
    # counts per template
    resp = await client.get("/api/admin/v1/notifications/stats", headers=admin)
    [row] = (await resp.json())["items"]
    assert (row["template_id"], row["sent"], row["failed"], row["skipped"]) == (TPL, 1, 1, 1)
    assert row["reasons"] == {"errcode_43101": 1, "no_quota": 1}
    # a skipped one cannot be retried; a failed one can (here WeChat refuses again)
    resp = await client.post(f"/api/admin/v1/notifications/{skipped['id']}/retry", headers=admin)
    assert resp.status == 409
    resp = await client.post(f"/api/admin/v1/notifications/{failed['id']}/retry", headers=admin)
    assert resp.status == 200 and (await resp.json())["status"] == "pending"
    await outbox.wait_idle()
    resp = await client.get(f"/api/admin/v1/notifications/{failed['id']}", headers=admin)
    assert (await resp.json())["outbox"]["attempts"] == 1  # a fresh try, failed at once again
    # the outbox list filters by kind and status, and a failed row can be retried there too
    resp = await client.get("/api/admin/v1/outbox?kind=notification&status=failed", headers=admin)
    [row] = (await resp.json())["items"]
    resp = await client.post(f"/api/admin/v1/outbox/{row['id']}/retry", headers=admin)
    assert resp.status == 200
    await outbox.wait_idle()
    resp = await client.get("/api/admin/v1/outbox?kind=notification&status=sent", headers=admin)
    assert (await resp.json())["total"] == 1
    assert len(await sent_with(client, TPL)) == 1
