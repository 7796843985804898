"""The store's app state: small values survive a reopen of the store."""

from __future__ import annotations

from db import StoreLocation, open_store
from db.interfaces import Store


async def test_app_state_get_returns_none_for_an_unknown_key(store: Store) -> None:
    assert await store.app_state.get("never.set") is None


async def test_app_state_set_replaces_the_value_and_survives_a_reopen(location: StoreLocation) -> None:
    first = await open_store(location)
    try:
        await first.app_state.set("k", "one")
        await first.app_state.set("k", "two")
    finally:
        await first.close()

    second = await open_store(location)
    try:
        assert await second.app_state.get("k") == "two"
    finally:
        await second.close()


async def test_app_state_keys_are_independent(store: Store) -> None:
    # (Replaces the test of `delete`, which the store no longer offers: nothing in the bot forgets a key.)
    state = store.app_state
    await state.set("k", "v")
    await state.set("other", "w")
    await state.set("other", "")

    assert await state.get("k") == "v"
    assert await state.get("other") == ""
    assert await state.get("k.missing") is None
