"""Discord misbehaving: rate limits, server errors and gateway drops. The bot waits, retries, resumes, answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.client import EXTENSIONS
from bot.clock import ManualClock
from tests.e2e.harness import Harness, start_harness

pytestmark = pytest.mark.e2e


@pytest.fixture
async def probed(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Harness]:
    async with start_harness(tmp_path, clock, extensions=(*EXTENSIONS, "tests.e2e.probe_cog")) as running:
        yield running


def _times(h: Harness, route: str) -> list[float]:
    return [r.at for r in h.standin.requests_to(route)]


async def test_rate_limited_interaction_callback_is_retried_after_retry_after(harness: Harness) -> None:
    fault = harness.standin.faults.rate_limit("POST /interactions/*/callback", retry_after=0.6, times=1)

    result = await harness.invoke("topics")

    assert fault.fired == 1
    assert result.in_time
    assert result.text()
    first, second = _times(harness, "POST /interactions/*/callback")
    assert second - first >= 0.6 - 0.01


async def test_rate_limited_followup_is_retried_after_retry_after(probed: Harness) -> None:
    fault = probed.standin.faults.rate_limit("POST /webhooks/*", retry_after=0.5, times=1)

    result = await probed.invoke("probe-followup")

    assert fault.fired == 1
    assert "followup done" in result.text()
    first, second = _times(probed, "POST /webhooks/*")
    assert second - first >= 0.5 - 0.01


async def test_server_error_on_the_interaction_callback_is_retried(harness: Harness) -> None:
    fault = harness.standin.faults.fail("POST /interactions/*/callback", status=500, times=1)

    result = await harness.invoke("topics")

    assert fault.fired == 1
    assert result.in_time
    assert result.text()


async def test_server_error_on_a_channel_message_is_retried_and_posts_once(probed: Harness) -> None:
    fault = probed.standin.faults.fail("POST /channels/*/messages", status=502, times=1)

    result = await probed.invoke("probe-post")

    assert fault.fired == 1
    assert result.content == "posted"
    assert [m.content for m in probed.standin.messages_in(probed.channel.id)] == ["probe message"]


async def test_gateway_drop_is_resumed_and_the_bot_keeps_answering(harness: Harness) -> None:
    await harness.standin.drop_gateway()
    await harness.standin.wait_for_resume(count=1)

    result = await harness.invoke("topics")

    assert result.in_time
    assert harness.standin.gateway.identifies == 1
    assert harness.standin.gateway.resumes == 1


async def test_command_sent_while_the_gateway_is_down_is_answered_after_the_resume(harness: Harness) -> None:
    await harness.standin.drop_gateway(code=4000)

    result = await harness.invoke("topics")

    assert result.in_time
    assert harness.standin.gateway.resumes == 1
    assert harness.standin.gateway.identifies == 1


async def test_invalidated_session_reidentifies_and_keeps_answering(harness: Harness) -> None:
    await harness.standin.invalidate_session(resumable=False)
    # discord.py waits 5 s before a repeat IDENTIFY (Discord allows one per 5 s); nothing to speed up here.
    await harness.standin.wait_for(lambda: harness.standin.gateway.identifies == 2, timeout=10)
    await harness.bot.wait_until_ready()

    result = await harness.invoke("topics")

    assert result.in_time
