from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class JobRun(Model):
    """One run of a scheduled job: who ran it, when, and what it did."""

    id = fields.BigIntField(primary_key=True)
    job = fields.CharField(64, db_index=True)
    node = fields.CharField(128)
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField(null=True)
    ok = fields.BooleanField(default=False)
    processed = fields.IntField(default=0)
    detail = fields.TextField(default="")

    class Meta:
        table = "job_run"
