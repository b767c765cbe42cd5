"""Which template a poster uses: built-in styles (posters/builtin_templates.json) and the ones
operators add (PosterTemplate), the per-kind choice operators switch (PosterTemplateChoice),
and the version that goes into every poster's cache key."""

from __future__ import annotations

import re
import time
from typing import Any

from tortoise.exceptions import IntegrityError

from huituan.core.errors import Conflict, NotFound, ValidationFailed
from huituan.models.poster import PosterTemplate, PosterTemplateChoice
from huituan.posters.registry import KINDS
from huituan.posters.templates import builtin_defaults, builtin_templates, spec_hash, validate_spec

KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{1,31}$")
# The per-kind choices (a tiny table) read once per few seconds per process: other processes
# see a switch within CHOICES_TTL_SECONDS; this one at once.
CHOICES_TTL_SECONDS = 5.0
_choices: tuple[float, dict[str, str]] = (0.0, {})


async def _chosen(kind: str) -> str | None:
    global _choices
    now = time.monotonic()
    if _choices[0] <= now:
        _choices = (now + CHOICES_TTL_SECONDS, {c.kind: c.template_key for c in await PosterTemplateChoice.all()})
    return _choices[1].get(kind)


def forget_choices() -> None:
    global _choices
    _choices = (0.0, {})


def _check_key(key: str, field: str = "template") -> str:
    if not KEY_RE.match(key or ""):
        raise ValidationFailed(f"{field}: 模板标识为 2-32 位小写字母、数字、- 或 _，以字母开头", field=field)
    return key


async def resolve(kind: str, key: str | None, *, field: str = "template") -> tuple[str, str, dict[str, Any]]:
    """(template key, version, spec) for a poster of ``kind``: the named template, else the
    kind's chosen one, else its built-in default. The version changes with every edit.
    ``field`` is what the request called the key (errors name it)."""
    if not key:
        key = await _chosen(kind) or builtin_defaults()[kind]
    else:
        _check_key(key, field)
    builtin = builtin_templates().get(key)
    if builtin is not None:
        return key, f"builtin-{spec_hash(builtin)}", builtin
    row = await PosterTemplate.get_or_none(key=key)
    if row is None:
        raise NotFound(f"{field}: 海报模板不存在", code="poster_template_not_found", field=field)
    return key, f"{row.id}.{row.version}-{spec_hash(row.spec)}", row.spec


async def list_templates() -> dict[str, Any]:
    choices = {c.kind: c.template_key for c in await PosterTemplateChoice.all()}
    current = {k: choices.get(k, builtin_defaults()[k]) for k in KINDS}
    items = [{"key": k, "name": s["name"], "builtin": True, "version": f"builtin-{spec_hash(s)}", "spec": s}
             for k, s in builtin_templates().items()]
    for row in await PosterTemplate.all().order_by("id"):
        items.append({"key": row.key, "name": row.name, "builtin": False,
                      "version": f"{row.id}.{row.version}-{spec_hash(row.spec)}", "spec": row.spec})
    return {"items": items, "current": current}


async def save_template(operator_id: int, key: str, spec: Any) -> dict[str, Any]:
    """Add a template, or replace the spec of one added before (its version goes up)."""
    _check_key(key, "key")
    if key in builtin_templates():
        raise Conflict("key: 内置模板不能修改，请换一个标识", code="poster_template_builtin", field="key")
    checked = validate_spec(spec)
    row = await PosterTemplate.get_or_none(key=key)
    if row is None:
        try:
            row = await PosterTemplate.create(key=key, name=checked["name"], spec=checked, created_by=operator_id)
        except IntegrityError:
            raise Conflict("key: 模板标识已存在", code="poster_template_exists", field="key") from None
    else:
        row.spec, row.name, row.version = checked, checked["name"], row.version + 1
        await row.save(update_fields=["spec", "name", "version", "updated_at"])
    return {"key": row.key, "name": row.name, "builtin": False,
            "version": f"{row.id}.{row.version}-{spec_hash(row.spec)}", "spec": row.spec}


async def switch_template(operator_id: int, kind: str, key: str) -> dict[str, Any]:
    if kind not in KINDS:
        raise ValidationFailed(f"kind: 海报类型必须是 {'/'.join(KINDS)}", field="kind")
    _check_key(key, "key")
    if key not in builtin_templates() and not await PosterTemplate.filter(key=key).exists():
        raise NotFound("key: 海报模板不存在", code="poster_template_not_found", field="key")
    updated = await PosterTemplateChoice.filter(kind=kind).update(template_key=key, updated_by=operator_id)
    if not updated:
        try:
            await PosterTemplateChoice.create(kind=kind, template_key=key, updated_by=operator_id)
        except IntegrityError:  # a concurrent first switch: the last one wins
            await PosterTemplateChoice.filter(kind=kind).update(template_key=key, updated_by=operator_id)
    forget_choices()
    return {"kind": kind, "template_key": key}


SAMPLE_FIELDS = {
    "headline": "好物推荐，一起来买", "title": "阳光玫瑰青提 2 斤装【现摘现发】香甜脆爽，一口爆汁",
    "subtitle": "产地直发 · 坏果包赔", "price_fen": 3990, "reference_price_fen": 4990,
    "note": "3 人团 · 还差 1 人 · 12-31 20:00 结束", "sharer_name": "小惠", "member_avatars": ["", ""],
}
