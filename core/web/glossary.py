"""Chinese descriptions of API field names, for the fields whose model gives none.

``build_openapi`` fills a property's (or parameter's) description from here when the model
left it out, so every field in the document is described in Chinese; a model's own
``Field(description=...)`` always wins. Names follow the glossary of docs/ARCHITECTURE.md.
"""

from __future__ import annotations

FIELD_DESCRIPTIONS: dict[str, str] = {
    # identities and paging
    "id": "编号", "user_id": "用户编号", "product_id": "商品编号", "sku_id": "SKU 编号", "order_id": "订单编号",
    "item_id": "订单明细编号", "order_item_id": "订单明细编号", "category_id": "分类编号", "leader_id": "团长编号",
    "pickup_point_id": "自提点编号", "refund_id": "退款申请编号", "payment_id": "未匹配支付的编号", "promoter_id": "推手（用户）编号",
    "operator_id": "运营账号编号", "level_id": "推手等级编号", "withdrawal_id": "提现申请编号", "ref_id": "关联记录编号",
    "old_promoter_id": "原推手编号", "new_promoter_id": "新推手编号", "previous_promoter_id": "之前的推手编号",
    "reviewed_by": "审核人（运营账号编号）", "page": "页码，从 1 开始", "page_size": "每页条数", "total": "总条数",
    "items": "列表", "rows": "逐行结果", "ids": "编号列表", "rank": "排序（数字小的在前）", "sort": "排序值（大的在前）",
    # catalog
    "title": "商品标题", "subtitle": "副标题", "name": "名称", "description": "说明（商品详情文字）",
    "main_image": "主图地址", "images": "图片地址列表", "image": "图片地址", "on_sale": "是否上架（在售）",
    "price_fen": "售价（分）", "original_price_fen": "参考原价（分）：仅供运营记录，顾客端从不展示（顾客看到的划线价是近 7 天真实最低价 struck_price_fen）", "price_from_fen": "最低在售价（分），列表展示用",
    "stock": "库存（件）", "sales": "销量：已付款件数减去已退款件数", "specs": "规格属性，如 {\"重量\": \"2.5kg\"}",
    "skus": "SKU 列表（规格）", "code": "编码", "sku_code": "SKU 编码", "sku_name": "规格名称",
    "is_active": "是否启用", "category": "分类名称", "products": "商品列表",
    # orders and money
    "order_no": "订单号（14 位 UTC 时间 + 10 位随机数）", "status": "状态", "delivery_mode": "配送方式：express 快递，pickup 自提",
    "address": "收货地址", "activity_type": "活动类型：normal 普通，group_buy 拼团，bargain 砍价，flash_sale 秒杀",
    "activity_ref": "活动编号", "goods_fen": "商品金额（分）", "discount_fen": "优惠金额（分）", "shipping_fen": "运费（分）",
    "payable_fen": "应付金额（分）", "paid_fen": "实付金额（分）", "refunded_fen": "已退款金额（分）",
    "amount_fen": "金额（分）", "unit_price_fen": "单价（分）", "quantity": "数量（件）", "refunded_quantity": "已退款件数",
    "remark": "买家备注", "pay_deadline": "支付截止时间（UTC）", "paid_at": "付款时间（UTC）", "shipped_at": "发货时间（UTC）",
    "completed_at": "完成时间（UTC）", "cancelled_at": "取消时间（UTC）", "cancel_reason": "取消原因",
    "express_company": "快递公司", "express_no": "快递单号", "transaction_id": "微信支付订单号",
    "refund_no": "退款单号", "reason": "原因", "note": "备注", "review_note": "审核备注", "whole_order": "是否整单退款",
    "automatic": "是否系统自动退款（订单取消后才到账的付款）", "wechat_refund_id": "微信退款单号",
    "finished_at": "结束时间（UTC）", "payments": "支付记录", "refunds": "退款记录", "payment": "支付参数",
    "sku": "SKU", "user": "用户", "operator": "运营账号", "approve": "是否同意",
    # people and places
    "phone": "手机号", "contact_phone": "联系电话", "receiver": "收货人姓名", "province": "省", "city": "市",
    "district": "区/县", "detail": "详细地址", "is_default": "是否默认地址", "latitude": "纬度", "longitude": "经度",
    "business_hours": "营业时间", "cutoff_time": "每日截单时间", "nickname": "昵称", "avatar_url": "头像地址",
    "real_name": "真实姓名", "username": "登录名", "password": "密码", "display_name": "显示名",
    "wecom_userid": "企业微信 userid（绑定后可用机器人指令）", "has_phone": "是否已绑定手机号", "is_new": "是否新注册用户",
    "token": "登录凭证（Bearer token）", "expires_in": "凭证有效期（秒）", "expires_at": "过期时间（UTC）",
    "scene": "分享场景值（推手邀请码）", "apply_note": "申请说明", "applied_at": "申请时间（UTC）",
    "approved_at": "审核通过时间（UTC）", "commission_bp": "团长佣金比例（基点，100 = 1%）",
    # time
    "created_at": "创建时间（UTC，ISO 8601）", "updated_at": "更新时间（UTC，ISO 8601）",
    # distribution and wallet
    "level": "推手等级", "promote_mode": "推广模式", "level1_bp": "一级佣金比例（基点）", "level2_bp": "二级佣金比例（基点）",
    "level1_value": "一级佣金数值（比例为基点，固定金额为分）", "level2_value": "二级佣金数值（比例为基点，固定金额为分）",
    "mode": "计算方式", "min_direct_invites": "升级所需直推人数", "min_team_spend_fen": "升级所需团队消费（分）",
    "min_own_spend_fen": "升级所需自购金额（分）", "action": "操作", "fee_fen": "手续费（分）", "net_fen": "实际到账（分）",
    "out_bill_no": "商家转账单号", "transfer_state": "微信转账状态", "fail_reason": "失败原因", "enabled": "是否开启",
    "bind_mode": "绑定关系方式", "new_user_window_seconds": "新用户判定时长（秒）",
    "promote_spend_threshold_fen": "成为推手所需消费金额（分）", "activity_normal": "普通商品是否计佣",
    "activity_group_buy": "拼团商品是否计佣", "activity_bargain": "砍价商品是否计佣", "activity_flash_sale": "秒杀商品是否计佣",
    "self_purchase_rebate": "推手自购是否返佣", "freeze_days": "佣金冻结天数（确认收货后）", "withdraw_min_fen": "最低提现金额（分）",
    "withdraw_fee_bp": "提现手续费（基点）", "withdraw_daily_count": "每日提现次数上限",
    "withdraw_daily_amount_fen": "每日提现金额上限（分）", "withdraw_real_name_threshold_fen": "需实名的提现金额门槛（分）",
    "withdraw_auto_approve_fen": "免审核提现金额上限（分）", "binding_valid_days": "绑定关系有效天数",
    "is_promoter": "是否推手", "own_spend_fen": "自购金额（分）", "spend_threshold_fen": "成为推手的消费门槛（分）",
    "can_apply": "能否申请", "bound": "是否已绑定", "has_bought": "是否已购买过", "bound_at": "绑定时间（UTC）",
    "level1_count": "直推人数", "self_purchase": "是否自购", "base_fen": "计佣基数（分）", "rate_bp": "比例（基点）",
    "fixed_per_unit_fen": "每件固定佣金（分）", "original_amount_fen": "原始金额（分）", "clawed_back_fen": "已追回金额（分）",
    "expected_settle_at": "预计结算时间（UTC）", "settled_at": "结算时间（UTC）", "pending_fen": "待结算（分）",
    "available_fen": "可提现（分）", "withdrawing_fen": "提现中（分）", "withdrawn_fen": "已提现（分）", "debt_fen": "欠款（分）",
    "can_withdraw": "能否提现", "bucket": "余额类别", "kind": "类型", "balance_after_fen": "变动后余额（分）",
    "ref_type": "关联记录类型", "idempotency_key": "幂等键", "balances": "余额",
    # import and misc
    "ok": "是否成功", "succeeded": "成功行数", "failed": "失败行数", "dry_run": "是否只校验不写入",
    "stock_mode": "已有 SKU 的库存处理：keep 不改，set 以表格为准", "row": "行号（从 1 开始）", "field": "出错的字段",
    "message": "中文说明", "error": "错误码（英文）", "details": "错误详情", "deleted": "是否已删除", "updated": "更新条数",
    "keyword": "关键词", "has_more": "是否还有下一页", "count": "数量",
}


