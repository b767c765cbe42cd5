"""Withdrawals from the commission wallet, paid by WeChat Pay merchant transfer (商家转账).

    requested --approve (auto below the threshold, else an operator)--> approved
    approved  --transfer_bill accepted--> paying --notify/poll SUCCESS--> paid
    requested --reject--> rejected              (money back to available)
    paying    --notify/poll FAIL|CANCELLED--> failed   (money back to available)

Money: at request ``amount`` moves available -> withdrawing under the wallet's row lock (two
concurrent requests cannot both pass the balance check, and the guarded update would refuse
anyway). On paid, withdrawing -> withdrawn (net) and the fee leaves withdrawing to the platform.
``out_bill_no`` is derived from the withdrawal id, so a retried transfer never pays twice:
WeChat answers a repeated out_bill_no with the original bill.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from huituan.core.clock import china_day_bounds
from huituan.core.clock import utcnow as _now  # patched in tests
from huituan.core.errors import (
    Conflict,
    Forbidden,
    HuituanError,
    InvalidState,
    NotFound,
    NotifyMalformed,
    UpstreamError,
    ValidationFailed,
)
from huituan.core.money import percent_of, yuan
from huituan.core.wechat.pay import TRANSFER_NAME_REQUIRED_FEN
from huituan.models.outbox import OutboxKind, OutboxStatus
from huituan.models.user import User
from huituan.models.wallet import EntryKind, Withdrawal, WithdrawalStatus
from huituan.services import idempotency, outbox
from huituan.services.distribution_settings import get_settings
from huituan.services.wallet import ledger

log = logging.getLogger("huituan.withdrawals")

TRANSFER_REMARK = "推广佣金提现"
NOTIFY_PATH = "/api/v1/pay/transfer-notify"
FINAL_OK = "SUCCESS"
FINAL_FAIL = ("FAIL", "CANCELLED")
# Daily limits count every withdrawal of the day that was not given back.
COUNTED = (WithdrawalStatus.requested, WithdrawalStatus.approved, WithdrawalStatus.paying, WithdrawalStatus.paid)


class WalletInDebt(Conflict):
    code = "wallet_in_debt"
    message = "佣金账户存在欠款，还清前不能提现"


class DailyLimitReached(Conflict):
    code = "withdraw_daily_limit"
    message = "今日提现次数或金额已达上限"



def out_bill_no_for(withdrawal_id: int) -> str:
    """The merchant bill number: the withdrawal id (padded, WeChat wants 5-32 characters)."""
    return f"WD{withdrawal_id:010d}"


def withdrawal_to_dict(w: Withdrawal) -> dict[str, Any]:
    return {
        "id": w.id, "amount_fen": w.amount_fen, "fee_fen": w.fee_fen, "net_fen": w.net_fen,
        "status": str(w.status), "out_bill_no": w.out_bill_no, "transfer_state": w.transfer_state,
        # What wx.requestMerchantTransfer needs while the user has not confirmed yet.
        "package_info": w.package_info if w.status == WithdrawalStatus.paying and w.transfer_state in (
            "WAIT_USER_CONFIRM", "ACCEPTED", "PROCESSING", "") and w.package_info else None,
        "fail_reason": w.fail_reason or w.review_note if w.status in (WithdrawalStatus.failed,
                                                                      WithdrawalStatus.rejected) else "",
        "created_at": w.created_at.isoformat() if w.created_at else None,
        "finished_at": w.finished_at.isoformat() if w.finished_at else None,
    }


def transfer_key(withdrawal_id: int) -> str:
    return f"withdrawal:{withdrawal_id}:transfer"


async def _enqueue_transfer(withdrawal_id: int, conn) -> None:
    await outbox.enqueue(OutboxKind.transfer, transfer_key(withdrawal_id), {"withdrawal_id": withdrawal_id}, conn)


async def request_withdrawal(rt, user_id: int, amount_fen: int, real_name: str = "", *,
                             idempotency_key: str | None = None) -> dict[str, Any]:
    """Validate, hold the money (available -> withdrawing), auto-approve small amounts and start
    the transfer. Nothing is written when a check fails. With ``idempotency_key`` see
    request_withdrawal_once."""
    out, _ = await _request_withdrawal(rt, user_id, amount_fen, real_name, idempotency_key)
    return out


async def request_withdrawal_once(rt, user_id: int, idempotency_key: str, amount_fen: int,
                                  real_name: str = "") -> tuple[dict[str, Any], bool]:
    """The withdrawal request of the mini-program, keyed like orders: (withdrawal, created).
    The same (user, Idempotency-Key) returns the first withdrawal (created False), also when
    retried concurrently (the wallet row lock serialises them, UNIQUE (user, key) behind it);
    the same key with another amount or name is 422 idempotency_key_reused."""
    return await _request_withdrawal(rt, user_id, amount_fen, real_name, idempotency.check_key(idempotency_key))


async def _replay(user_id: int, key: str | None, fingerprint: str, conn=None) -> dict[str, Any] | None:
    if key is None:
        return None
    q = Withdrawal.get_or_none(user_id=user_id, idempotency_key=key)
    w = await (q.using_db(conn) if conn is not None else q)
    if w is None:
        return None
    idempotency.ensure_same_request(w.request_hash, fingerprint)
    return withdrawal_to_dict(w)


async def _request_withdrawal(rt, user_id: int, amount_fen: int, real_name: str,
                              key: str | None) -> tuple[dict[str, Any], bool]:
    fingerprint = idempotency.request_hash(amount_fen=amount_fen, real_name=(real_name or "").strip())
    # A replay answers with the first result even if the rules below would refuse it now.
    replay = await _replay(user_id, key, fingerprint)
    if replay is not None:
        return replay, False
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise ValidationFailed("amount_fen: 应为整数（分）", field="amount_fen")
    settings = await get_settings()
    if amount_fen < settings.withdraw_min_fen:
        raise ValidationFailed(f"amount_fen: 提现金额不能低于 {settings.withdraw_min_fen / 100:.2f} 元",
                               field="amount_fen", code="withdraw_below_minimum", min_fen=settings.withdraw_min_fen)
    fee = percent_of(amount_fen, settings.withdraw_fee_bp)  # floor: the user keeps the odd fen
    net = amount_fen - fee
    if net <= 0:
        raise ValidationFailed("amount_fen: 扣除手续费后金额须大于 0", field="amount_fen")
    real_name = (real_name or "").strip()
    # WeChat itself requires the payee's name from 2,000 yuan: the setting can only lower that.
    if amount_fen >= min(settings.withdraw_real_name_threshold_fen, TRANSFER_NAME_REQUIRED_FEN) and not real_name:
        raise ValidationFailed("real_name: 提现金额较大，请填写真实姓名", field="real_name", code="real_name_required")
    auto = amount_fen <= settings.withdraw_auto_approve_fen
    now = _now()
    async with in_transaction() as conn:
        # Tokens are stateless: a banned account is refused here, where money leaves.
        disabled = await User.filter(id=user_id).using_db(conn).values_list("is_disabled", flat=True)
        if not disabled or disabled[0]:
            raise Forbidden("账号已被停用，不能提现", code="user_disabled")
        wallets = await ledger.lock_wallets(conn, [user_id])  # serialises this user's withdrawals
        replay = await _replay(user_id, key, fingerprint, conn)  # a concurrent copy won the lock
        if replay is not None:
            return replay, False
        bal = wallets[user_id]
        if bal.debt > 0:
            raise WalletInDebt(debt_fen=bal.debt)
        if bal.available < amount_fen:
            raise ledger.InsufficientBalance(field="amount_fen", available_fen=bal.available)
        # The China day, as a UTC instant: SQLite compares stored timestamps as text.
        day_start, _ = china_day_bounds(now)
        today = await Withdrawal.filter(user_id=user_id, status__in=COUNTED, created_at__gte=day_start).using_db(
            conn).annotate(n=Count("id"), total=Sum("amount_fen")).values("n", "total")
        n_today = int(today[0]["n"] or 0) if today else 0
        sum_today = int(today[0]["total"] or 0) if today else 0
        if n_today >= settings.withdraw_daily_count:
            raise DailyLimitReached(f"每天最多提现 {settings.withdraw_daily_count} 次", field="amount_fen")
        if sum_today + amount_fen > settings.withdraw_daily_amount_fen:
            raise DailyLimitReached("超出今日可提现金额", field="amount_fen",
                                    remaining_fen=max(0, settings.withdraw_daily_amount_fen - sum_today))
        w = await Withdrawal.create(user_id=user_id, amount_fen=amount_fen, fee_fen=fee, net_fen=net,
                                    real_name=real_name, idempotency_key=key, request_hash=fingerprint,
                                    status=WithdrawalStatus.approved if auto else WithdrawalStatus.requested,
                                    approved_at=now if auto else None, using_db=conn)
        w.out_bill_no = out_bill_no_for(w.id)
        await Withdrawal.filter(id=w.id).using_db(conn).update(out_bill_no=w.out_bill_no)

        def plan(ws):
            return [
                ledger.Posting(user_id, "available", -amount_fen, EntryKind.withdraw_hold,
                               f"withdrawal:{w.id}:hold", "withdrawal", w.id),
                ledger.Posting(user_id, "withdrawing", amount_fen, EntryKind.withdraw_hold,
                               f"withdrawal:{w.id}:withdrawing", "withdrawal", w.id),
            ]

        await ledger.apply(conn, [user_id], plan, now=now)
        if auto:
            await _enqueue_transfer(w.id, conn)
    if auto:
        await _start_after_commit(rt, w.id)
    return withdrawal_to_dict(await Withdrawal.get(id=w.id)), True


async def _start_after_commit(rt, withdrawal_id: int) -> None:
    """Start the transfer once: by delivering its outbox message here (the answer then carries
    the package_info), through the outbox's claim, so the background delivery never makes a
    second transfer call. When WeChat does not answer, the outbox retries it (same
    out_bill_no: a retry never pays twice)."""
    if not await outbox.deliver_now(rt, transfer_key(withdrawal_id)):
        log.warning("transfer for withdrawal %s not started yet: the outbox retries", withdrawal_id)


# WeChat Pay answers that will not change on a retry: no bill was created, the money goes back.
# NOT_ENOUGH (merchant balance), FREQUENCY_LIMITED and SYSTEM_ERROR are retried instead.
_FINAL_TRANSFER_CODES = {"PARAM_ERROR", "INVALID_REQUEST", "NO_AUTH", "OPENID_MISMATCH", "ACCOUNT_ERROR",
                         "ACCOUNT_FROZEN", "NAME_MISMATCH"}


def _is_final_refusal(exc: HuituanError) -> bool:
    if isinstance(exc, ValidationFailed):
        return True  # our client refused to send it (e.g. a name WeChat requires is missing)
    return isinstance(exc, UpstreamError) and exc.details.get("wechat_code") in _FINAL_TRANSFER_CODES


async def _bill_exists(rt, out_bill_no: str) -> bool:
    """Whether WeChat has a bill under this number; unknown (network) errors propagate."""
    try:
        await rt.wechat.pay.query_transfer_bill(out_bill_no)
        return True
    except UpstreamError as exc:
        if exc.details.get("http_status") == 404 or exc.details.get("wechat_code") == "NOT_FOUND":
            return False
        raise


async def _begin_paying(w: Withdrawal) -> Withdrawal:
    """approved -> paying, or approved -> failed with the money back when the wallet went into
    debt after the request (a clawback cannot touch `withdrawing`; paying out would leave the
    platform owed). The returned money pays the debt down first, like any income."""
    now = _now()
    async with in_transaction() as conn:
        bal = (await ledger.lock_wallets(conn, [w.user_id]))[w.user_id]
        if bal.debt > 0:
            n = await Withdrawal.filter(id=w.id, status=WithdrawalStatus.approved).using_db(conn).update(
                status=WithdrawalStatus.failed, finished_at=now,
                fail_reason=f"账户存在欠款 {yuan(bal.debt)} 元，提现已退回并先抵扣欠款")
            if n:
                await ledger.apply(conn, [w.user_id], lambda ws: _return_plan(ws[w.user_id], w), now=now)
        else:
            await Withdrawal.filter(id=w.id, status=WithdrawalStatus.approved).using_db(conn).update(
                status=WithdrawalStatus.paying, paying_at=now)
    return await Withdrawal.get(id=w.id)


async def start_transfer(rt, withdrawal_id: int) -> dict[str, Any]:
    """approved -> paying, then ask WeChat Pay for the transfer bill (idempotent: called again
    for a paying withdrawal it re-sends the same out_bill_no and stores the answer).

    A refusal that a retry cannot change (and no bill exists at WeChat) ends it:
    paying -> failed with the money back, instead of retrying forever."""
    w = await Withdrawal.get_or_none(id=withdrawal_id)
    if w is None:
        raise NotFound("提现记录不存在", code="withdrawal_not_found")
    if w.status == WithdrawalStatus.approved:
        w = await _begin_paying(w)
    if w.status != WithdrawalStatus.paying:
        return withdrawal_to_dict(w)
    user = await User.get(id=w.user_id)
    try:
        answer = await rt.wechat.pay.transfer_bill(
            w.out_bill_no, user.openid, w.net_fen, TRANSFER_REMARK,
            rt.settings.base_url() + NOTIFY_PATH, user_name=w.real_name or None)
    except HuituanError as exc:
        if _is_final_refusal(exc) and not await _bill_exists(rt, w.out_bill_no):
            log.warning("transfer for withdrawal %s refused: %s %s", w.id, exc.message, exc.details)
            await apply_transfer_result(w.out_bill_no, "FAIL", None, f"微信支付拒绝转账：{exc.message}")
            return withdrawal_to_dict(await Withdrawal.get(id=w.id))
        raise
    state, transfer_bill_no, fail_reason = _answer_fields(answer, "transfer_bill")
    await Withdrawal.filter(id=w.id, status=WithdrawalStatus.paying).update(
        transfer_bill_no=transfer_bill_no, transfer_state=state,
        package_info=answer.get("package_info") or w.package_info)
    if state == FINAL_OK or state in FINAL_FAIL:
        await apply_transfer_result(w.out_bill_no, state, transfer_bill_no, fail_reason)
    return withdrawal_to_dict(await Withdrawal.get(id=w.id))


async def apply_transfer_result(out_bill_no: str, state: str, transfer_bill_no: str | None = None,
                                fail_reason: str = "") -> bool:
    """A transfer's final state from the notify or the poll. paying -> paid | failed, once:
    the compare-and-set on the status makes 50 identical notifies pay once."""
    w = await Withdrawal.get_or_none(out_bill_no=out_bill_no)
    if w is None:
        raise NotFound("转账单不存在", code="withdrawal_not_found")
    now = _now()
    if state == FINAL_OK:
        new = WithdrawalStatus.paid
    elif state in FINAL_FAIL:
        new = WithdrawalStatus.failed
    else:
        await Withdrawal.filter(id=w.id, status=WithdrawalStatus.paying).update(transfer_state=state)
        return False
    async with in_transaction() as conn:
        n = await Withdrawal.filter(id=w.id, status=WithdrawalStatus.paying).using_db(conn).update(
            status=new, transfer_state=state, finished_at=now, fail_reason=(fail_reason or w.fail_reason or "")[:200],
            **({"transfer_bill_no": transfer_bill_no} if transfer_bill_no else {}))
        if not n:
            return False  # already final (a repeated notify, or the poll got there first)
        if new == WithdrawalStatus.paid:
            def plan(ws):
                out = [ledger.Posting(w.user_id, "withdrawing", -w.net_fen, EntryKind.withdraw_paid,
                                      f"withdrawal:{w.id}:paid", "withdrawal", w.id),
                       ledger.Posting(w.user_id, "withdrawn", w.net_fen, EntryKind.withdraw_paid,
                                      f"withdrawal:{w.id}:withdrawn", "withdrawal", w.id)]
                if w.fee_fen:
                    out.append(ledger.Posting(w.user_id, "withdrawing", -w.fee_fen, EntryKind.withdraw_fee,
                                              f"withdrawal:{w.id}:fee", "withdrawal", w.id))
                return out
        else:
            def plan(ws):
                return _return_plan(ws[w.user_id], w)
        await ledger.apply(conn, [w.user_id], plan, now=now)
    return True


# What WeChat tells us about a bill is stored in these columns: held to their lengths when read,
# so a value they cannot hold is refused naming WeChat's field, never a database error.
_COLUMNS = Withdrawal._meta.fields_map
_OUT_BILL_NO_MAX = _COLUMNS["out_bill_no"].max_length
_STATE_MAX = _COLUMNS["transfer_state"].max_length
_BILL_NO_MAX = _COLUMNS["transfer_bill_no"].max_length
_FAIL_REASON_MAX = _COLUMNS["fail_reason"].max_length  # longer reasons are cut, not refused


def _notify_str(res: dict[str, Any], name: str, max_len: int = 64, required: bool = False) -> str:
    value = res.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > max_len or (required and not value):
        raise NotifyMalformed(f"resource.{name}: 格式错误", field=f"resource.{name}")
    return value


# WeChat Pay's states of a transfer bill (商家转账). Anything else is not a state we can show
# or act on: refused, never stored (a signed "WEIRD" was shown to the user).
BILL_STATES = frozenset({"ACCEPTED", "PROCESSING", "WAIT_USER_CONFIRM", "TRANSFERING", "SUCCESS", "FAIL",
                         "CANCELING", "CANCELLED"})


def _bill_fields(source: dict[str, Any]) -> tuple[str, str | None, str]:
    """(state, transfer_bill_no, fail_reason) of a transfer notify's resource or a WeChat Pay
    answer about a bill, held to our columns and WeChat's states (NotifyMalformed naming the
    field). A reason is only shown to people: a long one is cut, it never holds a final state
    back."""
    state = _notify_str(source, "state", _STATE_MAX, required=True)
    if state not in BILL_STATES:
        raise NotifyMalformed("resource.state: 不是微信支付的转账单状态", field="resource.state")
    transfer_bill_no = _notify_str(source, "transfer_bill_no", _BILL_NO_MAX) or None
    fail_reason = _notify_str(source, "fail_reason", 10_000)[:_FAIL_REASON_MAX]
    return state, transfer_bill_no, fail_reason


def _answer_fields(answer: Any, call: str) -> tuple[str, str | None, str]:
    """``_bill_fields`` of an answer: a malformed one is WeChat's failure (UpstreamError: the
    outbox or the poll asks again later), and nothing is stored from it."""
    try:
        if not isinstance(answer, dict):
            raise NotifyMalformed("resource: 格式错误", field="resource")
        fields = _bill_fields(answer)
        _notify_str(answer, "package_info", 10_000)
        return fields
    except NotifyMalformed as exc:
        log.error("WeChat Pay %s answered a malformed bill (%s): %r", call, exc.details.get("field"), answer)
        raise UpstreamError(f"微信支付返回的转账单格式错误：{exc.details.get('field')}",
                            wechat_call=call, field=exc.details.get("field")) from None


async def handle_transfer_notify(notify: dict[str, Any]) -> bool:
    """Apply one *verified* MCHTRANSFER.BILL.FINISHED notify (idempotent, see
    apply_transfer_result). Other event types are acknowledged and ignored; so is a bill we do
    not know (logged: an error answer would make WeChat retry it forever). Fields of the wrong
    type -> NotifyMalformed (400), nothing changed."""
    if not str(notify.get("event_type", "")).startswith("MCHTRANSFER"):
        return False
    resource = notify.get("resource")
    if not isinstance(resource, dict):
        raise NotifyMalformed("resource: 格式错误", field="resource")
    out_bill_no = _notify_str(resource, "out_bill_no", _OUT_BILL_NO_MAX, required=True)
    state, transfer_bill_no, fail_reason = _bill_fields(resource)
    if "transfer_amount" in resource and (isinstance(resource["transfer_amount"], bool) or not isinstance(
            resource["transfer_amount"], int) or resource["transfer_amount"] <= 0):
        raise NotifyMalformed("resource.transfer_amount: 金额格式错误", field="resource.transfer_amount")
    w = await Withdrawal.get_or_none(out_bill_no=out_bill_no)
    if w is None:
        log.error("transfer notify for unknown bill %s (state %s, transfer %s): acknowledged, nothing changed",
                  out_bill_no, state, transfer_bill_no)
        return False
    _check_amount(resource, w, NotifyMalformed)
    return await apply_transfer_result(out_bill_no, state, transfer_bill_no, fail_reason)


def _check_amount(source: dict[str, Any], w: Withdrawal, error: type) -> None:
    """The bill is for what we asked to pay (net of the fee): a bill of another amount is not
    this withdrawal's, whatever it says (a signed SUCCESS for 1 fen booked 100 as withdrawn)."""
    amount = source.get("transfer_amount")
    if amount is not None and amount != w.net_fen:
        log.error("transfer bill %s says %r fen, withdrawal %s pays %s: not applied", w.out_bill_no, amount, w.id,
                  w.net_fen)
        raise error(f"resource.transfer_amount: 与提现金额 {w.net_fen} 分不符", field="resource.transfer_amount")


