"""The one app-command error handler, end to end: expected errors explain, bugs apologise, nothing is silent."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.client import EXTENSIONS
from bot.clock import ManualClock
from tests.discord_standin import NoReply
from tests.e2e.harness import Harness, start_harness

pytestmark = pytest.mark.e2e


@pytest.fixture
async def probed(tmp_path: Path, clock: ManualClock) -> AsyncIterator[Harness]:
    async with start_harness(tmp_path, clock, extensions=(*EXTENSIONS, "tests.e2e.probe_cog")) as running:
        yield running


async def test_a_bug_in_a_command_gets_a_short_ephemeral_apology_and_a_logged_traceback(
    probed: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bot.client")

    result = await probed.invoke("probe-boom")

    assert result.in_time
    assert result.ephemeral
    assert result.content.startswith("Sorry, something went wrong")
    assert "kaboom" not in result.text()
    assert "Traceback" not in result.text()
    (record,) = [r for r in caplog.records if r.name == "bot.client"]
    assert "/probe-boom" in record.getMessage()
    assert "RuntimeError: kaboom" in caplog.text


async def test_a_bug_after_a_defer_still_reaches_the_user_as_an_apology(probed: Harness) -> None:
    result = await probed.invoke("probe-boom-deferred")

    assert result.in_time
    assert result.ephemeral
    assert "Sorry, something went wrong" in result.text()
    assert "kaboom" not in result.text()


async def test_a_bug_in_a_feature_service_reaches_the_user_as_an_apology(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: object, **kwargs: object) -> object:
        raise OSError("database file vanished")

    monkeypatch.setattr(type(harness.services.lookups), "topics", broken)

    result = await harness.invoke("topics")

    assert result.in_time
    assert "Sorry, something went wrong" in result.text()
    assert "vanished" not in result.text()
    assert "OSError: database file vanished" in caplog.text


async def test_an_unknown_topic_gets_a_helpful_reply_not_an_error(harness: Harness) -> None:
    result = await harness.invoke("topic", {"name": "Artificial Intelligenze"})

    assert result.in_time
    assert "Sorry" not in result.text()
    assert "AI" in result.text() or "Artificial" in result.text()


async def test_a_value_outside_the_choices_gets_an_ephemeral_reply_saying_what_is_accepted(harness: Harness) -> None:
    result = await harness.invoke("topic", {"name": "AI", "sort": "sideways"}, validate=False)

    assert result.in_time
    assert result.ephemeral
    assert "hot" in result.text()
    assert "new" in result.text()
    assert "Sorry, something went wrong" not in result.text()


async def test_an_expired_interaction_is_logged_and_never_crashes_the_handler(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with start_harness(
        tmp_path,
        clock,
        extensions=(*EXTENSIONS, "tests.e2e.probe_cog"),
        standin_options={"interaction_deadline": 0.3},
    ) as h:
        h.check_clean = False  # the late callback is the point of this test

        with pytest.raises(NoReply):
            await h.invoke("probe-slow", timeout=1.5)
        await h.standin.wait_for(lambda: any("could not send an error reply" in r.getMessage() for r in caplog.records))

        assert (await h.invoke("topics")).in_time  # and the bot carries on

    assert "Unknown interaction" in caplog.text
    assert "Task exception was never retrieved" not in caplog.text
