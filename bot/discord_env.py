"""Where discord.py sends REST calls and opens the gateway: Discord itself, a REST proxy or the local stand-in.

discord.py 2.x keeps both endpoints in class attributes (`discord.http.Route.BASE`, which interaction callbacks and
followups also use, and `discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`). A plain `Bot` never asks `/gateway/bot`,
so both must be set before login. They are process-wide, which is why `apply` hands back what it replaced:
tests start several bots in one process and put the defaults back between them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route


@dataclass(frozen=True, slots=True)
class DiscordEndpoints:
    """The REST base URL (…/api/v10) and the gateway URL discord.py connects to."""

    api_base: str
    gateway_url: str


def current() -> DiscordEndpoints:
    """The endpoints discord.py would use right now."""
    return DiscordEndpoints(api_base=Route.BASE, gateway_url=str(DiscordWebSocket.DEFAULT_GATEWAY))


def apply(api_base: str | None, gateway_url: str | None) -> DiscordEndpoints:
    """Point discord.py at these endpoints (None keeps the current one); returns the previous ones for `restore`."""
    previous = current()
    if api_base:
        # Route builds URLs as BASE + "/users/@me": a trailing slash would double up.
        Route.BASE = api_base.rstrip("/")
    if gateway_url:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    return previous


def restore(previous: DiscordEndpoints) -> None:
    """Put back endpoints returned by `apply`."""
    Route.BASE = previous.api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(previous.gateway_url)


@contextmanager
def discord_endpoints(api_base: str | None, gateway_url: str | None) -> Iterator[DiscordEndpoints]:
    """`apply` for the duration of a block, then `restore`, even on error."""
    previous = apply(api_base, gateway_url)
    try:
        yield current()
    finally:
        restore(previous)
