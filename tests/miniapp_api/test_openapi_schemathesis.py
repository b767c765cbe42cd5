"""Acceptance: a bounded schemathesis run against the served OpenAPI document, on both backends.

- Positive mode (valid data): every operation with a user token, an operator token and no
  token; no 5xx, and every status, content type and body is the documented one.
- Negative mode (data that breaks the schema: wrong types, out-of-range numbers, missing or
  extra fields, bad path ids): every operation with no token and with a user token; no 5xx,
  the status is a documented one, negative data is refused with a 4xx, every error body has
  the {error, message, details} shape.

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
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from huituan.services.operators import create_operator

FINDINGS = Path("/tmp/schemathesis_findings.txt")
NEGATIVE_FINDINGS = Path("/tmp/schemathesis_negative_findings.txt")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error, status_code_conformance, negative_data_rejection]
EXAMPLES_PER_OPERATION = 6
TIME_BUDGET_SECONDS = 100.0
NEGATIVE_EXAMPLES_PER_OPERATION = 4
NEGATIVE_TIME_BUDGET_SECONDS = 40.0


def _error_shape(response) -> str | None:
    """A 4xx whose body is not {error, message (Chinese), details}: what is wrong, else None."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = response.json()
    except ValueError:
        return "error body is not JSON"
    if not isinstance(body, dict) or not {"error", "message", "details"} <= set(body):
        return f"error body lacks error/message/details: {str(body)[:200]}"
    if not any("\u4e00" <= ch <= "\u9fff" for ch in str(body["message"])):
        return f"error message is not Chinese: {body['message'][:200]}"
    return None


def _run_pass(schema, base_url: str, label: str, headers: dict[str, str], deadline: float,
              mode: GenerationMode = GenerationMode.POSITIVE) -> tuple[int, dict]:
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

        negative = mode is GenerationMode.NEGATIVE
        examples = NEGATIVE_EXAMPLES_PER_OPERATION if negative else EXAMPLES_PER_OPERATION

        @hsettings(max_examples=examples, deadline=None, database=None, derandomize=True,
                   phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case):
            nonlocal count
            count += 1
            try:
                response = case.call(base_url=base_url, headers=headers, timeout=10)
            except Exception as exc:  # the server hung up: as bad as a 5xx
                findings.setdefault((label, op_label, "request failed"), f"{type(exc).__name__}: {exc}")
                return
            shape = _error_shape(response)
            if shape is not None:
                findings.setdefault((label, op_label, "error shape"), (
                    f"{shape}\nreproduce: {case.as_curl_command(headers=headers, base_url=base_url)}"))
            try:
                case.validate_response(response, checks=NEGATIVE_CHECKS if negative else CHECKS, headers=headers)
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

        try:
            exercise()
        except Unsatisfiable:
            if not negative:
                raise
            # an operation with no parameters and no body has nothing to break
    return count, findings


def _write_findings(findings: dict, path: Path = FINDINGS) -> None:
    if not findings:
        path.write_text("schemathesis: no findings\n")
        return
    blocks = []
    for (label, op, title), text in sorted(findings.items()):
        blocks.append(f"[{label}] {op} — {title}\n{text}\n")
    path.write_text("\n".join(blocks))


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


async def test_schemathesis_negative_mode_never_a_server_error(client, settings):
    """Schema-breaking input, unauthenticated and as a user: 4xx in the error shape, never 5xx."""
    base_url = f"http://127.0.0.1:{settings.port}"
    resp = await client.post("/api/v1/auth/login", json={"code": "schemathesis-negative"})
    user_token = (await resp.json())["token"]

    def run() -> tuple[int, int, dict]:
        schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", timeout=10)
        operations = sum(1 for _ in schema.get_all_operations())
        deadline = time.monotonic() + NEGATIVE_TIME_BUDGET_SECONDS
        total, findings = 0, {}
        for label, headers in (("negative, no token", {}),
                               ("negative, user token", {"Authorization": f"Bearer {user_token}"})):
            n, found = _run_pass(schema, base_url, label, headers, deadline, GenerationMode.NEGATIVE)
            total += n
            findings.update(found)
        return operations, total, findings

    operations, cases, findings = await asyncio.to_thread(run)
    _write_findings(findings, NEGATIVE_FINDINGS)
    print(f"schemathesis negative: {cases} cases over {operations} operations")
    assert operations > 0
    assert cases >= operations
    summary = "\n".join(f"[{label}] {op} — {title}" for (label, op, title) in sorted(findings))
    assert not findings, f"{len(findings)} schemathesis findings (details in {NEGATIVE_FINDINGS}):\n{summary}"
