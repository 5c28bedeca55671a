import subprocess
import sys

import pytest

from bot.config import ConfigError, load_settings

BASE = {"discord_token": "token-value", "secret_key": "s" * 32}


def test_missing_token_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    with pytest.raises(ConfigError) as exc:
        load_settings(secret_key="s" * 32)
    assert str(exc.value).startswith("DISCORD_TOKEN:")


def test_poll_interval_below_server_cache_is_refused_with_reason() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(**BASE, poll_interval_seconds=29)
    assert "POLL_INTERVAL_SECONDS" in str(exc.value) and "30" in str(exc.value)


def test_database_url_forms_are_normalised() -> None:
    assert load_settings(**BASE, database_url="postgres://u:p@h/db").database_url == "postgresql+asyncpg://u:p@h/db"
    assert load_settings(**BASE, database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(**BASE, database_url="mysql://x")


def test_base_url_must_be_http() -> None:
    with pytest.raises(ConfigError, match="LACALE_BASE_URL"):
        load_settings(**BASE, lacale_base_url="ftp://x")
    assert load_settings(**BASE, lacale_base_url="http://127.0.0.1:9/").lacale_base_url == "http://127.0.0.1:9"


def test_fernet_key_depends_on_secret() -> None:
    a = load_settings(**BASE).fernet_key
    b = load_settings(discord_token="t", secret_key="t" * 32).fernet_key
    assert a != b and len(a) == 44


def test_vigie_without_token_prints_one_line_and_exits_2(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0]
    assert "Traceback" not in proc.stderr
