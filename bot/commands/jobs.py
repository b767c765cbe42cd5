from __future__ import annotations

from huituan.bot.commands import BotContext, command, int_argument
from huituan.bot.commands.format import when
from huituan.core.errors import ValidationFailed
from huituan.services import reports


@command("任务", help="最近的定时任务运行记录", usage="任务 [条数]", example="任务 5")
async def recent_jobs(ctx: BotContext, args: list[str]) -> str:
    try:
        limit = int_argument(args, 0, name="条数", low=1, high=30, default=10)
    except ValidationFailed as exc:
        return f"{exc.message}，例如：任务 5"
    runs = await reports.recent_job_runs(limit)
    if not runs:
        return "还没有定时任务运行记录。"
    lines = [f"最近 {len(runs)} 次任务运行："]
    for r in runs:
        if r.finished_at is None:
            state = "运行中"
        elif r.ok:
            state = f"成功，处理 {r.processed} 条"
        else:
            reason = (r.detail or "").strip().splitlines()[0][:60] if r.detail else ""
            state = "失败" + (f"：{reason}" if reason else "")
        lines.append(f"· {when(r.started_at)} {r.job} —— {state}")
    return "\n".join(lines)
