import shutil
import subprocess
import sys
from pathlib import Path

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
    # SECRET_KEY set: every missing setting now gets its own line, and only the token is missing.
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SECRET_KEY": "s" * 32}
    proc = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "DISCORD_TOKEN" in lines[0]
    assert "Traceback" not in proc.stderr


# -- every problem at once, in plain words (issue 9, item 17) --------------------------------
ROOT = Path(__file__).resolve().parents[2]
GENERATE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def vigie(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m bot`` with only the environment given (no DISCORD_TOKEN from the shell);
    Discord is a closed loopback port, should a setting be accepted that must not be."""
    base = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(cwd),
        "PYTHONPATH": str(ROOT),
        "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def test_copied_env_example_lists_each_missing_setting_in_plain_words(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    proc = vigie([], tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("vigie: DISCORD_TOKEN: missing") and "Reset Token" in lines[0]
    assert lines[1].startswith("vigie: SECRET_KEY: missing") and GENERATE in lines[1]
    assert "after validation" not in proc.stderr and "Traceback" not in proc.stderr

    check = vigie(["check"], tmp_path)
    assert check.returncode == 2
    assert [line.split(":")[1].strip() for line in check.stdout.splitlines()] == ["DISCORD_TOKEN", "SECRET_KEY"], (
        check.stdout
    )
    assert all(line.startswith("[FAIL] settings: ") for line in check.stdout.splitlines())


def test_every_invalid_setting_gets_one_plain_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    with pytest.raises(ConfigError) as exc:
        load_settings(secret_key="short", poll_interval_seconds="often", log_level="LOUD", sync_commands="maybe")
    problems = exc.value.problems
    assert str(exc.value) == "\n".join(problems)
    by_name = {p.split(":", 1)[0]: p.split(":", 1)[1].strip() for p in problems}
    assert set(by_name) == {"DISCORD_TOKEN", "SECRET_KEY", "POLL_INTERVAL_SECONDS", "LOG_LEVEL", "SYNC_COMMANDS"}
    assert by_name["SECRET_KEY"] == f"must be at least 16 characters; generate one with `{GENERATE}`"
    assert by_name["POLL_INTERVAL_SECONDS"] == "must be a whole number, not 'often'"
    assert by_name["LOG_LEVEL"].startswith("must be one of DEBUG, INFO")
    assert by_name["SYNC_COMMANDS"] == "must be true or false, not 'maybe'"
    assert "short" not in str(exc.value), "a secret's value was echoed"


def test_empty_optional_settings_keep_their_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(
        "DISCORD_TOKEN=t\nSECRET_KEY=" + "s" * 32 + "\nDEV_GUILD_ID=\nDATABASE_URL=\nPOLL_INTERVAL_SECONDS=\n"
    )
    for name in ("DISCORD_TOKEN", "SECRET_KEY", "DEV_GUILD_ID", "DATABASE_URL", "POLL_INTERVAL_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.dev_guild_id is None and settings.poll_interval_seconds == 60
    assert settings.database_url == "sqlite+aiosqlite:///data/vigie.sqlite3"


# -- LACALE_BASE_URL: no plain HTTP off this machine, no credentials (item 15) ---------------
@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://127.9.9.9/", "http://localhost:3000", "http://[::1]:9", "https://la-cale.space/"],
)
def test_base_url_https_or_loopback_http_is_accepted(url: str) -> None:
    assert load_settings(**BASE, lacale_base_url=url).lacale_base_url == url.rstrip("/")


@pytest.mark.parametrize(
    "url", ["http://la-cale.space", "http://10.0.0.5:8080", "http://127.1", "http://[::ffff:8.8.8.8]"]
)
def test_plain_http_off_this_machine_is_refused_unless_opted_in(url: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(**BASE, lacale_base_url=url)
    assert str(exc.value).startswith("LACALE_BASE_URL: http:// would send members' API keys unencrypted")
    assert "LACALE_ALLOW_INSECURE_HTTP=true" in str(exc.value)
    assert load_settings(**BASE, lacale_base_url=url, lacale_allow_insecure_http=True).lacale_base_url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:secret@la-cale.space", "must not contain a user name or password"),
        ("https://user@la-cale.space", "must not contain a user name or password"),
        ("http://u:p@127.0.0.1:9", "must not contain a user name or password"),
        ("https://la-cale.space/?apikey=k", "must not contain a ?query or #fragment"),
        ("https://la-cale.space/#top", "must not contain a ?query or #fragment"),
        ("https://", "has no host name"),
        ("https://la-cale.space:port", "is not a valid address"),
    ],
)
def test_base_url_with_credentials_query_or_fragment_is_refused(url: str, reason: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(**BASE, lacale_base_url=url, lacale_allow_insecure_http=True)
    assert str(exc.value).startswith(f"LACALE_BASE_URL: {reason}")
    assert "secret" not in str(exc.value)


def test_vigie_and_check_refuse_credentials_and_plain_http_in_one_line(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "t", "SECRET_KEY": "s" * 32}
    proc = vigie([], tmp_path, **env, LACALE_BASE_URL="https://vigie:hunter2@la-cale.space")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        (
            "vigie: LACALE_BASE_URL: must not contain a user name or password (user:pass@...): "
            "Vigie puts this address in every link it posts"
        )
    ]
    check = vigie(["check"], tmp_path, **env, LACALE_BASE_URL="http://la-cale.space")
    assert check.returncode == 2
    assert check.stdout.strip().splitlines() == [
        (
            "[FAIL] settings: LACALE_BASE_URL: http:// would send members' API keys unencrypted; use https://, "
            "or set LACALE_ALLOW_INSECURE_HTTP=true if this server is on a network you trust"
        )
    ]
    api = vigie(["api", "search", "x", "--api-key", "k" * 32, "--base-url", "http://la-cale.space"], tmp_path)
    assert api.returncode == 2 and "http:// would send" in api.stderr and len(api.stderr.strip().splitlines()) == 1

    # Opted in: accepted, and `vigie check` says what it costs (then fails on the closed Discord port).
    check = vigie(["check"], tmp_path, **env, LACALE_BASE_URL="http://la-cale.space", LACALE_ALLOW_INSECURE_HTTP="true")
    assert check.returncode == 5, check.stdout + check.stderr
    assert check.stdout.splitlines()[:2] == [
        "[ok] settings",
        "[warn] LACALE_BASE_URL is plain http:// (LACALE_ALLOW_INSECURE_HTTP=true): members' API keys travel unencrypted",
    ]


def test_version_and_exit_status_table_in_help(tmp_path: Path) -> None:
    from bot.cli import version

    proc = vigie(["--version"], tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"vigie {version()}" and version() != "unknown"
    help_text = vigie(["--help"], tmp_path).stdout + vigie(["check", "--help"], tmp_path).stdout
    help_text += vigie(["api", "--help"], tmp_path).stdout
    from bot.exit_codes import ExitCode

    for code in ExitCode:
        assert help_text.count(f"\n  {int(code):<4} ") == 3, (code, help_text)


# -- several processes (issue 10 item 1) ---------------------------------------------------
PG = "postgresql+asyncpg://vigie@db/vigie"


def test_cluster_settings_defaults_and_each_process_share_of_the_post_rate() -> None:
    settings = load_settings(**BASE)
    assert (settings.shard_count, settings.cluster_count, settings.cluster_id) == (None, 1, None)
    assert settings.discord_rest_rate == 40.0 and settings.rest_rate_per_process == 40.0
    assert (settings.health_port, settings.health_host) == (None, "127.0.0.1")
    two = load_settings(**BASE, database_url=PG, shard_count=4, cluster_count=2, cluster_id=1, discord_rest_rate=30)
    assert (two.shard_count, two.cluster_count, two.cluster_id, two.rest_rate_per_process) == (4, 2, 1, 15.0)


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (
            dict(cluster_count=2, shard_count=2),
            (
                "CLUSTER_COUNT: 2 processes need PostgreSQL (DATABASE_URL=postgresql+asyncpg://...): "
                "a SQLite file serves one process only; set CLUSTER_COUNT=1 or move to PostgreSQL"
            ),
        ),
        (
            dict(cluster_count=2, database_url=PG),
            (
                "CLUSTER_COUNT: 2 processes need SHARD_COUNT (the same on every process): "
                "Discord's recommendation may differ from one process to the next"
            ),
        ),
        (
            dict(cluster_count=3, shard_count=2, database_url=PG),
            "CLUSTER_COUNT: cannot exceed SHARD_COUNT (2): a process would have no shard to run",
        ),
        (
            dict(cluster_count=2, shard_count=4, cluster_id=2, database_url=PG),
            "CLUSTER_ID: must be between 0 and 1 (CLUSTER_COUNT=2), or unset to take the first free slot",
        ),
        (dict(cluster_id=1), "CLUSTER_ID: must be 0 (CLUSTER_COUNT=1), or unset to take the first free slot"),
        (dict(shard_count=0), "SHARD_COUNT: must be at least 1"),
        (dict(shard_count=40000), "SHARD_COUNT: must be at most 32767"),
        (dict(discord_rest_rate=0), "DISCORD_REST_RATE: must be more than 0.0"),
    ],
)
def test_cluster_layout_mistakes_are_one_plain_line(values: dict[str, object], line: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(**BASE, **values)
    assert exc.value.problems == [line]
