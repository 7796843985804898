"""Run the stand-in on its own so a person can point a real bot at it: `python -m tests.discord_standin --port 8080`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from .model import ChannelType
from .server import StandIn


async def _serve(port: int, token: str, heartbeat: float) -> None:
    standin = StandIn(token=token, port=port, heartbeat_interval=heartbeat)
    guild = standin.add_guild("Heatwave Playground")
    text = standin.add_channel(guild.id, "general")
    news = standin.add_channel(guild.id, "announcements", ChannelType.ANNOUNCEMENT)
    forum = standin.add_channel(guild.id, "stories", ChannelType.FORUM)
    admin = standin.add_member(guild.id, "admin", manage_guild=True)
    member = standin.add_member(guild.id, "member")
    async with standin:
        print(f"DISCORD_API_BASE={standin.base_url}")
        print(f"DISCORD_GATEWAY_URL={standin.gateway_url}")
        print(f"DISCORD_TOKEN={token}")
        print(
            f"guild {guild.id}; channels: general {text.id}, announcements {news.id}, stories {forum.id}; "
            f"users: admin {admin.id} (Manage Server), member {member.id}\n"
            f"state: GET http://{standin.host}:{standin.port}/_standin/state; "
            f"run a command: POST http://{standin.host}:{standin.port}/_standin/invoke "
            '{"guild_id": ..., "channel_id": ..., "user_id": ..., "command": "topic", "options": {"name": "AI"}}',
            flush=True,
        )
        await asyncio.Event().wait()


def main() -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m tests.discord_standin", description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--token", default="standin-token")
    parser.add_argument("--heartbeat", type=float, default=41.25, help="heartbeat interval in seconds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.port, args.token, args.heartbeat))


if __name__ == "__main__":
    main()
