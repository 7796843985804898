"""PostgreSQL as a shared, remote store: several processes at once, and connections that drop.

Two bots and a `heatwave ingest` run at the same time:

Both bots rescan the same news folder and post alerts from the same ledger while a separate ingest run loads a
second folder; every hot story must reach the channel exactly once, and the store must hold each story once.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from pathlib import Path

import psycopg
import pytest

from bot.clock import ManualClock, SystemClock
from bot.services.alerts import AlertService
from db import StoreLocation, open_store, parse_location
from tests.conftest import PROJECT_ROOT
from tests.discord_standin import ChannelType, StandIn
from tests.e2e.harness import start_harness
from tests.e2e.stories import Story, write_story
from tests.support.db_probe import database_setting, query_one
from tests.support.pg import private_schema, server_url
from tests.support.polling import until
from tests.support.processes import alert_ticks_done, heatwave_process

pytestmark = pytest.mark.e2e

TOKEN = "standin-token"
STORIES_PER_FOLDER = 20


def _hot_stories(prefix: str) -> list[Story]:
    rng = random.Random(prefix)
    return [
        Story(slug=f"{prefix}-{n}", title=f"{prefix.title()} story {n}", topics=("AI",), heat=rng.randint(80, 180))
        for n in range(STORIES_PER_FOLDER)
    ]


def delivered(standin: StandIn, channel_id: int) -> list[str]:
    """The titles of every story posted to the channel: one per alert embed, several per roll-up message."""
    everything = [story.title for story in _hot_stories("bulk") + _hot_stories("watched")]
    titles: list[str] = []
    for message in standin.messages_in(channel_id):
        if message.embeds:
            titles.append(message.embeds[0]["title"])
        else:
            titles.extend(title for title in everything if f"[{title}](" in message.content)
    return titles


@pytest.mark.parametrize("engine", ["postgres"])
async def test_two_bots_and_an_ingest_run_share_one_store_and_post_each_story_once(
    tmp_path: Path, location: StoreLocation
) -> None:
    watched, bulk = tmp_path / "watched", tmp_path / "bulk"
    watched.mkdir()
    bulk.mkdir()
    async with StandIn(token=TOKEN, heartbeat_interval=0.25) as standin:
        guild = standin.add_guild("Shared Store")
        news = standin.add_channel(guild.id, "news", ChannelType.TEXT)
        # The subscription is made through the service before any bot runs, so it does not matter which of the
        # two bots' gateway sessions an interaction would reach.
        store = await open_store(location)
        try:
            alerts = AlertService(store, SystemClock(), max_posts_per_tick=5)
            await alerts.add_subscription(guild_id=guild.id, channel_id=news.id, channel_kind="text", min_heat=70)
        finally:
            await store.close()
        env = {
            **os.environ,
            "PYTHONPATH": str(PROJECT_ROOT),
            "DISCORD_TOKEN": TOKEN,
            "DISCORD_API_BASE": standin.base_url,
            "DISCORD_GATEWAY_URL": standin.gateway_url,
            "DISCORD_GUILD_ID": str(guild.id),
            "HEATWAVE_DB": database_setting(location),
            "HEATWAVE_NEWS_DIR": str(watched),
            "HEATWAVE_SCAN_SECONDS": "1",
            "HEATWAVE_POST_SECONDS": "1",
            "HEATWAVE_LOG_LEVEL": "DEBUG",  # one line per finished alert tick
        }
        log = tmp_path / "processes.log"
        bot = ["run"]
        async with heatwave_process(bot, env, PROJECT_ROOT, log), heatwave_process(bot, env, PROJECT_ROOT, log):
            await until(lambda: standin.gateway.identifies >= 2, 60, "both bots to log in")
            for story in _hot_stories("bulk"):
                write_story(bulk, story)
            async with heatwave_process(["ingest", str(bulk)], env, PROJECT_ROOT, log) as ingest:
                # Files land in the watched folder while the ingest run and both bots' rescans are writing.
                for story in _hot_stories("watched"):
                    write_story(watched, story)
                    await asyncio.sleep(0.05)
                assert await asyncio.wait_for(ingest.wait(), timeout=60) == 0, log.read_text()[-4000:]
            expected = 2 * STORIES_PER_FOLDER
            try:
                await until(lambda: len(delivered(standin, news.id)) >= expected, 90, f"{expected} alerts")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; got {len(delivered(standin, news.id))}; log:\n"
                                     f"{log.read_text()[-6000:]}") from None
            # Both bots go on ticking: wait for four more finished ticks, then nothing may have been posted twice.
            ticks = alert_ticks_done(log)
            await until(lambda: alert_ticks_done(log) >= ticks + 4, 30, "more alert ticks of both bots")
            await until(lambda: standin.api_in_flight == 0, 10, "the last request to settle")
            titles = delivered(standin, news.id)

    # 40 at once is more than three ticks' worth: the hottest post on their own, the rest in roll-up messages; either
    # way, every story exactly once.
    assert sorted(titles) == sorted(s.title for s in _hot_stories("bulk") + _hot_stories("watched"))
    assert query_one(location, "SELECT count(*) FROM stories") == (expected,)
    assert query_one(location, "SELECT count(*) FROM alert_deliveries WHERE status = 'sent'") == (expected,)


async def test_the_bot_rides_out_the_database_dropping_every_connection(tmp_path: Path, clock: ManualClock) -> None:
    # A server restart or pg_terminate_backend: commands answer again and an alert is posted exactly once.
    name = f"hw_{uuid.uuid4().hex[:12]}"
    with private_schema() as url:
        location = parse_location(f"{url}&application_name={name}")
        async with start_harness(tmp_path, clock, location=location) as h:
            news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
            added = await h.invoke("alerts add", {"channel": news}, user=h.admin)
            assert "will now get" in added.content, added.content

            def terminate() -> int:
                with psycopg.connect(server_url(), autocommit=True) as admin:
                    return len(
                        admin.execute(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                            (name,),
                        ).fetchall()
                    )

            assert await asyncio.to_thread(terminate) >= 1
            reply = await h.invoke("topic", {"name": "AI"})
            assert reply.in_time
            assert reply.embeds, reply.content

            assert await asyncio.to_thread(terminate) >= 1
            h.add_story(Story(slug="after-drop", title="Posted after the drop", topics=("AI",), heat=130))
            await h.rescan_now()
            await h.bot.jobs.post_alerts()
            await h.standin.wait_for_message(news.id)
            await h.bot.jobs.post_alerts()
            assert [m.embeds[0]["title"] for m in h.standin.messages_in(news.id)] == ["Posted after the drop"]
