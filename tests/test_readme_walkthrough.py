"""The README's curl walkthrough works as written: migrate, load demo data and serve exactly as
`make run` does (embedded SQLite, memory:// Redis, the sandbox), then run the shell block."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import BACKEND, free_port

ROOT = Path(__file__).resolve().parents[1]
HUITUAN = [sys.executable, "-m", "huituan.cli"]

pytestmark = pytest.mark.skipif(
    BACKEND != "sqlite", reason="embedded mode (what `make run` serves) is exercised in the SQLite pass"
)


def walkthrough_script() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Walkthrough", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def bot_sandbox_script() -> str:
    bot = (ROOT / "docs" / "BOT.md").read_text(encoding="utf-8")
    section = bot.split("## 在沙箱里试用", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def readme_banner() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"```text\n(惠团 huituan 已启动.*?)```", readme, re.S).group(1).strip().splitlines()


def test_readme_walkthrough_runs_against_make_run(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUITUAN_")}
    env.update(PYTHONPATH=str(ROOT), HUITUAN_PORT=str(port), HUITUAN_LOG_LEVEL="INFO")
    for step in (["migrate"], ["demo-data"]):
        done = subprocess.run(HUITUAN + step, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen(HUITUAN + ["serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(base + "/readyz", timeout=1)
                break
            except Exception:
                time.sleep(0.2)
        script = "set -euo pipefail\n" + walkthrough_script()
        result = subprocess.run(["bash", "-c", script], env=dict(env, BASE=base), capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr + (tmp_path / "serve.log").read_text()
        assert result.stdout.strip().splitlines()[-1] == "paid", result.stdout
        # The banner the README shows is what `serve` printed, and its docs URL answers.
        served = (tmp_path / "serve.log").read_text(encoding="utf-8")
        for line in readme_banner():
            assert line.replace(":8080", f":{port}") in served, (line, served)
        for url in re.findall(r"http://127\.0\.0\.1:\d+/\S+", "\n".join(readme_banner()).replace(":8080", f":{port}")):
            with urllib.request.urlopen(url, timeout=5) as resp:  # every URL the banner shows answers
                assert resp.status == 200, url
        # docs/BOT.md: the demo operator talks to the bot through the sandbox at once.
        script = "set -euo pipefail\n" + bot_sandbox_script().replace("BASE=http://127.0.0.1:8080", f"BASE={base}")
        bot = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60)
        assert bot.returncode == 0, bot.stdout + bot.stderr
        assert "订单 <订单号>" in bot.stdout and "今日概况" in bot.stdout and "尚未绑定" not in bot.stdout, bot.stdout
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        log.close()
    served = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "jobs lease released" in served and "lease lost" not in served  # a normal stop
    access = [json.loads(line) for line in served.splitlines() if '"huituan.access"' in line]
    paid = [a for a in access if a["route"] == "/api/v1/orders/{id}/pay"]
    assert paid and paid[0]["status"] == 200 and paid[0]["request_id"] != "-" and paid[0]["ms"] >= 0
