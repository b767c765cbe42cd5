"""Poster templates operators add (built-in styles live in huituan.posters) and which
template each poster kind uses."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class PosterTemplate(Model):
    """An operator-added poster template: the layout as JSON data, versioned on every change."""

    id = fields.BigIntField(primary_key=True)
    key = fields.CharField(32, unique=True)
    name = fields.CharField(32)
    spec = fields.JSONField()
    version = fields.IntField(default=1)
    created_by = fields.BigIntField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "poster_template"


class PosterTemplateChoice(Model):
    """The template a poster kind uses when the request names none (operators switch it)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(16, unique=True)
    template_key = fields.CharField(32)
    updated_by = fields.BigIntField(null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "poster_template_choice"
