"""The console playground as a person uses it: typed commands in, readable text out, never a traceback."""

from __future__ import annotations

import io
from datetime import timedelta
from types import SimpleNamespace

import pytest

from bot.clock import ManualClock
from bot.console import ConsoleArgs, ConsoleCommand, ConsoleSession, run_console
from bot.errors import InvalidArgument
from bot.services.lookups import LookupService
from db.interfaces import Store
from tests.support.storydb import NOW, Related, Story, add_stories


@pytest.fixture
def services(store: Store, clock: ManualClock) -> SimpleNamespace:
    return SimpleNamespace(lookups=LookupService(store.lookups, clock))


async def run(services: SimpleNamespace, *lines: str, **kwargs: object) -> str:
    out = io.StringIO()
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    # Only the lookup commands: other features' console commands are tested with those features.
    kwargs.setdefault("extensions", ())
    status = await run_console(services, stdin=stdin, stdout=out, **kwargs)  # type: ignore[arg-type]
    assert status == 0
    return out.getvalue()


async def test_console_topic_shows_stories_and_pages_with_next_and_prev(
    services: SimpleNamespace, store: Store
) -> None:
    await add_stories(store, [Story(f"Story number {i:02d}", heat=100 - i) for i in range(7)])
    text = await run(services, "/topic AI", "next", "prev", "/quit")
    first, second, third = (text.split("Topic AI")[n] for n in (1, 2, 3))
    assert "Story number 00" in first
    assert "page 1/2 · type next" in first
    assert "Story number 05" in second
    assert "page 2/2 · type prev" in second
    assert "Story number 00" in third


async def test_console_named_parameters_like_discord(services: SimpleNamespace, store: Store) -> None:
    await add_stories(
        store,
        [
            Story("older but hotter", topics=("Power Apps",), heat=150, published_at=NOW - timedelta(days=5)),
            Story("newest", topics=("Power Apps",), heat=75, published_at=NOW - timedelta(hours=1)),
        ],
    )
    text = await run(services, "/topic name:power apps sort:new")
    assert "newest first" in text
    assert text.index("newest") < text.index("older but hotter")


async def test_console_topics_lists_counts(services: SimpleNamespace, store: Store) -> None:
    await add_stories(store, [Story("a", topics=("AI", "Ethics")), Story("b", topics=("AI",))])
    text = await run(services, "/topics")
    assert "1. AI · 2 stories" in text
    assert "2. Ethics · 1 story" in text


async def test_console_related_by_title_shows_linked_and_similar(services: SimpleNamespace, store: Store) -> None:
    await add_stories(
        store,
        [
            Story("Delhi airport tracks passengers", related=(Related("https://b.example/x", "Airport tracking"),)),
            Story("Airport tracking tech", url="https://b.example/x"),
        ],
    )
    text = await run(services, "/related delhi airport")
    assert "Delhi airport tracks passengers" in text
    assert "From the story's own related list\n• Airport tracking · https://b.example/x" in text
    assert "· our story 2" in text


async def test_console_search_and_trending(services: SimpleNamespace, store: Store) -> None:
    await add_stories(store, [Story("Quantum computing leaps", heat=120), Story("Bakery news", heat=90)])
    text = await run(services, '/search "quantum* (computing', "/trending 24 AI", "/trending hours:2")
    assert "Search “\"quantum* (computing”" in text
    assert "Quantum computing leaps" in text
    assert "Trending on AI: first seen in the last 24 hours · hottest first" in text
    assert "Trending: first seen in the last 2 hours · hottest first" in text


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/trending 0", "between 1 and 720"),
        ("/trending hours:soon", "whole number"),
        ("/topic nosuchthing", "There is no topic"),
        ("/topic", "Give a topic name"),
        ("/search ***", "at least one word"),
        ("/related https://nowhere.example/x", "don't have a story with that link"),
        ("next", "nothing to page through"),
        ("/frobnicate", "Unknown command"),
        ("topic AI", "Commands start with /"),
    ],
)
async def test_console_bad_input_gets_a_message_not_a_traceback(
    services: SimpleNamespace, store: Store, line: str, message: str
) -> None:
    await add_stories(store, [Story("Something")])
    text = await run(services, line, "/quit")
    assert message in text
    assert "Traceback" not in text


