"""``nodechat admin migrate``: copy, resume after an interruption, verify, refuse to merge."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nodechat.cli import app
from nodechat.storage import open_store
from nodechat.storage.migrate import Checkpoint, copy_all
from tests.contract.test_store_portable import dump, fill

runner = CliRunner()


def make_source(path: Path) -> str:
    url = f"sqlite:///{path}"

    async def build() -> None:
        store = open_store(url)
        await fill(store)
        await store.close()

    asyncio.run(build())
    return url


def snapshot(url: str) -> dict:
    async def read() -> dict:
        store = open_store(url)
        try:
            return await dump(store)
        finally:
            await store.close()

    return asyncio.run(read())


def test_migrate_copies_and_verifies(tmp_path: Path) -> None:
    source = make_source(tmp_path / "a.db")
    target = f"sqlite:///{tmp_path / 'b.db'}"
    checkpoint = tmp_path / "cp.json"
    result = runner.invoke(
        app, ["admin", "migrate", "--from", source, "--to", target, "--checkpoint", str(checkpoint)]
    )
    assert result.exit_code == 0, result.output
    assert "verified" in result.output
    assert not checkpoint.exists()  # a finished migration leaves no checkpoint
    assert snapshot(target) == snapshot(source)


def test_migrate_resumes_after_interruption(tmp_path: Path) -> None:
    source = make_source(tmp_path / "a.db")
    target = f"sqlite:///{tmp_path / 'b.db'}"
    checkpoint = tmp_path / "cp.json"

    class Interrupted(Exception):
        pass

    async def partial() -> None:
        src, dst = open_store(source), open_store(target)
        state = Checkpoint.load(checkpoint, source, target)

        def progress(table: str, done: int, total: int) -> None:
            if table == "conversations":
                raise Interrupted

        try:
            with pytest.raises(Interrupted):
                await copy_all(src, dst, state, progress)
        finally:
            await src.close()
            await dst.close()

    asyncio.run(partial())
    assert checkpoint.exists()
    assert snapshot(target)["messages"] == []  # stopped before the messages
    result = runner.invoke(
        app, ["admin", "migrate", "--from", source, "--to", target, "--checkpoint", str(checkpoint)]
    )
    assert result.exit_code == 0, result.output
    assert snapshot(target) == snapshot(source)


def test_verify_finds_a_changed_message_and_refuses_to_merge(tmp_path: Path) -> None:
    source = make_source(tmp_path / "a.db")
    target_path = tmp_path / "b.db"
    target = f"sqlite:///{target_path}"
    assert (
        runner.invoke(
            app,
            [
                "admin",
                "migrate",
                "--from",
                source,
                "--to",
                target,
                "--checkpoint",
                str(tmp_path / "cp.json"),
            ],
        ).exit_code
        == 0
    )
    with sqlite3.connect(target_path) as db:
        db.execute("UPDATE messages SET body = 'tampered' WHERE id = 'm_010'")
    result = runner.invoke(
        app, ["admin", "migrate", "--from", source, "--to", target, "--verify-only"]
    )
    assert result.exit_code == 1
    assert "messages of ch_1" in result.output
    again = runner.invoke(
        app,
        [
            "admin",
            "migrate",
            "--from",
            source,
            "--to",
            target,
            "--checkpoint",
            str(tmp_path / "other.json"),
        ],
    )
    assert again.exit_code == 1 and "refusing to merge" in again.output


def test_bad_url_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["admin", "migrate", "--from", "oracle://x", "--to", f"sqlite:///{tmp_path / 'b.db'}"]
    )
    assert result.exit_code == 2 and "bad_config" in result.output


def test_migrate_sqlite_to_postgresql(tmp_path: Path) -> None:
    from tests.postgres_databases import create_database, drop_database

    try:
        target = create_database()
    except Exception as exc:  # no server: fail in CI, skip locally
        import os

        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL: {exc}")
    try:
        source = make_source(tmp_path / "a.db")
        result = runner.invoke(
            app,
            [
                "admin",
                "migrate",
                "--from",
                source,
                "--to",
                target,
                "--checkpoint",
                str(tmp_path / "cp.json"),
            ],
        )
        assert result.exit_code == 0, result.output
        assert snapshot(target) == snapshot(source)
    finally:
        drop_database(target)