def describe(name: str) -> str:
    return FIELD_DESCRIPTIONS.get(name, "")

# Activities: group-buy (拼团), bargain (砍价), flash sale (秒杀).
FIELD_DESCRIPTIONS.update({
    "activity": "活动", "activity_id": "活动编号", "session": "秒杀场次", "session_id": "秒杀场次编号",
    "group": "团", "order": "订单", "members": "团成员（只含真实成员）", "is_opener": "是否开团人", "paid": "是否已支付",
    "share_code": "团分享码", "size": "成团人数", "seats_left": "剩余名额", "seats_paid": "已支付名额",
    "seconds_left": "剩余秒数", "system_filled": "是否系统成团", "seat_status": "名额状态：reserved 已占座，paid 已支付，released 已释放",
    "waiting_text": "等待成团的提示文字", "group_size": "成团人数（2 到 100）", "groups_opened": "已开团数",
    "opener_free": "团长免单", "per_user_limit": "每人限购（拼团为每人可占名额数）", "total_limit": "可开团数，0 为不限",
    "virtual_fill": "是否开启系统成团（到期时按比例补足）", "virtual_fill_percent": "系统成团所需的已支付比例（%）",
    "commission_enabled": "是否计算佣金", "duration_hours": "时长（小时）", "starts_at": "开始时间（UTC）",
    "ends_at": "结束时间（UTC）", "sku_prices": "各规格的活动价", "groups_open": "进行中的团数",
    "groups_succeeded": "成团数", "groups_failed": "失败的团数", "groups_virtually_filled": "系统成团数",
    "paid_seats": "已支付名额数", "start_price_fen": "起始价（分）", "floor_price_fen": "底价（分）",
    "current_price_fen": "当前价（分）", "helpers_needed": "砍到底价需要的助力人数", "helpers_left": "还需要的助力人数",
    "helps_count": "已助力人数", "helps": "助力记录", "cut_min_fen": "每刀最少（分）", "cut_max_fen": "每刀最多（分）",
    "new_user_cut_fen": "新用户助力的较大一刀（分），0 为关闭", "helps_per_user": "每人在本活动可助力次数",
    "helps_per_user_day": "每人每天可助力次数", "allow_buy_at_current": "是否允许按当前价购买",
    "can_buy_now": "现在能否购买", "progress_percent": "砍价进度（%）", "cut_fen": "本刀砍掉（分）",
    "price_after_fen": "砍后价格（分）", "seq": "第几刀", "new_user": "是否新用户助力", "bargain": "砍价",
    "bargains": "各状态的砍价数", "sold": "已售出件数", "stock_left": "剩余库存（件）", "stock_total": "总库存（件）",
    "flash_price_fen": "秒杀价（分）", "claim_ttl_seconds": "抢购后支付时限（秒）", "phase": "阶段：upcoming 未开始，running 进行中，ended 已结束",
    "claims": "各状态的抢购数", "drifts": "库存差异记录", "db_stock": "数据库库存", "repaired": "是否已修复",
    "request_id": "请求的 Idempotency-Key",
})