async def test_console_help_lists_every_command(services: SimpleNamespace) -> None:
    text = await run(services, "/help")
    for usage in ("/topic <name> [sort:hot|new]", "/topics", "/related", "/search <words>", "/trending [hours]",
                  "next / prev", "/quit"):
        assert usage in text


async def test_console_ends_at_end_of_input(services: SimpleNamespace) -> None:
    assert "Heatwave console" in await run(services)


async def test_console_accepts_registered_commands(services: SimpleNamespace) -> None:
    async def hello(session: ConsoleSession, args: ConsoleArgs) -> None:
        if not args.named.get("name"):
            raise InvalidArgument("Say who to greet.")
        session.write(f"hello {args.named['name']}")

    extra = [ConsoleCommand("/hello", "/hello name:<who>", "greet someone", hello, ("name",))]
    text = await run(services, "/hello name:Ada Lovelace", "/hello", "/help", extra_commands=extra)
    assert "hello Ada Lovelace" in text
    assert "! Say who to greet." in text
    assert "/hello name:<who>" in text


async def test_console_unexpected_error_is_logged_and_the_prompt_survives(
    services: SimpleNamespace, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(_session: ConsoleSession, _args: ConsoleArgs) -> None:
        raise RuntimeError("boom")

    extra = [ConsoleCommand("/broken", "/broken", "always fails", broken)]
    text = await run(services, "/broken", "/help", extra_commands=extra)
    assert "Sorry, something went wrong" in text
    assert "Traceback" not in text
    assert "boom" not in text
    assert "/broken" in text.split("Sorry")[1]  # /help still answered afterwards
    assert "console command failed" in caplog.text


def test_console_args_split_named_values_until_the_next_key() -> None:
    args = ConsoleArgs.parse('name:Power Apps sort:new "quoted words" title:x', ("name", "sort"))
    assert dict(args.named) == {"name": "Power Apps", "sort": "new quoted words title:x"}
    assert ConsoleArgs.parse('unbalanced "quote', ()).positional == ("unbalanced", '"quote')


# ----- issue 13: /help width, wording, the README's own syntax ------------------------------------------------


async def test_console_help_fits_an_80_column_terminal(services: SimpleNamespace) -> None:
    async def noop(_session: ConsoleSession, _args: ConsoleArgs) -> None:
        return None

    long_usage = (
        "/alerts add [topic] [min_heat:N] [min_quality:N] [backfill:N] | list | remove [topic] | pause | resume"
        " | preview [topic]"
    )
    long_summary = "post new hot stories here, " * 5
    extra = [ConsoleCommand("/alerts", long_usage, long_summary.strip(), noop)]

    text = await run(services, "/help", extra_commands=extra)

    help_lines = text.split("Commands (", 1)[1].splitlines()
    assert max(len(line) for line in help_lines) <= 80
    # The short commands keep a narrow description column, and nothing of the long entry is lost.
    assert "  /topics                       every topic with its number of stories" in text
    assert " ".join(text.split()).count("post new hot stories here,") == 5
    assert "preview [topic]" in text


async def test_console_counts_say_1_match_and_1_story(services: SimpleNamespace, store: Store) -> None:
    await add_stories(store, [Story("Quantum computing leaps", heat=120, topics=("AI",))])

    text = await run(services, "/search quantum", "/topic AI", "/trending")

    assert "· 1 match\n" in text
    assert "1 matches" not in text
    assert "Topic AI · hottest first · 1 story\n" in text
    assert "Trending: first seen in the last 24 hours · hottest first · 1 story\n" in text
    assert "1 stories" not in text


@pytest.mark.parametrize("hours", ["1.5", "0.5", "1e3", "2,5"])
async def test_console_trending_with_a_non_whole_number_names_the_hours_rule(
    services: SimpleNamespace, store: Store, hours: str
) -> None:
    await add_stories(store, [Story("Something")])

    text = await run(services, f"/trending {hours}")

    assert "There is no topic" not in text
    assert f"! hours must be a whole number from 1 to 720, not “{hours}”." in text


async def _echo(session: ConsoleSession, args: ConsoleArgs) -> None:
    session.write(f"positional={list(args.positional)} named={dict(args.named)}")


ALERTS_ECHO = [ConsoleCommand("/alerts", "/alerts …", "echo", _echo, ("topic", "min_heat"))]


@pytest.mark.parametrize(
    ("line", "seen"),
    [
        ("/alerts add channel:#console AI", "positional=['add', 'AI'] named={}"),
        ("/alerts add #console AI min_heat:90", "positional=['add', 'AI'] named={'min_heat': '90'}"),
        (
            "/alerts add topic:AI channel:#console min_heat:90",
            "positional=['add'] named={'topic': 'AI', 'min_heat': '90'}",
        ),
        ("/alerts resume channel:console", "positional=['resume'] named={}"),
    ],
)
async def test_console_accepts_the_readme_channel_syntax(services: SimpleNamespace, line: str, seen: str) -> None:
    text = await run(services, line, extra_commands=ALERTS_ECHO)

    assert seen in text


@pytest.mark.parametrize("line", ["/alerts resume #other", "/alerts add channel:#news AI", "/alerts pause <#123>"])
async def test_console_refuses_another_channel_by_name(services: SimpleNamespace, line: str) -> None:
    text = await run(services, line, extra_commands=ALERTS_ECHO)

    assert "positional=" not in text  # the command did not run on #console as if that had been asked
    assert "! The playground has one channel, #console; there is no channel “" in text
    assert line.split()[-1].removeprefix("channel:") in text or "#news" in text


async def test_console_alerts_add_with_the_readme_syntax_follows_the_topic(
    services: SimpleNamespace, store: Store, clock: ManualClock
) -> None:
    from bot.services.alerts import AlertService

    await add_stories(store, [Story("Something", topics=("AI",))])
    services.alerts = AlertService(store, clock, max_posts_per_tick=5)

    text = await run(services, "/alerts add channel:#console AI", "/alerts list", extensions=("bot.alert_posters",))

    assert "#console will now get new stories on AI with heat ≥ 70 and no quality filter." in text
    assert "No topic" not in text
    assert "#console · AI · heat ≥ 70 · last post never" in text


async def test_console_alerts_names_the_channel_it_acts_on_and_refuses_another(
    services: SimpleNamespace, store: Store, clock: ManualClock
) -> None:
    from bot.services.alerts import AlertService

    services.alerts = AlertService(store, clock, max_posts_per_tick=5)

    lines = ["/alerts add", "/alerts pause channel:#console", "/alerts resume #other", "/alerts resume #console"]

    text = await run(services, *lines, extensions=("bot.alert_posters",))

    assert "Paused alerts in #console." in text
    assert "! The playground has one channel, #console; there is no channel “#other” here." in text
    assert "Resumed alerts in #console." in text


async def test_console_why_explains_a_story_in_console_like_discord(
    services: SimpleNamespace, store: Store, clock: ManualClock
) -> None:
    from datetime import timedelta

    from bot.alert_posters import CONSOLE_CHANNEL_ID, ConsolePoster
    from bot.services.alerts import AlertService
    from bot.services.why import WhyService

    services.alerts = AlertService(store, clock, max_posts_per_tick=5)
    services.why = WhyService(
        store, services.lookups, clock, posts_per_tick=5, tick_interval=timedelta(minutes=1)
    )
    await services.alerts.add_subscription(guild_id=0, channel_id=CONSOLE_CHANNEL_ID, channel_kind="console")
    await add_stories(store, [Story("Lukewarm chips", heat=50), Story("Scorching chips", heat=120)])
    await services.alerts.tick(ConsolePoster(lambda _text: None))

    text = await run(
        services, "/why Lukewarm chips", "/why story:Scorching chips channel:#console", "/why 1 #other",
        extensions=("bot.alert_posters",),
    )

    assert "in #console: stopped at heat." in text
    assert "✗ heat [every topic]: heat 50 < line 70 (20 short)" in text
    assert "✓ ledger: posted at 2026-11-26 12:00 UTC · message 1" in text
    assert "! The playground has one channel, #console; there is no channel “#other” here." in text
