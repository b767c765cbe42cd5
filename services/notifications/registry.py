"""Every notification event, its channel and its template.

Subscribe messages (mini-program) carry service notices only: WeChat forbids marketing in
them, so an event marked ``marketing`` cannot use that channel (checked when the registry
is built); marketing goes to WeCom (a group robot) or nowhere.

A subscribe event names a ``template`` (several events may share one, e.g. both withdrawal
outcomes) whose id comes from the settings (``notification_templates`` JSON, or the older
``wechat_template_<name>`` fields); the sandbox uses ``sandbox-tpl-<name>`` placeholders.
Create each template in the mini-program console with the keywords listed in ``keywords``.
WeCom events carry a Chinese markdown ``text`` filled from the values.
"""

from __future__ import annotations

from dataclasses import dataclass

from huituan.models.notification import Channel


@dataclass(frozen=True)
class EventSpec:
    name: str
    title: str  # Chinese, shown in the preferences and the admin pages
    channel: Channel
    template: str = ""  # subscribe: the template name (settings key)
    keywords: tuple[str, ...] = ()  # subscribe: the template's keywords, in order
    page: str = ""  # subscribe: the page the message opens, formatted with the values given as page_args
    text: str = ""  # WeCom: markdown with {value} placeholders
    urgent: bool = False  # sent during quiet hours too (payment deadline, pickup today)
    can_disable: bool = True  # the user may turn it off (PUT /api/v1/notifications/preferences)
    marketing: bool = False

    def __post_init__(self) -> None:
        if self.marketing and self.channel == Channel.subscribe:
            raise ValueError(f"{self.name}: subscribe messages carry service notices only, not marketing")
        if self.channel == Channel.subscribe and not (self.template and self.keywords):
            raise ValueError(f"{self.name}: a subscribe event needs a template and its keywords")
        if self.channel != Channel.subscribe and not self.text:
            raise ValueError(f"{self.name}: a WeCom event needs its text")


ORDER_PAGE = "pages/order/detail?id={order_id}"
GROUP_PAGE = "pages/group/detail?code={code}"  # as services.activities.group_buy

_EVENTS = [
    # --- buyers: orders -----------------------------------------------------------------
    EventSpec("order_unpaid", "待付款提醒", Channel.subscribe, "order_unpaid",
              ("character_string1", "thing2", "amount3", "time4", "thing5"), ORDER_PAGE, urgent=True),
    EventSpec("order_shipped", "发货通知", Channel.subscribe, "order_shipped",
              ("character_string1", "thing2", "thing3", "character_string4"), ORDER_PAGE),
    EventSpec("order_ready_for_pickup", "到货待取通知", Channel.subscribe, "order_ready_for_pickup",
              ("character_string1", "thing2", "thing3", "thing4"), ORDER_PAGE, urgent=True),
    EventSpec("order_not_picked_up", "取货提醒", Channel.subscribe, "order_not_picked_up",
              ("character_string1", "thing2", "thing3", "number4", "thing5"), ORDER_PAGE),
    EventSpec("refund_result", "退款结果通知", Channel.subscribe, "refund_result",
              ("character_string1", "amount2", "phrase3", "thing4"), ORDER_PAGE),
    # --- buyers: activities (activities call notify when their situation arises) -----------
    EventSpec("group_closing_soon", "拼团即将截止", Channel.subscribe, "group_closing_soon",
              ("thing1", "number2", "time3", "thing4"), GROUP_PAGE),
    # The group result shares the activities' template (thing1 活动, phrase2 结果, thing3 说明).
    EventSpec("group_succeeded", "拼团成功通知", Channel.subscribe, "activity_result",
              ("thing1", "phrase2", "thing3"), GROUP_PAGE),
    EventSpec("group_failed", "拼团失败通知", Channel.subscribe, "activity_result",
              ("thing1", "phrase2", "thing3"), GROUP_PAGE),
    EventSpec("bargain_progress", "砍价进度通知", Channel.subscribe, "bargain_progress",
              ("thing1", "amount2", "amount3", "number4", "thing5"), "pages/bargain/detail?id={bargain_id}"),
    EventSpec("bargain_expiring", "砍价即将结束", Channel.subscribe, "bargain_expiring",
              ("thing1", "amount2", "time3", "thing4"), "pages/bargain/detail?id={bargain_id}"),
    # The user pressed "提醒我" on this session: a service notice they asked for.
    EventSpec("flash_sale_starting", "秒杀开始提醒", Channel.subscribe, "flash_sale_starting",
              ("thing1", "amount2", "time3", "thing4"), "pages/flash/detail?id={session_id}"),
    # Generic activity result (the activities' own template: thing1 活动, phrase2 结果, thing3 说明).
    EventSpec("activity_result", "活动结果通知", Channel.subscribe, "activity_result",
              ("thing1", "phrase2", "thing3"), "pages/index/index"),
    # --- promoters: money ----------------------------------------------------------------------
    EventSpec("commission_settled", "佣金到账通知", Channel.subscribe, "commission_settled",
              ("amount1", "number2", "date3", "thing4"), "pages/promoter/wallet"),
    EventSpec("withdrawal_paid", "提现到账通知", Channel.subscribe, "withdrawal_result",
              ("amount1", "phrase2", "time3", "thing4"), "pages/promoter/withdrawals"),
    EventSpec("withdrawal_failed", "提现失败通知", Channel.subscribe, "withdrawal_result",
              ("amount1", "phrase2", "time3", "thing4"), "pages/promoter/withdrawals"),
    # --- leaders and operators (WeCom) ----------------------------------------------------
    # The leaders' pickup day builds the summary text (services.pickup): passed as content.
    EventSpec("leader_daily_summary", "团长截单汇总", Channel.wecom_app, text="{content}"),
    EventSpec("operator_review_digest", "待审核事项汇总", Channel.wecom_app,
              text="**待审核事项（{time}）**\n{lines}\n请在管理后台处理。"),
    EventSpec("robot_announcement", "群机器人通知", Channel.robot, text="{content}", marketing=True),
]

REGISTRY: dict[str, EventSpec] = {e.name: e for e in _EVENTS}

# Placeholder ids in the sandbox (the older three kept their names for demos and tests).
_SANDBOX_NAMES = {"order_ready_for_pickup": "order-ready"}


def sandbox_template_id(template: str) -> str:
    return "sandbox-tpl-" + _SANDBOX_NAMES.get(template, template.replace("_", "-"))


def get(event: str) -> EventSpec:
    try:
        return REGISTRY[event]
    except KeyError:
        raise ValueError(f"unknown notification event {event!r}") from None


def user_events() -> list[EventSpec]:
    return [e for e in _EVENTS if e.channel == Channel.subscribe]


def template_id(settings, template: str) -> str:
    """The template id configured for ``template`` ("" = that message is not sent)."""
    if settings is None:
        return ""
    configured = (getattr(settings, "notification_templates", None) or {}).get(template) \
        or getattr(settings, f"wechat_template_{template}", "")
    if configured:
        return configured
    return sandbox_template_id(template) if settings.sandbox else ""
