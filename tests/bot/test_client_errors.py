"""bot.client's one app-command error handler: what the user is told, and that it never raises."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.client import HeatwaveTree, describe_error
from bot.errors import InvalidArgument, NotFound


async def _callback(interaction: discord.Interaction) -> None:
    """A command body (never run)."""


COMMAND: app_commands.Command[Any, ..., None] = app_commands.Command(
    name="topic", description="Stories on a topic", callback=_callback
)


class _ChannelTransformer(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: Any) -> Any:
        return value


def _http_error(status: int, code: int, message: str) -> discord.HTTPException:
    return discord.HTTPException(SimpleNamespace(status=status, reason=message), {"code": code, "message": message})


@dataclass
class FakeResponse:
    done: bool = False
    fail_with: Exception | None = None
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def is_done(self) -> bool:
        return self.done

    async def send_message(self, content: str, **kwargs: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((content, kwargs))
        self.done = True


@dataclass
class FakeFollowup:
    fail_with: Exception | None = None
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def send(self, content: str, **kwargs: Any) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((content, kwargs))


@dataclass
class FakeInteraction:
    response: FakeResponse = field(default_factory=FakeResponse)
    followup: FakeFollowup = field(default_factory=FakeFollowup)
    expired: bool = False
    id: int = 42
    guild_id: int = 7
    user: Any = field(default_factory=lambda: SimpleNamespace(id=99))
    command: Any = COMMAND

    def is_expired(self) -> bool:
        return self.expired

    def replies(self) -> list[tuple[str, dict[str, Any]]]:
        return self.response.sent + self.followup.sent


@pytest.fixture
def tree() -> HeatwaveTree:
    return HeatwaveTree(discord.Client(intents=discord.Intents.none()))  # type: ignore[arg-type]


def _invoke_error(exc: Exception) -> app_commands.CommandInvokeError:
    return app_commands.CommandInvokeError(COMMAND, exc)


def test_describe_error_shows_a_heatwave_errors_user_message() -> None:
    error = _invoke_error(NotFound("No topic “xyz”. Did you mean “AI”?"))

    assert describe_error(error) == "No topic “xyz”. Did you mean “AI”?"


def test_describe_error_shows_the_user_message_when_a_transformer_raised_it() -> None:
    error = app_commands.TransformerError("zz", discord.AppCommandOptionType.string, _ChannelTransformer())
    error.__cause__ = InvalidArgument("hours must be between 1 and 720")

    assert describe_error(error) == "hours must be between 1 and 720"


def test_describe_error_names_the_missing_permission_in_discords_words() -> None:
    text = describe_error(app_commands.MissingPermissions(["manage_guild"]))

    assert text == "You need the Manage Server permission to use this command."


def test_describe_error_names_what_the_bot_itself_is_missing() -> None:
    text = describe_error(app_commands.BotMissingPermissions(["embed_links"]))

    assert text is not None
    assert "I'm missing the Embed Links permission" in text


def test_describe_error_tells_how_long_to_wait_on_cooldown() -> None:
    cooldown = app_commands.Cooldown(1, 10.0)

    assert describe_error(app_commands.CommandOnCooldown(cooldown, 4.2)) == "Slow down a little: try again in 4 s."


def test_describe_error_says_server_only_commands_need_a_server() -> None:
    assert describe_error(app_commands.NoPrivateMessage()) == "This command only works inside a server."


def test_describe_error_explains_a_failed_check_without_blaming_the_bot() -> None:
    assert describe_error(app_commands.CheckFailure()) == "You can't use this command here."


def test_describe_error_quotes_the_value_it_could_not_convert_with_markdown_escaped() -> None:
    error = app_commands.TransformerError("**#general**", discord.AppCommandOptionType.channel, _ChannelTransformer())

    text = describe_error(error)

    assert text is not None
    assert "\\*\\*#general\\*\\*" in text
    assert "channel" in text


def test_describe_error_asks_to_retry_when_discord_sent_an_outdated_command() -> None:
    text = describe_error(app_commands.CommandNotFound("old", []))

    assert text is not None
    assert "try again in a minute" in text


def test_describe_error_treats_any_other_exception_as_a_bug() -> None:
    assert describe_error(_invoke_error(ZeroDivisionError("division by zero"))) is None


async def test_on_error_replies_ephemerally_with_the_user_message(tree: HeatwaveTree) -> None:
    interaction = FakeInteraction()

    await tree.on_error(interaction, _invoke_error(NotFound("Nothing about “xyz” yet.")))  # type: ignore[arg-type]

    ((text, kwargs),) = interaction.response.sent
    assert text == "Nothing about “xyz” yet."
    assert kwargs["ephemeral"] is True
    assert kwargs["allowed_mentions"].to_dict() == {"parse": []}


async def test_on_error_uses_a_followup_when_the_command_already_deferred(tree: HeatwaveTree) -> None:
    interaction = FakeInteraction(response=FakeResponse(done=True))

    await tree.on_error(interaction, _invoke_error(NotFound("gone")))  # type: ignore[arg-type]

    assert interaction.response.sent == []
    ((text, kwargs),) = interaction.followup.sent
    assert text == "gone"
    assert kwargs["ephemeral"] is True


async def test_on_error_falls_back_to_a_followup_when_another_reply_won_the_race(tree: HeatwaveTree) -> None:
    interaction = FakeInteraction(response=FakeResponse(fail_with=discord.InteractionResponded(None)))  # type: ignore[arg-type]

    await tree.on_error(interaction, _invoke_error(NotFound("gone")))  # type: ignore[arg-type]

    assert [text for text, _ in interaction.followup.sent] == ["gone"]


async def test_on_error_logs_a_bug_with_its_traceback_and_apologises_without_details(
    tree: HeatwaveTree, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = FakeInteraction()
    try:
        _ = 1 / 0
    except ZeroDivisionError as exc:
        error = _invoke_error(exc)

    await tree.on_error(interaction, error)  # type: ignore[arg-type]

    ((text, kwargs),) = interaction.replies()
    assert text.startswith("Sorry, something went wrong")
    assert "division" not in text
    assert kwargs["ephemeral"] is True
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "/topic" in record.getMessage()
    assert record.exc_info is not None
    assert "ZeroDivisionError" in caplog.text
    ref = text.split("(ref ")[1].split(")")[0]
    assert ref in record.getMessage()


async def test_on_error_stays_quiet_when_the_interaction_expired(
    tree: HeatwaveTree, caplog: pytest.LogCaptureFixture
) -> None:
    interaction = FakeInteraction(expired=True)

    with caplog.at_level(logging.INFO):
        await tree.on_error(interaction, _invoke_error(NotFound("late")))  # type: ignore[arg-type]

    assert interaction.replies() == []
    assert "expired" in caplog.text


async def test_on_error_swallows_unknown_interaction_from_discord(
    tree: HeatwaveTree, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = _http_error(404, 10062, "Unknown interaction")
    interaction = FakeInteraction(response=FakeResponse(fail_with=unknown))

    await tree.on_error(interaction, _invoke_error(NotFound("late")))  # type: ignore[arg-type]

    assert "Unknown interaction" in caplog.text