def _return_plan(bal: ledger.Balances, w: Withdrawal) -> list[ledger.Posting]:
    # Money given back pays down any debt booked meanwhile first, like any income.
    return ledger.credit_income(bal, w.amount_fen, kind=EntryKind.withdraw_return, key=f"withdrawal:{w.id}:return",
                                ref_type="withdrawal", ref_id=w.id, source_bucket="withdrawing",
                                source_kind=EntryKind.withdraw_return, source_key=f"withdrawal:{w.id}:unhold")


async def review_withdrawal(rt, withdrawal_id: int, approve: bool, operator_id: int, note: str = "") -> dict[str, Any]:
    """Operator: requested -> approved (then the transfer starts) or requested -> rejected."""
    now = _now()
    async with in_transaction() as conn:
        w = await Withdrawal.get_or_none(id=withdrawal_id).using_db(conn)
        if w is None:
            raise NotFound("提现记录不存在", code="withdrawal_not_found")
        if not approve and not note.strip():
            raise ValidationFailed("note: 驳回时请填写原因", field="note")
        if w.status == WithdrawalStatus.requested:
            # The wallet before the withdrawal on both branches (reject's ledger.apply takes it):
            # approve took wallet then withdrawal, reject the other way round, and an approve
            # and a reject at once deadlocked on PostgreSQL (attacker pass, session 8).
            bal = (await ledger.lock_wallets(conn, [w.user_id]))[w.user_id]
            if approve and bal.debt > 0:
                raise WalletInDebt(f"该用户佣金账户有欠款 {yuan(bal.debt)} 元：请驳回此提现（退回的金额先抵扣欠款）",
                                   debt_fen=bal.debt)
        if approve:
            n = await Withdrawal.filter(id=w.id, status=WithdrawalStatus.requested).using_db(conn).update(
                status=WithdrawalStatus.approved, reviewed_by=operator_id, review_note=note[:200], approved_at=now)
        else:
            n = await Withdrawal.filter(id=w.id, status=WithdrawalStatus.requested).using_db(conn).update(
                status=WithdrawalStatus.rejected, reviewed_by=operator_id, review_note=note[:200], finished_at=now)
        if not n:
            raise InvalidState("该提现已处理", code="withdrawal_already_reviewed", status=str(w.status))
        if approve:
            await _enqueue_transfer(w.id, conn)
        else:
            await ledger.apply(conn, [w.user_id], lambda ws: _return_plan(ws[w.user_id], w), now=now)
    if approve:
        await _start_after_commit(rt, w.id)
    return withdrawal_to_dict(await Withdrawal.get(id=withdrawal_id))


