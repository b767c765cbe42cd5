"""Acceptance: a bounded schemathesis run against the served OpenAPI document. Every
operation is exercised with a user token, with an operator token and with no token; no
response may be a 5xx, and every status, content type and body must be the documented one.

Schemathesis drives the server synchronously (requests), so it runs in a worker thread while
the app keeps serving on the test's event loop. Failures are collected (not shrunk: the run is
bounded) and written to /tmp/schemathesis_findings.txt, one block per operation and check.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from huituan.services.operators import create_operator

FINDINGS = Path("/tmp/schemathesis_findings.txt")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 6
TIME_BUDGET_SECONDS = 100.0


def _run_pass(schema, base_url: str, label: str, headers: dict[str, str], deadline: float) -> tuple[int, dict]:
    """Every operation with a few generated cases; returns (cases run, findings)."""
    findings: dict[tuple[str, str, str], str] = {}
    count = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        op_label = f"{operation.method.upper()} {operation.path}"
        budget_left = deadline - time.monotonic()
        if budget_left <= 0:
            findings[(label, op_label, "time budget")] = "not run: the run's time budget was used up"
            continue

        @hsettings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def exercise(case):
            nonlocal count
            count += 1
            try:
                response = case.call(base_url=base_url, headers=headers, timeout=10)
            except Exception as exc:  # the server hung up: as bad as a 5xx
                findings.setdefault((label, op_label, "request failed"), f"{type(exc).__name__}: {exc}")
                return
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (AssertionError, BaseExceptionGroup) as exc:  # FailureGroup is a BaseExceptionGroup
                failures = getattr(exc, "exceptions", None) or [exc]
                for failure in failures:
                    title = getattr(failure, "title", type(failure).__name__)
                    key = (label, op_label, title)
                    if key not in findings:
                        findings[key] = (
                            f"{getattr(failure, 'message', str(failure)).strip()}\n"
                            f"response: {response.status_code} {response.text[:400]}\n"
                            f"reproduce: {case.as_curl_command(headers=headers, base_url=base_url)}"
                        )

        exercise()
    return count, findings


def _write_findings(findings: dict) -> None:
    if not findings:
        FINDINGS.write_text("schemathesis: no findings\n")
        return
    blocks = []
    for (label, op, title), text in sorted(findings.items()):
        blocks.append(f"[{label}] {op} — {title}\n{text}\n")
    FINDINGS.write_text("\n".join(blocks))


async def _tokens(client) -> tuple[str, str]:
    resp = await client.post("/api/v1/auth/login", json={"code": "schemathesis-user"})
    body = await resp.json()
    assert resp.status == 200, body
    user_token = body["token"]
    await create_operator("st-operator", "st-password-123", display_name="接口测试")
    resp = await client.post("/api/admin/v1/auth/login", json={"username": "st-operator", "password": "st-password-123"})
    body = await resp.json()
    assert resp.status == 200, body
    return user_token, body["token"]


async def test_schemathesis_against_the_served_document(client, settings):
    base_url = f"http://127.0.0.1:{settings.port}"
    user_token, operator_token = await _tokens(client)

    def run() -> tuple[int, int, dict]:
        schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", timeout=10)
        operations = sum(1 for _ in schema.get_all_operations())
        deadline = time.monotonic() + TIME_BUDGET_SECONDS
        total, findings = 0, {}
        for label, headers in (
            ("user token", {"Authorization": f"Bearer {user_token}"}),
            ("operator token", {"Authorization": f"Bearer {operator_token}"}),
            ("no token", {}),
        ):
            n, found = _run_pass(schema, base_url, label, headers, deadline)
            total += n
            findings.update(found)
        return operations, total, findings

    operations, cases, findings = await asyncio.to_thread(run)
    _write_findings(findings)
    assert operations > 0
    assert cases >= operations
    summary = "\n".join(f"[{label}] {op} — {title}" for (label, op, title) in sorted(findings))
    assert not findings, f"{len(findings)} schemathesis findings (details in {FINDINGS}):\n{summary}"
