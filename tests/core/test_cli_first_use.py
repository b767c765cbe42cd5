"""What a new team meets first on the command line: a busy port fails at once naming the port,
mistakes in settings or arguments are explained (Chinese and English, naming the variable)
instead of a traceback, check-config's exit code follows what it lists, every option has help,
and the README names arguments as the CLI does."""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from huituan.cli import build_parser
from tests.conftest import BACKEND_INDEPENDENT, free_port

pytestmark = BACKEND_INDEPENDENT  # the CLI in subprocesses, with settings of its own

ROOT = Path(__file__).resolve().parents[2]
HUITUAN = [sys.executable, "-m", "huituan.cli"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUITUAN_")}
    env.update(PYTHONPATH=str(ROOT), HUITUAN_LOG_JSON="false", **extra)
    return env


def _run(args: list[str], cwd: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(HUITUAN + args, cwd=cwd, env=_env(**env), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_busy_port_fails_at_once_naming_the_port_before_the_jobs_lease(tmp_path):
    port = free_port()
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen(1)
    try:
        started = time.monotonic()
        result = _run(["serve", "--host", "127.0.0.1", "--port", str(port)], tmp_path, timeout=30)
        elapsed = time.monotonic() - started
    finally:
        holder.close()
    assert result.returncode != 0
    assert elapsed < 10, elapsed
    assert str(port) in result.stderr and "已被占用" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert "lease" not in result.stderr and "serving" not in result.stderr  # nothing started
    assert not (tmp_path / "var").exists()  # not even the database was opened


@pytest.mark.parametrize(("env", "variable"), [
    ({"HUITUAN_ENV": "prod"}, "HUITUAN_ENV"),
    ({"HUITUAN_PORT": "abc"}, "HUITUAN_PORT"),
    ({"HUITUAN_DATABASE_URL": "mysql://root@db/huituan"}, "HUITUAN_DATABASE_URL"),
    ({"HUITUAN_DATABASE_URL": "postgres://u:p@db:port/huituan"}, "HUITUAN_DATABASE_URL"),
    ({"HUITUAN_REDIS_URL": "localhost:6379"}, "HUITUAN_REDIS_URL"),
    ({"HUITUAN_JOBS_ENABLED": "maybe"}, "HUITUAN_JOBS_ENABLED"),
])
@pytest.mark.parametrize("command", [["serve"], ["migrate"], ["check-config"], ["demo-data"], ["jobs"],
                                     ["create-operator", "ops", "--password", "password-1"], ["ledger", "verify"]])
def test_bad_settings_are_explained_not_traced(tmp_path, env, variable, command):
    if command != ["check-config"] and variable not in ("HUITUAN_ENV", "HUITUAN_DATABASE_URL"):
        pytest.skip("one command is enough for the other variables")  # keep the subprocess count down
    result = _run(command, tmp_path, **env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert variable in result.stderr
    assert "配置有误" in result.stderr and "invalid settings" in result.stderr
    assert "配置可用" not in result.stdout


def test_unreachable_database_is_explained(tmp_path):
    result = _run(["migrate"], tmp_path, HUITUAN_DATABASE_URL=f"postgres://u:p@127.0.0.1:{free_port()}/huituan")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "HUITUAN_DATABASE_URL" in result.stderr


def test_create_operator_without_a_terminal_asks_for_the_password_option(tmp_path):
    result = _run(["create-operator", "ops"], tmp_path)
    assert result.returncode == 2
    assert "--password" in result.stderr
    assert "Traceback" not in result.stderr and "EOFError" not in result.stderr


def test_create_operator_before_migrate_and_with_a_short_password_are_explained(tmp_path):
    result = _run(["create-operator", "ops", "--password", "password-1"], tmp_path)
    assert result.returncode == 1 and "huituan migrate" in result.stderr and "Traceback" not in result.stderr
    assert _run(["migrate"], tmp_path).returncode == 0
    result = _run(["create-operator", "ops", "--password", "short"], tmp_path)
    assert result.returncode == 1 and "密码" in result.stderr and "Traceback" not in result.stderr
    assert _run(["create-operator", "ops", "--password", "password-1"], tmp_path).returncode == 0
    result = _run(["create-operator", "ops", "--password", "password-1"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_check_config_exit_code_follows_what_it_lists(tmp_path):
    dev = _run(["check-config"], tmp_path)  # the embedded sandbox setup is fine for development
    assert dev.returncode == 0 and "配置可用" in dev.stdout and "--production" in dev.stdout
    ahead = _run(["check-config", "--production"], tmp_path)  # what going live still needs
    assert ahead.returncode == 2 and "配置可用" not in ahead.stdout and "HUITUAN_WECHAT_APPID" in ahead.stdout
    prod = _run(["check-config"], tmp_path, HUITUAN_ENV="production")
    assert prod.returncode == 2 and "配置可用" not in prod.stdout
    complete = _run(["check-config"], tmp_path, HUITUAN_DATABASE_URL="postgres://u:p@db:5432/huituan",
                    HUITUAN_REDIS_URL="redis://cache:6379/0", HUITUAN_SECRET_KEY="x" * 40,
                    HUITUAN_PUBLIC_BASE_URL="https://api.example.com", HUITUAN_WECHAT_APPID="wx1",
                    HUITUAN_WECHAT_SECRET="s", HUITUAN_WECHATPAY_MCHID="1", HUITUAN_WECHATPAY_PRIVATE_KEY_PATH="/k",
                    HUITUAN_WECHATPAY_CERT_SERIAL_NO="1", HUITUAN_WECHATPAY_APIV3_KEY="k" * 32,
                    HUITUAN_WECHATPAY_PUBLIC_KEY_PATH="/p", HUITUAN_WECHATPAY_PUBLIC_KEY_ID="PUB_KEY_ID_1")
    assert complete.returncode == 0 and "配置可用" in complete.stdout, complete.stdout + complete.stderr


def _walk(parser: argparse.ArgumentParser, path: str = "huituan"):
    yield path, None
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction):
            yield path, action


def test_every_option_and_argument_has_help():
    missing = [f"{path} {action.dest}" for path, action in _walk(build_parser()) if action and not action.help]
    assert not missing, missing


def test_readme_names_arguments_as_the_cli_does():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `huituan ([^`]+)` \|", readme, re.M)
    assert rows
    commands: dict[str, list[argparse.Action]] = {}
    for path, action in _walk(build_parser()):
        commands.setdefault(path.removeprefix("huituan").strip(), []).extend([action] if action else [])
    for row in rows:
        words = row.replace("[", " ").replace("]", " ").split()
        name = " ".join(w for w in words[:2] if re.fullmatch(r"[a-z][a-z-]*", w))
        assert name in commands, row
        options = {s for a in commands[name] for s in a.option_strings}
        positionals = {a.dest.upper() for a in commands[name] if not a.option_strings}
        previous = ""
        for word in words[len(name.split()):]:
            if word.startswith("--"):
                assert word in options, f"README `{row}`: {word} is not an option of `huituan {name}`"
            elif not previous.startswith("--"):
                assert word in positionals, f"README `{row}`: {word} is not an argument of `huituan {name}`"
            previous = word


def test_make_run_installs_the_service_only_and_shows_progress():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    run_deps = re.search(r"^run: (.+)$", makefile, re.M).group(1).split()
    assert run_deps == ["$(VENV)/.installed-service"]
    recipe = re.search(r"^\$\(VENV\)/\.installed-service:.*?\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "pip install" in recipe and "[test]" not in recipe and " -q" not in recipe
    assert "echo" in recipe  # says what it is doing before the long step


def _on_terminal(args: list[str], cwd: Path, answers: list[tuple[str, str]]) -> tuple[int, str]:
    """Run with a pseudo-terminal as stdin (what a person at a shell has); when the output shows
    each prompt, type its answer (typing earlier would be flushed when echo is turned off)."""
    import pty
    import select

    master, slave = pty.openpty()
    proc = subprocess.Popen(HUITUAN + args, cwd=cwd, env=_env(), stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    try:
        for prompt, answer in answers:
            while prompt.encode() not in out and time.monotonic() < deadline:
                ready, _, _ = select.select([proc.stdout], [], [], 0.5)
                if ready:
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    out += chunk
            assert prompt.encode() in out, out.decode(errors="replace")
            out = out.replace(prompt.encode(), b"[" + prompt.encode() + b"]", 1)
            os.write(master, answer.encode() + b"\n")
        rest, _ = proc.communicate(timeout=60)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, (out + rest).decode(errors="replace")


def test_create_operator_on_a_terminal_asks_twice(tmp_path):
    assert _run(["migrate"], tmp_path).returncode == 0
    prompts = ("密码 password:", "再输入一次 again:")
    code, out = _on_terminal(["create-operator", "ops"], tmp_path, list(zip(prompts, ["password-1", "password-2"])))
    assert code == 2 and "不一致" in out and "Traceback" not in out, out
    code, out = _on_terminal(["create-operator", "ops"], tmp_path, list(zip(prompts, ["password-1", "password-1"])))
    assert code == 0 and "运营账号已创建：ops" in out, out
