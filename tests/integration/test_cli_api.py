"""``vigie api ...`` against the fake La Cale: JSON on stdout, one line on stderr, exit
statuses a script can rely on, and the key never printed."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot import cli, cli_api
from bot.lacale.models import url_carries_secret
from tests.fakes.lacale import (
    DOWNLOAD,
    META,
    SEARCH,
    UPLOAD,
    FakeLaCale,
    decode_torrent,
    make_torrent,
)

KEY = "vigie-cli-key-93f0b1c2d4e5a6b7"
READ_ONLY_KEY = "vigie-cli-readonly-5a6b7c8d9e0f"
FILMS_HD = "cmv0aa1fhd000003hd8x1v6q"
TAG_1080P = "cmv0tt1p108000001gh4ij5k"
TAG_VFF = "cmv0tt1vff0000005mn6op7q"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeLaCale]:
    async with FakeLaCale(keys=[KEY]) as server:
        server.add_key(READ_ONLY_KEY, scopes={"read"})
        monkeypatch.setenv("LACALE_BASE_URL", server.base_url)
        monkeypatch.setenv("LACALE_API_KEY", KEY)
        # The api commands must not need the bot's own settings.
        for name in ("DISCORD_TOKEN", "SECRET_KEY", "DATABASE_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setattr(cli_api, "BACKOFF_BASE", 0.001)
        yield server


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def vigie(capsys: pytest.CaptureFixture[str]) -> Callable[..., Any]:
    """Run ``vigie <argv>`` in-process; the CLI runs its own event loop, hence a thread."""

    async def run(*argv: str) -> Result:
        try:
            code = await asyncio.to_thread(cli.main, list(argv))
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        result = Result(code, captured.out, captured.err)
        assert KEY not in captured.out and KEY not in captured.err
        if code:
            assert captured.err.count("\n") == 1 or captured.err.startswith("usage:"), captured.err
        return result

    return run


def write_torrent(tmp_path: Path, name: str, **kwargs: Any) -> str:
    path = tmp_path / f"{name}.torrent"
    path.write_bytes(make_torrent(name, **kwargs))
    return str(path)


# -- happy paths --------------------------------------------------------------------------
async def test_search(fake: FakeLaCale, vigie: Any) -> None:
    item = fake.add_torrent("Le.Comte.de.Monte-Cristo.2024.1080p", category_label="Films HD", tmdb_id=1084736)
    fake.add_torrent("Autre.Chose", category_label="FLAC")
    r = await vigie("api", "search", "comte monte cristo")
    assert r.code == 0, r.err
    [row] = r.json()
    assert set(row) == {"title", "guid", "size", "pub_date", "category", "seeders", "leechers", "info_hash", "link"}
    assert row["info_hash"] == item["infoHash"] and row["category"] == "Films HD"
    assert row["pub_date"].startswith(item["pubDate"][:19])
    assert row["link"] == f"{fake.base_url}/api/torrents/download/{item['infoHash']}"
    r = await vigie("api", "search", "--cat", "films-hd", "--cat", "flac", "--tmdb", "1084736")
    assert [x["title"] for x in r.json()] == ["Le.Comte.de.Monte-Cristo.2024.1080p"]
    assert fake.requests[-1].query == [("tmdbId", "1084736"), ("cat", "films-hd"), ("cat", "flac")]


async def test_search_key_from_option(fake: FakeLaCale, vigie: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LACALE_API_KEY")
    assert (await vigie("api", "search", "x", "--api-key", KEY)).code == 0
    assert (await vigie("api", "--api-key", KEY, "search", "x")).code == 0
    assert all(KEY not in r.url for r in fake.requests)


async def test_search_drift_links_are_safe(fake: FakeLaCale, vigie: Any) -> None:
    fake.drift = True
    for i in range(6):
        fake.add_torrent(f"Drift.{i}")
    rows = (await vigie("api", "search", "drift")).json()
    assert len(rows) == 6
    for row in rows:
        assert row["link"].startswith(fake.base_url + "/") and not url_carries_secret(row["link"])
        assert "token" not in row["link"]


async def test_empty_search_fallback(fake: FakeLaCale, vigie: Any) -> None:
    fake.refuse_empty = True
    fake.add_torrent("Newest")
    r = await vigie("api", "search")
    assert r.code == 0 and [x["title"] for x in r.json()] == ["Newest"]
    assert fake.requests[-1].query == [("q", "*")]


async def test_meta(fake: FakeLaCale, vigie: Any) -> None:
    r = await vigie("api", "meta")
    assert r.code == 0
    meta = r.json()
    assert {"categories", "tagGroups", "ungroupedTags"} <= set(meta)
    genres = next(g for g in meta["tagGroups"] if g["slug"] == "genres")
    assert genres["tags"] == []  # null normalised
    films_hd = meta["categories"][0]["children"][0]["children"][0]
    assert films_hd["slug"] == "films-hd" and films_hd["children"] == []


async def test_download(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    item = fake.add_torrent("Download.Me")
    out = tmp_path / "dl.torrent"
    r = await vigie("api", "download", item["infoHash"], "-o", str(out))
    assert r.code == 0, r.err
    assert r.json() == {"info_hash": item["infoHash"], "path": str(out), "size": out.stat().st_size}
    top, _ = decode_torrent(out.read_bytes())
    assert fake.passkey_of(KEY) in top[b"announce"].decode()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it embeds the passkey


async def test_download_over_an_existing_world_readable_file(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    """A file left 0644 by an earlier tool gets the passkey only through a new 0600 file."""
    item = fake.add_torrent("Download.Me.Again")
    out = tmp_path / "dl.torrent"
    out.write_bytes(b"old content")
    out.chmod(0o644)
    old_inode = out.stat().st_ino
    r = await vigie("api", "download", item["infoHash"], "-o", str(out))
    assert r.code == 0, r.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_bytes().startswith(b"d") and fake.passkey_of(KEY).encode() in out.read_bytes()
    assert out.stat().st_ino != old_inode, "a new file renamed into place, not the old one rewritten"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.torrent"], "no temporary file left behind"


async def test_download_replaces_a_symlink_instead_of_following_it(
    fake: FakeLaCale, vigie: Any, tmp_path: Path
) -> None:
    item = fake.add_torrent("Download.Through.A.Link")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "authorized_keys"
    victim.write_bytes(b"ssh-ed25519 AAAA... operator\n")
    victim.chmod(0o644)
    out = tmp_path / "dl.torrent"
    out.symlink_to(victim)
    r = await vigie("api", "download", item["infoHash"], "-o", str(out))
    assert r.code == 0, r.err
    assert victim.read_bytes() == b"ssh-ed25519 AAAA... operator\n" and stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert not out.is_symlink() and out.is_file()
    assert stat.S_IMODE(out.lstat().st_mode) == 0o600
    assert fake.passkey_of(KEY).encode() in out.read_bytes()


async def test_download_failure_leaves_the_existing_file(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    """An answer far too large to be a .torrent: refused while it streams (exit 5, one line),
    and the file already there is left as it was."""
    out = tmp_path / "dl.torrent"
    out.write_bytes(b"previous download")
    fake.oversize_next(
        DOWNLOAD, 200 * 1024 * 1024, chunked=True, start=b"d8:announce", content_type="application/x-bittorrent"
    )
    r = await vigie("api", "download", "d" * 40, "-o", str(out))
    assert r.code == 5 and "too large" in r.err, r.err
    assert out.read_bytes() == b"previous download"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dl.torrent"]
    assert fake.streamed_bytes < 64 * 1024 * 1024


async def test_download_into_a_missing_directory_is_a_usage_error(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    item = fake.add_torrent("Nowhere.To.Go")
    r = await vigie("api", "download", item["infoHash"], "-o", str(tmp_path / "missing" / "dl.torrent"))
    assert r.code == 2 and "cannot write" in r.err


async def test_upload(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    nfo = tmp_path / "release.nfo"
    nfo.write_text("Mon Film 2025\nVideo 1080p x264\nAudio French AC3\n" * 2)
    r = await vigie(
        "api", "upload", write_torrent(tmp_path, "Mon.Film.2025.1080p"),
        "--title", "Mon Film 2025 1080p", "--category", FILMS_HD,
        "--tag", TAG_1080P, "--tag", TAG_VFF, "--nfo", str(nfo),
        "--tmdb", "555", "--tmdb-type", "movie", "--description", "Un film",
    )  # fmt: skip
    assert r.code == 0, r.err
    record = fake.uploads[-1]
    assert r.json() == {
        "success": True,
        "id": record.id,
        "slug": record.slug,
        "link": f"{fake.base_url}/torrents/{record.slug}",
    }
    assert record.tags == [TAG_1080P, TAG_VFF]
    assert record.fields["tmdbType"] == ["MOVIE"] and record.fields["tmdbId"] == ["555"]
    assert record.files["nfoFile"].content == nfo.read_bytes()
    assert "coverUrl" not in record.fields


# -- errors -------------------------------------------------------------------------------
async def test_400_server_message(fake: FakeLaCale, vigie: Any) -> None:
    r = await vigie("api", "search", "x", "--cat", "nope")
    assert r.code == 2 and "catégorie invalide" in r.err


async def test_invalid_request_sends_nothing(fake: FakeLaCale, vigie: Any) -> None:
    r = await vigie("api", "search", "x" * 201)
    assert r.code == 2 and "q" in r.err and "200" in r.err
    r = await vigie("api", "download", "not-a-hash", "-o", "/dev/null")
    assert r.code == 2
    assert fake.count() == 0


async def test_missing_key(fake: FakeLaCale, vigie: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LACALE_API_KEY")
    r = await vigie("api", "meta")
    assert r.code == 2 and "LACALE_API_KEY" in r.err
    assert fake.count() == 0


async def test_401(fake: FakeLaCale, vigie: Any) -> None:
    fake.fail_next(META, 401, error="API key manquant")
    r = await vigie("api", "meta")
    assert r.code == 3 and "manquant" in r.err


async def test_403_unknown_key(fake: FakeLaCale, vigie: Any) -> None:
    r = await vigie("api", "meta", "--api-key", "some-unknown-key-42")
    assert r.code == 3 and "Access denied" in r.err


async def test_403_upload_scope(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    r = await vigie(
        "api",
        "upload",
        write_torrent(tmp_path, "R"),
        "--title",
        "R",
        "--category",
        FILMS_HD,
        "--api-key",
        READ_ONLY_KEY,
    )
    assert r.code == 3 and "upload:write" in r.err
    assert READ_ONLY_KEY not in r.err


async def test_404(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    r = await vigie("api", "download", "c" * 40, "-o", str(tmp_path / "x.torrent"))
    assert r.code == 2 and "introuvable" in r.err.lower()
    assert not (tmp_path / "x.torrent").exists()


async def test_409(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    path = write_torrent(tmp_path, "Twice")
    assert (await vigie("api", "upload", path, "--title", "Twice", "--category", FILMS_HD)).code == 0
    r = await vigie("api", "upload", path, "--title", "Twice", "--category", FILMS_HD)
    assert r.code == 6 and "duplicate" in r.err


async def test_429(fake: FakeLaCale, vigie: Any) -> None:
    fake.fail_next(SEARCH, 429, retry_after=90)
    r = await vigie("api", "search", "x")
    assert r.code == 4 and "90 s" in r.err


async def test_429_waited_out(fake: FakeLaCale, vigie: Any) -> None:
    fake.fail_next(SEARCH, 429, retry_after=0.05)
    assert (await vigie("api", "search", "x")).code == 0
    assert fake.count(SEARCH) == 2


async def test_server_upload_limit(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    fake.upload_limit = 1
    assert (
        await vigie("api", "upload", write_torrent(tmp_path, "A"), "--title", "A", "--category", FILMS_HD)
    ).code == 0
    r = await vigie("api", "upload", write_torrent(tmp_path, "B"), "--title", "B", "--category", FILMS_HD)
    assert r.code == 4 and "retry in" in r.err


async def test_5xx_retried_then_success(fake: FakeLaCale, vigie: Any) -> None:
    fake.fail_next(META, 500, times=2)
    assert (await vigie("api", "meta")).code == 0
    assert fake.count(META) == 3


async def test_5xx_exhausted(fake: FakeLaCale, vigie: Any) -> None:
    fake.fail_next(META, 503, times=5)
    r = await vigie("api", "meta", "--retries", "1")
    assert r.code == 5 and "503" in r.err
    assert fake.count(META) == 2


async def test_timeout(fake: FakeLaCale, vigie: Any) -> None:
    fake.delay_next(META, 2.0)
    r = await vigie("api", "meta", "--timeout", "0.2", "--retries", "0")
    assert r.code == 5 and "in time" in r.err


async def test_connection_refused(fake: FakeLaCale, vigie: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("LACALE_BASE_URL", f"http://127.0.0.1:{port}")
    r = await vigie("api", "meta", "--retries", "1")
    assert r.code == 5 and "cannot reach" in r.err


async def test_bad_base_url(fake: FakeLaCale, vigie: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LACALE_BASE_URL", "la-cale.space")
    assert (await vigie("api", "meta")).code == 2


async def test_malformed_json(fake: FakeLaCale, vigie: Any) -> None:
    fake.invalid_json_next(SEARCH)
    r = await vigie("api", "search", "x")
    assert r.code == 5 and "not JSON" in r.err


@pytest.mark.parametrize("status", [403, 503])
async def test_html_challenge_is_unavailable(fake: FakeLaCale, vigie: Any, status: int) -> None:
    fake.challenge_next(META, status=status)
    r = await vigie("api", "meta")
    assert r.code == 5 and "web page" in r.err


async def test_wrong_shape(fake: FakeLaCale, vigie: Any) -> None:
    fake.fail_next(SEARCH, 200, body={"results": []})
    assert (await vigie("api", "search", "x")).code == 5


async def test_upload_not_retried_on_500(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    fake.fail_next(UPLOAD, 500, times=3)
    r = await vigie("api", "upload", write_torrent(tmp_path, "U"), "--title", "U", "--category", FILMS_HD)
    assert r.code == 5
    assert fake.count(UPLOAD) == 1


async def test_upload_timeout_then_409(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    path = write_torrent(tmp_path, "Late")
    fake.answer_late_next(UPLOAD, 1.0)
    r = await vigie("api", "upload", path, "--title", "Late", "--category", FILMS_HD, "--timeout", "0.2")
    assert r.code == 5 and "may have gone through" in r.err
    r = await vigie("api", "upload", path, "--title", "Late", "--category", FILMS_HD)
    assert r.code == 6


async def test_upload_bad_local_files(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    r = await vigie("api", "upload", str(tmp_path / "missing.torrent"), "--title", "T", "--category", FILMS_HD)
    assert r.code == 2 and "cannot read" in r.err
    r = await vigie(
        "api",
        "upload",
        write_torrent(tmp_path, "T"),
        "--title",
        "T",
        "--category",
        FILMS_HD,
        "--nfo",
        str(tmp_path / "no.nfo"),
    )
    assert r.code == 2
    assert fake.count() == 0


async def test_upload_unknown_category(fake: FakeLaCale, vigie: Any, tmp_path: Path) -> None:
    r = await vigie("api", "upload", write_torrent(tmp_path, "T"), "--title", "T", "--category", "films-hd")
    assert r.code == 2 and "catégorie invalide" in r.err


async def test_usage_errors(fake: FakeLaCale, vigie: Any) -> None:
    assert (await vigie("api")).code == 2
    assert (await vigie("api", "upload", "x.torrent")).code == 2  # --title/--category missing
    assert (
        await vigie("api", "upload", "x.torrent", "--title", "T", "--category", "C", "--tmdb-type", "film")
    ).code == 2


async def test_key_echoed_by_server_is_masked(fake: FakeLaCale, vigie: Any) -> None:
    fake.fail_next(SEARCH, 400, error=f"clé {KEY} refusée")
    r = await vigie("api", "search", "x")
    assert r.code == 2 and "***" in r.err  # the fixture also asserts KEY is absent


# -- subprocesses -------------------------------------------------------------------------
async def _run(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *argv, cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "SECRET_KEY", "LACALE_API_KEY")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


async def test_python_m_bot_api_subprocess(fake: FakeLaCale) -> None:
    fake.add_torrent("Sub.Process.Release")
    code, out, err = await _run(
        "-m", "bot", "api", "search", "sub process", env=_env(LACALE_BASE_URL=fake.base_url, LACALE_API_KEY=KEY)
    )
    assert code == 0, err
    assert [r["title"] for r in json.loads(out)] == ["Sub.Process.Release"]
    code, out, err = await _run(
        "-m", "bot", "api", "meta", env=_env(LACALE_BASE_URL=fake.base_url, LACALE_API_KEY="wrong-key-000000")
    )
    assert code == 3 and out == "" and err.count("\n") == 1 and "wrong-key-000000" not in err


async def test_fake_runs_standalone() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakes.lacale", "--port", "0", "--key", KEY, "--seed", "3",
        cwd=REPO, env=_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        base_url = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().strip()
        assert base_url.startswith("http://127.0.0.1:")
        from bot.lacale import LaCaleClient

        async with LaCaleClient(KEY, base_url=base_url) as client:
            assert len(await client.search()) == 3
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == 0
