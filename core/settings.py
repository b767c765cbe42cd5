"""One settings object for the whole service; every field can be set as HUITUAN_<NAME>.

With no settings at all the service runs embedded: an SQLite file under ./var, an
in-process Redis (``memory://``) and the WeChat sandbox mounted at /sandbox.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlparse

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "huituan-dev-secret-do-not-use-in-production"


class Environment(StrEnum):
    development = "development"
    test = "test"
    production = "production"


class EventLoop(StrEnum):
    uvloop = "uvloop"
    asyncio = "asyncio"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUITUAN_", extra="ignore")

    env: Environment = Field(Environment.development, description="development, test or production")
    host: str = Field("0.0.0.0", description="address `huituan serve` binds (127.0.0.1 while the sandbox is mounted, unless set)")
    trusted_proxies: str = Field(
        "", description="comma-separated addresses of your load balancers: their X-Forwarded-For names the client (login limit per IP)"
    )
    port: int = Field(8080, description="port `huituan serve` binds")
    public_base_url: str = Field(
        "", description="URL WeChat reaches us at (notify URLs); default http://127.0.0.1:<port>"
    )
    database_url: str = Field(
        "sqlite://./var/huituan.sqlite3", description="sqlite://path or postgres://user:pass@host:port/db"
    )
    database_pool_max: int = Field(20, description="PostgreSQL pool size per process")
    redis_url: str = Field("memory://", description="redis://host:port/db, or memory:// for in-process")
    redis_pool_max: int = Field(50, description="Redis blocking pool size per process")
    secret_key: str = Field(DEV_SECRET_KEY, description="signs login tokens; required in production")
    token_ttl_seconds: int = Field(7 * 24 * 3600, description="lifetime of a login token")
    log_level: str = Field("INFO", description="log level")
    log_json: bool = Field(True, description="structured JSON log lines")
    access_log: bool = Field(True, description="one JSON log line per request (request id, route, status, latency), written at INFO; false turns it off (so does HUITUAN_LOG_LEVEL above INFO)")
    event_loop: EventLoop = Field(
        EventLoop.uvloop, description="event loop of `serve` and `jobs`: uvloop (less CPU per request; asyncio's "
                                      "loop where uvloop is not installed) or asyncio")
    jobs_enabled: bool = Field(True, description="`serve` also runs the scheduler (or pass --no-jobs)")
    jobs_lease_seconds: float = Field(30, description="lifetime of the Redis jobs lease")
    jobs_interval_scale: float = Field(1.0, gt=0, description="divides every job interval (tests only)")

    # WeChat mini-program
    wechat_appid: str = Field("", description="mini-program app id; empty means the sandbox")
    wechat_secret: str = Field("", description="mini-program app secret")
    wechat_api_base: str = Field("", description="default https://api.weixin.qq.com (sandbox: local)")
    wechat_miniprogram_state: str = Field("formal", description="subscribe message target state")
    wechat_template_order_shipped: str = Field(
        "", description="subscribe template: order shipped (character_string1 订单号, thing2 商品, thing3 快递公司, "
                        "character_string4 快递单号); empty = not sent")
    wechat_template_order_ready_for_pickup: str = Field(
        "", description="subscribe template: ready for pickup (character_string1 订单号, thing2 商品, thing3 提货点, "
                        "thing4 温馨提示); empty = not sent")
    wechat_template_refund_result: str = Field(
        "", description="subscribe template: refund result (character_string1 订单号, amount2 退款金额, phrase3 退款状态, "
                        "thing4 备注); empty = not sent")
    wechat_template_activity_result: str = Field(
        "", description="subscribe template: group-buy result (thing1 活动, phrase2 结果, thing3 说明); empty = not sent")
    notification_templates: dict[str, str] = Field(
        {}, description="subscribe template ids by template name, JSON "
        "(see services/notifications/registry.py for names and keywords); empty = that message is not sent")
    quiet_hours_start: str = Field("22:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                   description="China time: non-urgent reminders wait from here ...")
    quiet_hours_end: str = Field("08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
                                 description="... until here (equal start and end: no quiet hours)")
    unpaid_remind_before_seconds: int = Field(300, description="remind an unpaid order this long before it closes")
    outbox_retention_days: int = Field(7, description="delivered outbox rows are deleted after this")
    notification_retention_days: int = Field(180, description="finished notification records are deleted after this")
    outbox_concurrency: int = Field(4, ge=1, le=64, description="messages the outbox job sends at a time")
    # WeChat Pay API v3 (platform public-key mode)
    wechatpay_api_base: str = Field("", description="default https://api.mch.weixin.qq.com")
    wechatpay_mchid: str = Field("", description="merchant id")
    wechatpay_private_key_path: str = Field("", description="merchant API private key (PEM)")
    wechatpay_cert_serial_no: str = Field("", description="merchant API certificate serial")
    wechatpay_apiv3_key: str = Field("", description="APIv3 key (32 bytes)")
    wechatpay_public_key_path: str = Field("", description="WeChat Pay platform public key (PEM)")
    wechatpay_public_key_id: str = Field("", description="WeChat Pay platform public key id (PUB_KEY_ID_...)")
    wechatpay_notify_max_skew_seconds: int = Field(300, description="reject notifies older/newer than this")
    sandbox_key_dir: str = Field(
        "", description="sandbox only: share the sandbox's generated Pay keys between processes through this folder"
    )
    # WeCom
    wecom_api_base: str = Field("", description="default https://qyapi.weixin.qq.com")
    wecom_corp_id: str = Field("", description="WeCom corp id")
    wecom_agent_id: str = Field("", description="WeCom app agent id")
    wecom_secret: str = Field("", description="WeCom app secret")
    wecom_token: str = Field("", description="callback token")
    wecom_encoding_aes_key: str = Field("", description="callback EncodingAESKey (43 chars)")
    wecom_robot_key: str = Field("", description="group robot webhook key")

    # Commerce rules
    order_pay_timeout_seconds: int = Field(900, description="unpaid orders close after this")
    order_auto_confirm_days: int = Field(10, description="shipped orders complete after this")
    order_max_items: int = Field(50, description="max distinct SKUs per order")
    order_max_quantity: int = Field(999, description="max quantity per SKU line")
    order_max_amount_fen: int = Field(
        50_000_000, le=2_000_000_000, description="largest order payable in one payment (fen); larger orders are refused")
    shipping_fee_fen: int = Field(0, description="flat express shipping fee")
    free_shipping_threshold_fen: int = Field(9900, description="goods amount at which shipping is free")
    product_cache_seconds: float = Field(2.0, description="in-process product detail cache TTL")
    # Activities
    bargain_help_rate_per_minute: int = Field(10, description="help-cut requests per user per minute")
    bargain_help_ip_rate_per_minute: int = Field(60, description="help-cut requests per IP per minute")
    bargain_new_user_hours: int = Field(24, description="a helper registered this recently gets the new-user cut")
    flash_claim_ttl_seconds: int = Field(900, description="default payment window of a flash-sale claim")
    flash_preload_minutes: int = Field(10, description="sessions starting this soon are loaded into Redis")
    flash_order_concurrency: int = Field(
        128, ge=1, le=1024, description="won flash-sale claims whose orders one process creates at once")
    flash_answer_backlog: int = Field(
        16, ge=0, le=100_000, description="a won claim waits for its order only while fewer orders are ahead of it in "
                                          "the process' line; otherwise it is answered 202 queued at once")
    flash_answer_wait_seconds: float = Field(
        1.0, gt=0, le=30, description="longest a won claim waits for its order before answering 202 queued")

    # Leaders and the bot
    bot_reply_budget_seconds: float = Field(
        3.5, gt=0, le=4.5, description="slower bot commands are acknowledged and their answer sent by the WeCom message API")
    robot_messages_per_minute: int = Field(20, ge=1, le=20, description="group robot rate limit per robot (WeCom allows 20)")

    # Share codes and posters
    share_h5_url: str = Field(
        "", description="H5 page a share code falls back to (its QR is drawn when no mini-program code can be had); "
                        "the code is appended as ?s=<code>; default <public base url>/h5/share")
    wxacode_page: str = Field("pages/share/index", description="mini-program page a poster code opens (no leading /)")
    wxacode_env_version: str = Field("release", description="release, trial or develop")
    wxacode_check_path: bool = Field(False, description="ask WeChat to check the page exists (fails before release)")
    wxacode_cache_seconds: int = Field(30 * 86400, description="how long a fetched mini-program code is kept (by scene)")
    poster_font_path: str = Field("", description="CJK font file for posters; default Noto Sans CJK from noto-cjk-sans-otc")
    poster_font_index: int = Field(2, description="face index inside a .ttc collection (2 = Simplified Chinese)")
    poster_render_mode: str = Field("process", pattern="^(process|thread)$", description="render pool kind: process or thread")
    poster_render_workers: int = Field(2, ge=1, le=64, description="render pool size per process")
    poster_render_nice: int = Field(
        10, ge=0, le=19, description="process pool only: workers run at this lower CPU priority so the event loop wins")
    poster_render_queue_max: int = Field(128, ge=1, description="renders queued or running per process; past it 429")
    poster_cache_memory_mb: int = Field(64, ge=0, description="in-process LRU of rendered posters (MiB)")
    poster_cache_shared: str = Field("redis", pattern="^(redis|disk|none)$", description="cross-process poster cache")
    poster_cache_shared_seconds: int = Field(7 * 86400, description="lifetime of a poster in the shared cache")
    poster_cache_disk_dir: str = Field("./var/posters", description="folder of the disk poster cache")
    poster_cache_disk_mb: int = Field(512, ge=1, description="size bound of the disk poster cache (MiB)")
    poster_request_cache_seconds: float = Field(
        2.0, ge=0, description="a sharer's repeated request for the same poster is answered from memory this long")
    poster_max_age_seconds: int = Field(300, description="Cache-Control max-age of poster images")
    poster_image_hosts: str = Field(
        "", description="comma-separated hosts poster images may be fetched from (empty: none, placeholders drawn)")
    poster_image_timeout_seconds: float = Field(3.0, description="timeout of one poster image fetch")
    poster_image_max_bytes: int = Field(3 * 1024 * 1024, description="largest poster image fetched")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str) -> str:
        problem = redis_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def sandbox(self) -> bool:
        """No app id configured: the WeChat sandbox stands in for WeChat, Pay and WeCom."""
        return not self.wechat_appid

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def base_url(self) -> str:
        return (self.public_base_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    def resolved_share_h5_url(self) -> str:
        return (self.share_h5_url or f"{self.base_url()}/h5/share").rstrip("/")

    def poster_image_host_set(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.poster_image_hosts.split(",") if h.strip())

    def resolved_wechat_api_base(self) -> str:
        if self.wechat_api_base:
            return self.wechat_api_base.rstrip("/")
        return f"{self.base_url()}/sandbox/wechat" if self.sandbox else "https://api.weixin.qq.com"

    def resolved_wechatpay_api_base(self) -> str:
        if self.wechatpay_api_base:
            return self.wechatpay_api_base.rstrip("/")
        return f"{self.base_url()}/sandbox/pay" if self.sandbox else "https://api.mch.weixin.qq.com"

    def resolved_wecom_api_base(self) -> str:
        if self.wecom_api_base:
            return self.wecom_api_base.rstrip("/")
        return f"{self.base_url()}/sandbox/wecom" if self.sandbox else "https://qyapi.weixin.qq.com"

    def production_problems(self) -> list[str]:
        """What keeps this configuration from running in production (empty list: fine)."""
        problems: list[str] = []
        if self.is_sqlite:
            problems.append("HUITUAN_DATABASE_URL 必须指向 PostgreSQL（当前为 SQLite）")
        if self.redis_url.startswith("memory://"):
            problems.append("HUITUAN_REDIS_URL 必须指向真实 Redis（当前为 memory://）")
        if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < 32:
            problems.append("HUITUAN_SECRET_KEY 未设置或少于 32 个字符")
        required = [
            "wechat_appid", "wechat_secret", "wechatpay_mchid", "wechatpay_private_key_path",
            "wechatpay_cert_serial_no", "wechatpay_apiv3_key", "wechatpay_public_key_path",
            "wechatpay_public_key_id", "public_base_url",
        ]
        for name in required:
            if not getattr(self, name):
                problems.append(f"HUITUAN_{name.upper()} 未设置（生产环境不能使用沙箱）")
        return problems


DATABASE_SCHEMES = ("sqlite", "postgres", "postgresql")
REDIS_SCHEMES = ("redis", "rediss", "unix", "memory")


def _url_shape_problem(value: str) -> str:
    try:
        u = urlparse(value)
        u.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return "端口不是数字 / the port is not a number"
    if not u.hostname:
        return "缺少主机名 / the host name is missing"
    return ""


def database_url_problem(value: str) -> str:
    """Empty when ``value`` is a database URL we can open; otherwise why not (Chinese / English)."""
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in DATABASE_SCHEMES:
        return ("只支持 sqlite://路径 或 postgres://用户:密码@主机:端口/库名 / "
                "only sqlite://path or postgres://user:pass@host:port/db are supported")
    if scheme == "sqlite":
        return "" if value[len("sqlite://"):] else "缺少文件路径 / the file path is missing"
    return _url_shape_problem(value)


def redis_url_problem(value: str) -> str:
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if scheme not in REDIS_SCHEMES:
        return ("只支持 redis://主机:端口/库号、rediss://、unix:// 或 memory:// / "
                "only redis://host:port/db, rediss://, unix:// or memory:// are supported")
    if scheme in ("redis", "rediss"):
        return _url_shape_problem(value)
    return ""


def load_settings(**overrides) -> Settings:
    return Settings(**overrides)


_SETTINGS_MESSAGES = {
    "enum": "取值必须是 {expected}",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "bool_parsing": "应为 true 或 false",
    "greater_than": "必须大于 {gt}",
    "less_than_equal": "不能大于 {le}",
}


def explain_settings_error(exc) -> list[str]:
    """One line per bad setting of a pydantic ``ValidationError`` raised by ``Settings()``:
    the environment variable, what is wrong in Chinese and in English, and the value given."""
    lines = []
    for err in exc.errors(include_url=False):
        name = "HUITUAN_" + "_".join(str(p) for p in err.get("loc", ())).upper()
        ctx = err.get("ctx") or {}
        if err["type"] == "value_error" and ctx.get("error"):
            text = str(ctx["error"])
        else:
            template = _SETTINGS_MESSAGES.get(err["type"], "取值不正确")
            try:
                chinese = template.format(**ctx).replace(" or ", " 或 ")
            except (KeyError, IndexError):
                chinese = template
            text = f"{chinese} / {err['msg']}"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f"（当前值 / got: {str(value).split('@')[-1][:80]!r}）"
        lines.append(f"{name}: {text}{shown}")
    return lines
