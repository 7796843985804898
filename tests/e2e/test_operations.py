"""`/metrics` and `/healthz` of a running bot against the stand-in: parsed with Prometheus' own text parser."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.clock import ManualClock
from bot.health import HealthState, Operations
from bot.metrics import Metrics
from tests.conftest import PROJECT_ROOT
from tests.discord_standin import ChannelType, StandIn
from tests.e2e.harness import Harness, start_harness
from tests.e2e.stories import STORIES, Story, write_story_set
from tests.support.polling import until
from tests.support.processes import heatwave_process

pytestmark = pytest.mark.e2e


@contextlib.asynccontextmanager
async def operated(
    tmp_path: Path, clock: ManualClock, **options: Any
) -> AsyncIterator[tuple[Harness, str, Operations]]:
    """A running bot with its operations endpoints on a free local port; yields (harness, base URL, operations)."""
    async with start_harness(tmp_path, clock, **options) as h:
        jobs = h.bot.jobs
        await until(lambda: jobs.recovered and not jobs.busy, 5, "the bot's first alert tick to finish")
        settings = h.settings
        operations = Operations(
            Metrics(), HealthState(clock, scan_seconds=settings.scan_seconds, post_seconds=settings.post_seconds), clock
        )
        operations.attach(h.bot)
        port = await operations.start("127.0.0.1", 0)
        try:
            yield h, f"http://127.0.0.1:{port}", operations
        finally:
            await operations.stop()


async def fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the exposition, by (name, sorted labels); the parser raises on malformed text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_e2e_metrics_parse_and_count_a_posted_alert_and_a_command(tmp_path: Path, clock: ManualClock) -> None:
    async with operated(tmp_path, clock) as (h, base, _):
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        h.add_story(Story(slug="metered", title="A metered story", topics=("AI",), heat=150, quality=90))
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        await h.standin.wait_for_message(news.id)
        status, text = await fetch(f"{base}/metrics")

    assert status == 200
    found = samples(text)
    assert found[("heatwave_alerts_posted_total", ())] == 1
    assert found[("heatwave_alerts_failed_total", (("reason", "channel"),))] == 0
    assert found[("heatwave_ingest_files_total", (("outcome", "added"),))] == 1
    assert found[("heatwave_scan_duration_seconds_count", ())] == 1
    assert found[("heatwave_commands_total", (("command", "alerts add"), ("outcome", "ok")))] == 1
    assert found[("heatwave_command_duration_seconds_count", (("command", "alerts add"),))] == 1
    assert found[("heatwave_deliveries", (("state", "queued"),))] == 0
    assert found[("heatwave_last_post_tick_timestamp_seconds", ())] == clock.now().timestamp()
    assert ("heatwave_gateway_latency_seconds", ()) in found


async def test_e2e_metrics_count_a_channel_failure_and_a_failed_command(tmp_path: Path, clock: ManualClock) -> None:
    async with operated(tmp_path, clock) as (h, base, _):
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news}, user=h.admin)
        await h.invoke("alerts list")  # an ordinary member: refused
        h.standin.deny_bot(news.id, "send_messages")
        h.add_story(Story(slug="blocked", title="A blocked story", topics=("AI",), heat=150, quality=90))
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        _, text = await fetch(f"{base}/metrics")

    found = samples(text)
    assert found[("heatwave_alerts_failed_total", (("reason", "channel"),))] == 1
    assert found[("heatwave_alerts_posted_total", ())] == 0
    assert found[("heatwave_deliveries", (("state", "queued"),))] == 1
    assert found[("heatwave_commands_total", (("command", "alerts list"), ("outcome", "error")))] == 1


async def test_e2e_healthz_is_200_when_connected_and_503_when_the_gateway_drops(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with operated(tmp_path, clock) as (h, base, operations):
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        healthy = await fetch(f"{base}/healthz")
        h.standin.gateway.accepting = False
        await h.standin.drop_gateway()
        await until(lambda: not operations.health.connected, 15, "the bot to notice the drop")
        down = await fetch(f"{base}/healthz")
        h.standin.gateway.accepting = True
        await until(lambda: operations.health.connected, 30, "the bot to reconnect")
        back = await fetch(f"{base}/healthz")

    assert back[0] == 200
    assert healthy[0] == 200
    assert json.loads(healthy[1])["status"] == "ok"
    assert down[0] == 503
    assert json.loads(down[1]) == {
        "status": "unhealthy",
        "reason": "the Discord gateway is not connected",
        "gateway": "disconnected",
        "last_scan_seconds_ago": 0.0,
        "last_post_tick_seconds_ago": 0.0,
    }


async def test_e2e_healthz_is_503_when_the_alert_tick_stops_running(tmp_path: Path, clock: ManualClock) -> None:
    async with operated(tmp_path, clock) as (h, base, _):
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        clock.advance(timedelta(seconds=h.settings.post_seconds * 3 + 1))
        await h.rescan_now()
        status, body = await fetch(f"{base}/healthz")

    assert status == 503
    assert json.loads(body)["reason"].startswith("no alert tick finished for 10801 s")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_heatwave_run_serves_healthz_and_metrics_and_logs_json_lines(tmp_path: Path) -> None:
    metrics_port = _free_port()
    log = tmp_path / "bot.log"
    news_dir = tmp_path / "news"
    write_story_set(news_dir, STORIES)
    async with StandIn(token="json-SECRET-token", heartbeat_interval=0.25) as standin:
        standin.add_guild("Ops")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "HEATWAVE_"))}
        env.update(
            PYTHONPATH=str(PROJECT_ROOT),
            DISCORD_TOKEN=standin.token,
            DISCORD_API_BASE=standin.base_url,
            DISCORD_GATEWAY_URL=standin.gateway_url,
            HEATWAVE_DB=str(tmp_path / "heatwave.db"),
            HEATWAVE_NEWS_DIR=str(news_dir),
            HEATWAVE_LOG_LEVEL="DEBUG",
            HEATWAVE_LOG_FORMAT="json",
            HEATWAVE_METRICS_PORT=str(metrics_port),
            HEATWAVE_METRICS_HOST="127.0.0.1",
        )
        answers: list[int] = []

        async def poll_health() -> None:
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    answers.append((await fetch(f"http://127.0.0.1:{metrics_port}/healthz"))[0])
                await asyncio.sleep(0.05)

        async with heatwave_process(["run"], env, tmp_path, log):
            poller = asyncio.create_task(poll_health())
            try:
                await until(lambda: 200 in answers, 30, "/healthz to answer 200")
            finally:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
            status, text = await fetch(f"http://127.0.0.1:{metrics_port}/metrics")

    assert status == 200
    assert samples(text)[("heatwave_alerts_posted_total", ())] == 0
    lines = log.read_text().splitlines()
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any(e["message"].startswith("metrics on http://127.0.0.1:") for e in entries)
    assert "json-SECRET-token" not in log.read_text()


async def test_e2e_metrics_count_an_edited_post_and_a_digest(
    tmp_path: Path, clock: ManualClock
) -> None:
    rising = Story(slug="rising", title="A story that keeps heating up", topics=("AI",), heat=90)
    async with operated(tmp_path, clock) as (h, base, _):
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        await h.invoke("alerts add", {"channel": news, "min_heat": "80"}, user=h.admin)
        await h.invoke("digest add", {"channel": news, "every": "hourly"}, user=h.admin)
        await h.bot.jobs.post_alerts()
        h.add_story(rising)
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        await h.standin.wait_for_message(news.id)
        clock.advance(timedelta(minutes=3))
        h.add_story(dataclasses.replace(rising, heat=135))  # the post follows its heat: one edit
        await h.rescan_now()
        await h.bot.jobs.post_alerts()
        clock.advance(timedelta(hours=1))
        await h.bot.jobs.post_digests()
        await until(lambda: len(h.standin.messages_in(news.id)) == 2, 10, "the hourly digest")
        _, text = await fetch(f"{base}/metrics")

    found = samples(text)
    assert found[("heatwave_alerts_posted_total", ())] == 1
    assert found[("heatwave_alert_edits_total", ())] == 1
    assert found[("heatwave_digests_total", (("outcome", "sent"),))] == 1
    assert found[("heatwave_digests_total", (("outcome", "failed"),))] == 0
    assert found[("heatwave_last_digest_tick_timestamp_seconds", ())] == clock.now().timestamp()
