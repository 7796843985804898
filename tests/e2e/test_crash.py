"""Exactly once across a SIGKILL: the bot runs as `heatwave run` in a subprocess and is killed mid-delivery.

The kill lands while the alert's send is in flight (the stand-in holds the request): the delivery is claimed in
the database but its message id was never recorded. After a restart the alert must exist exactly once, whether
the held request went on to create the message (recovery finds it in the channel) or not (it is sent again).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from db import StoreLocation
from tests.conftest import PROJECT_ROOT
from tests.discord_standin import ChannelType, StandIn
from tests.e2e.stories import STORIES, Story, write_story, write_story_set
from tests.support.db_probe import database_setting, ledger_held, query_one
from tests.support.polling import until
from tests.support.processes import alert_ticks_done, heatwave_process

pytestmark = pytest.mark.e2e

TOKEN = "standin-token"


def _delivery_status(location: StoreLocation) -> str | None:
    row = query_one(location, "SELECT status FROM alert_deliveries ORDER BY queued_at DESC LIMIT 1")
    return None if row is None else str(row[0])


def _recorded_message_id(location: StoreLocation) -> int | None:
    row = query_one(location, "SELECT message_id FROM alert_deliveries WHERE status = 'sent'")
    return None if row is None else int(row[0])


@pytest.mark.parametrize("moment", ["send-in-flight", "message-created-not-recorded"])
async def test_e2e_sigkill_between_claim_and_record_posts_exactly_once(
    tmp_path: Path, location: StoreLocation, moment: str
) -> None:
    news_dir = tmp_path / "news"
    write_story_set(news_dir, STORIES[:3])
    log = tmp_path / "bot.log"
    async with StandIn(token=TOKEN, heartbeat_interval=0.25) as standin:
        guild = standin.add_guild("Crash Test")
        news = standin.add_channel(guild.id, "news", ChannelType.TEXT)
        admin = standin.add_member(guild.id, "morgan", manage_guild=True)
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": standin.base_url,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "DISCORD_GUILD_ID": str(guild.id),
            "HEATWAVE_DB": database_setting(location),
            "HEATWAVE_NEWS_DIR": str(news_dir),
            "HEATWAVE_SCAN_SECONDS": "1",
            "HEATWAVE_POST_SECONDS": "1",
            "HEATWAVE_LOG_LEVEL": "INFO",
        }
        async with heatwave_process(["run"], env, tmp_path, log) as first:
            await until(lambda: standin.guild_commands.get(guild.id), 60, "the first bot to sync its commands")
            await standin.wait_until_connected(timeout=60)
            reply = await standin.invoke(guild.id, news.id, admin.id, "alerts add", {"channel": news})
            assert "will now get" in reply.content, reply.content
            held = standin.faults.delay(f"POST /channels/{news.id}/messages", seconds=1.5, times=1)
            write_story(news_dir, Story(slug="crash", title="Crash-proof alert", topics=("AI",), heat=120))
            await until(lambda: held.fired == 1 and _delivery_status(location) == "claimed", 20, "the claimed send")
            with contextlib.ExitStack() as holding:
                if moment == "message-created-not-recorded":
                    # Hold the ledger so the bot cannot record the message id Discord is about to return; the
                    # kill then lands after the message exists but before the ledger knows it.
                    holding.enter_context(ledger_held(location))
                    await until(lambda: standin.messages_in(news.id), 10, "the held message to be created")
                    await until(lambda: standin.api_in_flight == 0, 10, "Discord's answer to reach the bot")
                first.kill()  # SIGKILL: no clean-up; the claim stays without a message id
                await first.wait()
        # A held request completes (or not) with nobody waiting for it, as on Discord.
        await until(lambda: standin.api_in_flight == 0, 10, "the held request to settle")
        standin.faults.clear()
        created_while_dead = len(standin.messages_in(news.id))

        async with heatwave_process(["run"], {**env, "HEATWAVE_LOG_LEVEL": "DEBUG"}, tmp_path, log):
            try:
                await until(lambda: _delivery_status(location) == "sent", 60, "the delivery to be recorded as sent")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; the bot's log:\n{log.read_text()[-6000:]}") from None
            # Two more complete ticks of the restarted bot: nothing else may be posted.
            ticks = alert_ticks_done(log)
            await until(lambda: alert_ticks_done(log) >= ticks + 2, 20, "two more alert ticks")
            await until(lambda: standin.api_in_flight == 0, 10, "the last request to settle")
            messages = standin.messages_in(news.id)

    assert created_while_dead == (1 if moment == "message-created-not-recorded" else 0)
    assert len(messages) == 1, log.read_text()
    assert messages[0].embeds[0]["title"] == "Crash-proof alert"
    assert _recorded_message_id(location) == messages[0].id
