"""Start-up on the stand-in: login, intents, command sync (guild / global / skipped), invite URL, no token leaks."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord
import pytest
from discord.ext import commands

from bot.client import EXTENSIONS
from bot.clock import ManualClock
from tests.e2e.harness import Harness, start_harness

pytestmark = pytest.mark.e2e

GUILDS_INTENT = 1


def _command_names(commands_json: list[dict[str, object]]) -> set[object]:
    return {command["name"] for command in commands_json}


async def test_bot_logs_in_with_only_the_guilds_intent_and_is_ready(harness: Harness) -> None:
    session = harness.standin.gateway.current

    assert harness.bot.is_ready()
    assert session is not None
    assert session.intents == GUILDS_INTENT
    assert harness.bot.get_guild(harness.guild.id) is not None


async def test_bot_syncs_every_command_globally_on_its_first_start(harness: Harness) -> None:
    ((guild_id, synced),) = harness.standin.command_syncs

    assert guild_id is None
    assert {"topic", "topics", "related", "search", "trending", "alerts"} <= _command_names(synced)


async def test_bot_restart_with_unchanged_commands_does_not_sync_again(harness: Harness) -> None:
    await harness.restart()

    assert len(harness.standin.command_syncs) == 1
    assert harness.bot.is_ready()
    assert (await harness.invoke("topics")).in_time


async def test_bot_restart_with_changed_commands_syncs_globally_again(harness: Harness) -> None:
    await harness.restart(extensions=("cogs.lookups",))

    assert len(harness.standin.command_syncs) == 2
    guild_id, synced = harness.standin.command_syncs[-1]
    assert guild_id is None
    assert "alerts" not in _command_names(synced)


async def test_bot_with_a_guild_id_syncs_to_that_guild_on_every_start(tmp_path: Path, clock: ManualClock) -> None:
    async with start_harness(tmp_path, clock, guild_sync=True) as h:
        await h.restart()

        assert [guild_id for guild_id, _ in h.standin.command_syncs] == [h.guild.id, h.guild.id]
        assert "topic" in _command_names(h.standin.guild_commands[h.guild.id])
        assert h.standin.global_commands == []
        assert (await h.invoke("topics")).in_time


async def test_bot_logs_the_invite_url_with_the_minimal_permissions(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.client")

    async with start_harness(tmp_path, clock) as h:
        (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("invite URL: ")]

    query = parse_qs(urlsplit(line.removeprefix("invite URL: ")).query)
    assert query["client_id"] == [str(h.standin.application_id)]
    assert query["scope"] == ["bot applications.commands"]
    permissions = discord.Permissions(int(query["permissions"][0]))
    assert permissions.send_messages
    assert permissions.embed_links
    assert not permissions.administrator


async def test_bot_never_logs_or_prints_its_token(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    token = "MTE4.hw-e2e-SECRET-token.Zq9"
    caplog.set_level(logging.DEBUG)

    async with start_harness(tmp_path, clock, token=token) as h:
        await h.invoke("topic", {"name": "AI"})
        await h.autocomplete("topic", {"name": "a"})
        await h.restart()
        log_text = caplog.text + "\n".join(repr(r.args) for r in caplog.records)
        settings_text = repr(h.settings)

    captured = capsys.readouterr()
    assert len(caplog.records) > 20  # the start really was logged at DEBUG
    assert token not in log_text
    assert token not in captured.out + captured.err
    assert token not in settings_text


async def test_bot_with_a_missing_extension_fails_to_start_loudly(tmp_path: Path, clock: ManualClock) -> None:
    with pytest.raises(commands.ExtensionNotFound):
        async with start_harness(tmp_path, clock, extensions=(*EXTENSIONS, "cogs.does_not_exist")):
            pass


async def test_failed_global_sync_is_logged_and_retried_at_the_next_start(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_harness(tmp_path, clock, extensions=()) as h:
        h.standin.faults.fail("PUT /applications/*/commands", status=400, times=1)

        await h.restart(extensions=EXTENSIONS)
        failed = len(h.standin.command_syncs)
        await h.restart()

        assert failed == 1  # only the empty tree of the first start got through
        assert len(h.standin.command_syncs) == 2
        assert (await h.invoke("topics")).in_time
    assert "slash command sync failed" in caplog.text
