"""bot.discord_env: discord.py's REST base and gateway URL can be pointed elsewhere and put back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot import discord_env


@pytest.fixture(autouse=True)
def _untouched_defaults() -> Iterator[None]:
    before = discord_env.current()
    yield
    discord_env.restore(before)


def test_apply_routes_rest_calls_and_gateway_to_the_given_urls() -> None:
    discord_env.apply("http://127.0.0.1:8080/api/v10/", "ws://127.0.0.1:8080/gateway")

    gateway = DiscordWebSocket.DEFAULT_GATEWAY
    assert Route("GET", "/users/@me").url == "http://127.0.0.1:8080/api/v10/users/@me"
    assert gateway == yarl.URL("ws://127.0.0.1:8080/gateway")


def test_apply_with_none_keeps_the_current_endpoint() -> None:
    before = discord_env.current()

    discord_env.apply(None, "ws://proxy.local/gateway")

    assert discord_env.current().api_base == before.api_base
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "ws://proxy.local/gateway"


def test_restore_puts_back_discords_own_endpoints() -> None:
    previous = discord_env.apply("http://127.0.0.1:1/api/v10", "ws://127.0.0.1:1/gateway")

    discord_env.restore(previous)

    assert Route("GET", "/users/@me").url == "https://discord.com/api/v10/users/@me"
    assert discord_env.current().gateway_url == "wss://gateway.discord.gg/"


def test_discord_endpoints_restores_even_when_the_block_fails() -> None:
    seen: list[str] = []

    def fail_inside() -> None:
        with discord_env.discord_endpoints("http://x.test/api/v10", "ws://x.test/gw"):
            seen.append(Route("GET", "/gateway").url)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()

    assert seen == ["http://x.test/api/v10/gateway"]
    assert discord_env.current().api_base == "https://discord.com/api/v10"
