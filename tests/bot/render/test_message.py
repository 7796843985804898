"""A message written once as spans: what Discord shows and what the console prints of each kind of span."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render.limits import MESSAGE_CONTENT_LIMIT
from bot.render.message import (
    ChannelRef,
    Code,
    Entry,
    Link,
    MessageRef,
    Moment,
    Names,
    Quote,
    RoleRef,
    Strong,
    Untrusted,
    markdown,
    plain,
    reply,
)
from tests.bot.render.test_stories import HOSTILE

CONSOLE = Names(channel=lambda channel_id: "#console" if channel_id == 1 else f"channel {channel_id}")
AT = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def test_untrusted_text_is_escaped_on_discord_and_cleaned_at_the_console() -> None:
    shown = markdown(("Topic ", Strong(Untrusted(HOSTILE))))
    assert shown.startswith("Topic **")
    assert "@everyone" not in shown
    assert "<@123>" not in shown
    assert "**bold**" not in shown.removeprefix("Topic **")
    assert plain(Untrusted("a\x1b[31m red\u202e line\n"), CONSOLE) == "a[31m red line"


def test_a_limit_holds_after_escaping_on_discord() -> None:
    assert len(markdown(Untrusted("*" * 500, 100))) <= 100
    assert plain(Untrusted("word " * 100, 20), CONSOLE).endswith("…")


def test_references_are_mentions_on_discord_and_names_at_the_console() -> None:
    line = (ChannelRef(1), " pings ", RoleRef(7), " · ", MessageRef(2, 1, 99), " · ", Code("/alerts list"))
    assert markdown(line) == "<#1> pings <@&7> · [the message](<https://discord.com/channels/2/1/99>) · `/alerts list`"
    assert plain(line, CONSOLE) == "#console pings role 7 · message 99 · /alerts list"


def test_moments_are_discord_timestamps_and_local_times_at_the_console() -> None:
    assert markdown(Moment(AT)) == f"<t:{int(AT.timestamp())}:R>"
    assert markdown(Moment(None)) == plain(Moment(None), CONSOLE) == "never"
    assert plain(Moment(AT), CONSOLE) == "2026-11-26 12:00 UTC"
    assert plain(Moment(AT, "f", "Europe/Berlin"), CONSOLE) == "2026-11-26 13:00 Europe/Berlin"


def test_only_http_links_are_linked() -> None:
    assert markdown(Link(Untrusted("Title"), "https://a.example/x_(y)", card=False)) == (
        "[Title](<https://a.example/x_%28y%29>)"
    )
    assert markdown(Link(Untrusted("Title"), "javascript:alert(1)")) == "Title"
    assert plain(Link(Untrusted("Title"), "https://a.example/x"), CONSOLE) == "Title · https://a.example/x"
    assert plain(Link(Untrusted("Title"), "javascript:alert(1)"), CONSOLE) == "Title"
    assert markdown(Quote(Untrusted("words"))) == "**words**"
    assert plain(Quote(Untrusted("words")), CONSOLE) == "“words”"


def test_a_long_reply_keeps_whole_lines_within_discords_limit_and_counts_the_rest() -> None:
    entries = [Entry((f"{n}. ", Untrusted("x" * 90)), ((f"detail {n}",),)) for n in range(100)]
    message = reply(("Heading",), entries=entries)
    text = message.markdown()
    assert len(text) <= MESSAGE_CONTENT_LIMIT
    kept = sum(1 for line in text.splitlines() if line[:1].isdigit())
    assert text.endswith(f"… and {100 - kept} more")
    console = message.plain(CONSOLE).splitlines()
    assert console[1:3] == ["  0. " + "x" * 90, "    detail 0"]
    assert len(console) == 1 + 200


def test_a_single_line_longer_than_a_message_is_cut_not_dropped() -> None:
    text = reply((Untrusted("y" * 5000),), ("second",)).markdown()
    assert len(text) <= MESSAGE_CONTENT_LIMIT
    assert text.startswith("yyy")
    assert text.endswith("… and 1 more")
