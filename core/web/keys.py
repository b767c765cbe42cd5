"""Typed app-state keys (string keys warn on aiohttp 3.14)."""

from aiohttp import web

from huituan.core.runtime import Runtime
from huituan.core.settings import Settings

SETTINGS_KEY = web.AppKey("settings", Settings)
RUNTIME_KEY = web.AppKey("runtime", Runtime)
