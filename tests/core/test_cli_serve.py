"""`huituan serve --workers N`: several processes on one port, clean shutdown, and refusal on
per-process (memory://) Redis, where the jobs lease and caches would not be shared."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUITUAN_")}
    env.update(PYTHONPATH=str(ROOT), HUITUAN_LOG_LEVEL="WARNING", **extra)
    return env


def test_workers_need_a_shared_redis(tmp_path):
    result = subprocess.run([sys.executable, "-m", "huituan.cli", "serve", "--workers", "2", "--port", str(free_port())],
                            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "HUITUAN_REDIS_URL" in result.stderr


@pytest.mark.postgres
def test_two_workers_serve_one_port_and_stop_together(tmp_path, database_url, redis_url):
    port = free_port()
    env = _env(HUITUAN_DATABASE_URL=database_url, HUITUAN_REDIS_URL=redis_url, HUITUAN_PORT=str(port),
               HUITUAN_SANDBOX_KEY_DIR=str(tmp_path / "keys"))
    proc = subprocess.Popen([sys.executable, "-m", "huituan.cli", "serve", "--workers", "2", "--no-jobs"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        ok = 0
        while time.monotonic() < deadline and ok < 40:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    ok += resp.status == 200
            except OSError:
                time.sleep(0.2)
        assert ok == 40
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert len(children) == 2
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for child in children:
            assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    finally:
        if proc.poll() is None:
            proc.kill()


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp writes them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hexport = local.rsplit(":", 1)
            if state == "0A" and int(hexport, 16) == port:
                found.add(address)
    return found


def _serve_and_look(tmp_path, **env: str) -> tuple[set[str], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "huituan.cli", "serve", "--no-jobs", "--port", str(port)],
                            cwd=tmp_path, env=_env(HUITUAN_LOG_JSON="false", **env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # serving, not just bound: then SIGTERM stops it cleanly
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        addresses = _listening(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, stderr = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate(timeout=30)
    return addresses, stderr


def test_with_the_sandbox_mounted_serve_binds_loopback_unless_host_is_set(tmp_path):
    # issue 7, item 12: /sandbox/pay/.../complete marks orders paid; not for the whole network
    addresses, stderr = _serve_and_look(tmp_path)
    assert addresses == {"0100007F"}, addresses  # 127.0.0.1 only
    assert "127.0.0.1 only" in stderr and "HUITUAN_HOST" in stderr
    addresses, stderr = _serve_and_look(tmp_path, HUITUAN_HOST="0.0.0.0")
    assert addresses == {"00000000"}, addresses  # explicitly asked for: every interface
    assert "127.0.0.1 only" not in stderr
