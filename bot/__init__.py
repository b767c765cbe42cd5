"""The WeCom edge: the callback (verify, decrypt, parse), the command registry, the handlers."""

from __future__ import annotations

from aiohttp import web

from huituan.bot import callback
from huituan.bot.commands import help, install, jobs, leader_day, leader_shop, orders, review, today

COMMANDS = (
    help.show_help, help.bind,
    # leaders
    leader_day.today, leader_day.picklist, leader_shop.open_group, leader_shop.poster, leader_day.arrived,
    leader_day.verify, leader_day.report_shortage, leader_shop.wallet, leader_shop.withdraw, leader_shop.team,
    leader_shop.switch_on, leader_shop.switch_off, leader_day.cutoff, leader_shop.broadcast,
    # operators
    review.queue, review.approve, review.reject, today.today, orders.order, jobs.recent_jobs,
)


def register(app: web.Application) -> None:
    """Called by the composition root: the callback route and every command."""
    install(*COMMANDS)
    callback.setup(app)
