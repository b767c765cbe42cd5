"""The WeCom edge: the callback (verify, decrypt, parse), the command registry, the handlers."""

from __future__ import annotations

from aiohttp import web

from huituan.bot import callback
from huituan.bot.commands import help, install, jobs, orders, today

COMMANDS = (help.show_help, orders.order, today.today, jobs.recent_jobs)


def register(app: web.Application) -> None:
    """Called by the composition root: the callback route and every command."""
    install(*COMMANDS)
    callback.setup(app)
