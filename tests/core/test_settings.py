"""Settings: embedded defaults, production refusal naming what is missing, README table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from huituan.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUITUAN_")}
    env.update(extra)
    return env


def test_no_settings_means_embedded_sandbox(monkeypatch):
    for key in list(os.environ):
        if key.startswith("HUITUAN_"):
            monkeypatch.delenv(key)
    s = Settings()
    assert s.database_url.startswith("sqlite://./var/")
    assert s.redis_url == "memory://"
    assert s.sandbox
    assert s.resolved_wechat_api_base() == "http://127.0.0.1:8080/sandbox/wechat"
    assert s.resolved_wechatpay_api_base() == "http://127.0.0.1:8080/sandbox/pay"


def test_configured_app_id_uses_real_wechat_hosts():
    s = Settings(wechat_appid="wx123", wechat_secret="s")
    assert not s.sandbox
    assert s.resolved_wechat_api_base() == "https://api.weixin.qq.com"
    assert s.resolved_wecom_api_base() == "https://qyapi.weixin.qq.com"
    assert Settings(wechat_appid="wx1", wechat_api_base="http://h/").resolved_wechat_api_base() == "http://h"


def test_production_refuses_to_start_and_names_missing_settings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "huituan.cli", "serve", "--port", "18999"],
        cwd=tmp_path, env=_clean_env(HUITUAN_ENV="production", PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    for name in ("HUITUAN_DATABASE_URL", "HUITUAN_REDIS_URL", "HUITUAN_SECRET_KEY", "HUITUAN_WECHAT_APPID",
                 "HUITUAN_WECHATPAY_MCHID"):
        assert name in result.stderr, result.stderr


def test_check_config_in_production_exits_nonzero(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "huituan.cli", "check-config"], cwd=tmp_path,
        env=_clean_env(HUITUAN_ENV="production", PYTHONPATH=str(ROOT)),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "HUITUAN_REDIS_URL" in result.stdout


def test_complete_production_settings_have_no_problems():
    s = Settings(
        env="production", database_url="postgres://u:p@db/huituan", redis_url="redis://r:6379/0",
        secret_key="x" * 40, public_base_url="https://api.example.com", wechat_appid="wx1", wechat_secret="s",
        wechatpay_mchid="1", wechatpay_private_key_path="/k", wechatpay_cert_serial_no="1",
        wechatpay_apiv3_key="k" * 32, wechatpay_public_key_path="/p", wechatpay_public_key_id="PUB_KEY_ID_1",
    )
    assert s.production_problems() == []


def test_readme_settings_table_lists_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`HUITUAN_{name.upper()}`" in readme, f"README is missing HUITUAN_{name.upper()} (scripts/settings_table.py --update)"
