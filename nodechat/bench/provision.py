"""Bench accounts from a deployment's settings: open its store and signing key locally,
provision (nodechat.services.bench_accounts), close."""

from __future__ import annotations

from pathlib import Path

from nodechat.config import Settings
from nodechat.errors import NotFound
from nodechat.services.bench_accounts import BenchAccounts, BenchPlan, Progress, provision
from nodechat.services.tokens import load_keys
from nodechat.storage import open_store

SQLITE = "sqlite:///"


def _quiet(step: str, done: int, total: int) -> None:
    """No progress display."""


async def provision_locally(
    settings: Settings, plan: BenchPlan, progress: Progress = _quiet
) -> BenchAccounts:
    """Provision on the store and with the key of ``settings`` (``serve.store_url``,
    ``serve.data_dir``); a SQLite file or a key that does not exist is ``NotFound``."""
    url = settings.serve.store_url
    if url.startswith(SQLITE) and not Path(url[len(SQLITE) :]).exists():
        raise NotFound(
            f"no SQLite database at {url[len(SQLITE) :]} (check --data-dir or --store; a "
            "server creates it when it first starts)",
            code="store_not_found",
        )
    plan.check()
    keys = load_keys(settings.serve.data_dir)
    store = open_store(url)
    try:
        return await provision(store, keys, settings.auth, plan, progress=progress)
    finally:
        await store.close()