async def poll_transfers(rt, older_than_seconds: int = 0, limit: int = 200) -> int:
    """Job: start approved transfers that did not start, and ask WeChat Pay about paying ones
    (the notify may be lost). Returns how many withdrawals reached a final state or started."""
    cutoff = _now() - timedelta(seconds=older_than_seconds)
    done = 0
    for w in await Withdrawal.filter(status__in=(WithdrawalStatus.approved, WithdrawalStatus.paying)).order_by(
            "id").limit(limit):
        try:
            if w.status == WithdrawalStatus.approved or not w.transfer_bill_no:
                if (w.approved_at or w.created_at) <= cutoff and await _restart_transfer(rt, w.id):
                    done += 1
                continue
            if w.paying_at and w.paying_at > cutoff:
                continue
            bill = await rt.wechat.pay.query_transfer_bill(w.out_bill_no)
            fields = _answer_fields(bill, "query_transfer_bill")
            _check_amount(bill, w, UpstreamError)
            if await apply_transfer_result(w.out_bill_no, *fields):
                done += 1
        except HuituanError:
            log.warning("polling transfer of withdrawal %s failed", w.id, exc_info=True)
    return done


async def _restart_transfer(rt, withdrawal_id: int) -> bool:
    """A transfer that did not start: its outbox message again (never a call of our own, so
    the outbox's retries and this job cannot both call WeChat). A message still pending is the
    outbox's: left alone. True when the delivery went through."""
    key = transfer_key(withdrawal_id)
    status = await outbox.status_of(key)
    if status == OutboxStatus.pending:
        return False
    if status is None:
        await _enqueue_transfer(withdrawal_id, None)
    else:
        await outbox.requeue(key)
    return await outbox.deliver_now(rt, key)


