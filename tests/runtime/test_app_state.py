"""db.app_state: small values survive a reopen of the database."""

from __future__ import annotations

from pathlib import Path

from db import Database
from db.app_state import AppStateRepository


async def test_app_state_get_returns_none_for_an_unknown_key(database: Database) -> None:
    assert await AppStateRepository(database).get("never.set") is None


async def test_app_state_set_replaces_the_value_and_survives_a_reopen(db_path: Path) -> None:
    async with await Database.open(db_path) as db:
        state = AppStateRepository(db)
        await state.set("k", "one")
        await state.set("k", "two")

    async with await Database.open(db_path) as db:
        assert await AppStateRepository(db).get("k") == "two"


async def test_app_state_delete_forgets_the_key(database: Database) -> None:
    state = AppStateRepository(database)
    await state.set("k", "v")

    await state.delete("k")
    await state.delete("k")

    assert await state.get("k") is None