# -- a transfer the user has not confirmed, when the wallet goes into debt ---------------------

async def on_wallet_in_debt(user_id: int, conn, **_) -> None:
    """WALLET_IN_DEBT (in the transaction that booked the debt): the user's transfers that are
    started but not confirmed are cancelled at WeChat (撤销转账), so the money comes back and
    pays the debt down instead of leaving while the platform is owed. Queued in the outbox,
    delivered after commit (deliver_transfer_cancel)."""
    ids = await Withdrawal.filter(user_id=user_id, status=WithdrawalStatus.paying).using_db(conn).values_list(
        "id", flat=True)
    for wid in ids:
        await outbox.enqueue(OutboxKind.transfer_cancel, f"withdrawal:{wid}:cancel", {"withdrawal_id": wid}, conn)
        log.warning("wallet of user %s went into debt: transfer of withdrawal %s is being cancelled", user_id, wid)


async def deliver_transfer_cancel(rt, payload: dict[str, Any]) -> None:
    """Outbox handler for kind "transfer_cancel": paying -> (CANCELLED at WeChat) -> failed with
    the money back (debt first), through apply_transfer_result. WeChat cancels only before the
    user confirms: when it refuses, the bill's real state is queried and applied (the user
    confirmed first: paid). A bill WeChat does not have yet (the start is on its way) is retried."""
    w = await Withdrawal.get_or_none(id=int(payload["withdrawal_id"]))
    if w is None or w.status != WithdrawalStatus.paying:
        return  # final already
    # The reason goes in before WeChat is asked: its CANCELLED notify can finish the
    # withdrawal before this call returns, and the notify carries no reason of ours.
    await Withdrawal.filter(id=w.id, status=WithdrawalStatus.paying).update(fail_reason=_DEBT_CANCEL_REASON)
    try:
        answer = await rt.wechat.pay.cancel_transfer_bill(w.out_bill_no)
    except UpstreamError as exc:
        if exc.details.get("http_status") == 404 or exc.details.get("wechat_code") == "NOT_FOUND":
            raise  # the transfer call has not reached WeChat yet: try again after it has
        if exc.details.get("wechat_code") not in ("INVALID_REQUEST", "STATE_NOT_SUPPORTED"):
            raise
        bill = await rt.wechat.pay.query_transfer_bill(w.out_bill_no)
        await apply_transfer_result(w.out_bill_no, *_answer_fields(bill, "query_transfer_bill"))
        return
    state, transfer_bill_no, _ = _answer_fields(answer, "cancel_transfer_bill")
    if state in FINAL_FAIL:
        await apply_transfer_result(w.out_bill_no, state, transfer_bill_no, _DEBT_CANCEL_REASON)
    else:  # CANCELING: the notify (or poll_transfers) brings CANCELLED
        await Withdrawal.filter(id=w.id, status=WithdrawalStatus.paying).update(
            transfer_state=state, fail_reason=_DEBT_CANCEL_REASON)


_DEBT_CANCEL_REASON = "佣金账户出现欠款，转账已撤销，金额退回后先抵扣欠款"


async def get_withdrawal(user_id: int, withdrawal_id: int) -> dict[str, Any]:
    w = await Withdrawal.get_or_none(id=withdrawal_id, user_id=user_id)
    if w is None:  # someone else's id looks exactly like a missing one
        raise NotFound("提现记录不存在", code="withdrawal_not_found")
    return withdrawal_to_dict(w)


async def list_withdrawals(user_id: int | None = None, status: str | None = None, page: int = 1,
                           page_size: int = 20) -> dict[str, Any]:
    q = Withdrawal.all()
    if user_id is not None:
        q = q.filter(user_id=user_id)
    if status:
        q = q.filter(status=status)
    total = await q.count()
    rows = await q.order_by("-id").offset((page - 1) * page_size).limit(page_size)
    items = []
    for w in rows:
        d = withdrawal_to_dict(w)
        if user_id is None:
            d["user_id"] = w.user_id
            d["real_name"] = w.real_name
        items.append(d)
    return {"total": total, "items": items}


async def deliver_transfer(rt, payload: dict[str, Any]) -> None:
    await start_transfer(rt, int(payload["withdrawal_id"]))

