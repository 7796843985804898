"""Digest rendering (Discord limits, hostile text) and /digest at the console prompt."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot import render
from bot.clock import ManualClock
from bot.console import run_console
from bot.digest_posters import ConsoleDigestPoster
from bot.render import digests as render_digests
from bot.render import summaries as render_summaries
from bot.services.alerts import AlertService
from bot.services.digests import Digest, DigestItem, DigestService
from db.interfaces import Store
from tests.bot.render.test_stories import HOSTILE, assert_within_limits, huge_view, make_view
from tests.support.storydb import Story, add_stories

DUE = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def digest_of(*items: DigestItem, topic: str | None = None) -> Digest:
    return Digest(12, 100, topic, "daily", "Europe/Berlin", DUE, DUE - timedelta(days=1), items)


def test_digest_embed_numbers_links_and_marks_alerted_stories() -> None:
    first = make_view(id=1, title="First (big) story", link_url="https://news.example/a_(b)", heat=150)
    second = make_view(id=2, title="Second", link_url="javascript:alert(1)", heat=90, provider_name=None)
    embed = render_digests.digest_embed(digest_of(DigestItem(first, True), DigestItem(second, False), topic="AI"))
    lines = (embed.description or "").splitlines()
    assert embed.title == "Daily digest · AI"
    assert lines[0] == (
        "1. [First (big) story](https://news.example/a_%28b%29) — Forbes · heat 150 · AI in Autos, AI"
        " · already posted here as an alert"
    )
    # Not an http(s) link: the title stays plain text, nothing clickable.
    assert lines[1].startswith("2. Second — forbes.com · heat 90")
    assert embed.footer.text is not None
    assert "26 Nov 09:00 – 27 Nov 09:00 Europe/Berlin" in embed.footer.text
    assert "digest 12/20261127T0800Z" in embed.footer.text


def test_digest_embed_of_ten_huge_hostile_stories_stays_within_limits() -> None:
    items = [DigestItem(dataclasses.replace(huge_view(), id=i, title=HOSTILE * 20), i % 2 == 0) for i in range(10)]
    embed = render_digests.digest_embed(digest_of(*items, topic=HOSTILE))
    assert_within_limits(embed)
    assert len(embed) <= render.MESSAGE_EMBED_CHARS
    text = embed.description or ""
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert "<@123>" not in text
    assert text.count("\n") == 9


async def test_console_digest_poster_prints_the_digest() -> None:
    printed: list[str] = []
    poster = ConsoleDigestPoster(printed.append)
    digest = digest_of(DigestItem(make_view(), False))
    message_id = await poster.send_digest(1, digest)
    assert await poster.find_digest(1, digest) == message_id
    assert "Daily digest · every topic" in printed[0]
    assert (
        "1. Vacation Home Boon Expected Due To Self-Driving Cars · https://news.example/a — Forbes · heat 104"
        " · AI in Autos, AI" in printed[0]
    )


def test_a_digest_line_reads_the_same_in_the_embed_and_at_the_console() -> None:
    story = make_view(title="Odd **title** @everyone", link_url="https://news.example/a_(b)")
    digest = digest_of(DigestItem(story, True))
    (embed_line,) = (render_digests.digest_embed(digest).description or "").splitlines()
    console_line = render_digests.digest_text(digest).splitlines()[1]
    assert embed_line == (
        "1. [Odd \\*\\*title\\*\\* @\u200beveryone](https://news.example/a_%28b%29) — Forbes · heat 104"
        " · AI in Autos, AI · already posted here as an alert"
    )
    assert console_line == (
        "  1. Odd **title** @everyone · https://news.example/a_(b) — Forbes · heat 104 · AI in Autos, AI"
        " · already posted here as an alert"
    )


@pytest.fixture
def services(store: Store, clock: ManualClock) -> SimpleNamespace:
    alerts = AlertService(store, clock, max_posts_per_tick=5)
    return SimpleNamespace(alerts=alerts, digests=DigestService(store, clock, alerts=alerts))


async def run(services: SimpleNamespace, *lines: str) -> str:
    out = io.StringIO()
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    assert await run_console(services, stdin=stdin, stdout=out, extensions=("bot.digest_posters",)) == 0  # type: ignore[arg-type]
    return out.getvalue()


async def test_console_digest_add_list_preview_remove(services: SimpleNamespace, store: Store) -> None:
    await add_stories(store, [Story("Something hot", topics=("AI",), heat=120)])
    text = await run(
        services,
        "/digest add channel:#console AI every:weekly day:friday at:18:30 timezone:Europe/Berlin top:3",
        "/digest list",
        "/digest preview AI",
        "/digest remove AI",
        "/digest list",
    )
    assert "#console will get a digest of the 3 hottest stories on AI with heat ≥ 70, weekly on Friday at 18:30" in text
    assert "#console · AI · weekly on Friday at 18:30 Europe/Berlin · top 3 · heat ≥ 70 · next 2026-11-27 18:30" in text
    assert "What the next digest in #console would say now (due 2026-11-27 18:30 Europe/Berlin; nothing is sent):"\
        in text
    assert "Removed 1 digest(s) for AI from #console." in text
    assert "No digests in this server yet." in text


async def test_console_digest_bad_input_says_what_to_type(services: SimpleNamespace) -> None:
    text = await run(
        services, "/digest add timezone:Mars/Olympus", "/digest add at:25:00", "/digest add top:x", "/digest list"
    )
    assert "! Unknown time zone “Mars/Olympus”." in text
    assert "! at must be a time of day as HH:MM" in text
    assert "! top must be a whole number" in text
    assert "No digests in this server yet." in text


async def test_console_alerts_quiet_then_off(services: SimpleNamespace, store: Store) -> None:
    out = io.StringIO()
    lines = [
        "/alerts add",
        "/alerts quiet start:22:00 end:07:00 timezone:Europe/Berlin breaking:150",
        "/alerts list",
        "/alerts quiet start:22:00",
        "/alerts quiet off",
    ]
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    await run_console(services, stdin=stdin, stdout=out, extensions=("bot.alert_posters",))  # type: ignore[arg-type]
    text = out.getvalue()
    assert "Quiet hours in #console: 22:00–07:00 Europe/Berlin, breaking ≥ 150. Alerts are held meanwhile (stories"\
        " with heat ≥ 150 still post at once)" in text
    assert "🌙 #console quiet 22:00–07:00 Europe/Berlin, breaking ≥ 150" in text
    assert "! Usage: /alerts quiet start:22:00 end:07:00" in text
    assert "Quiet hours in #console are off; held alerts post as usual." in text


def test_summary_messages_split_only_when_one_cannot_hold_them() -> None:
    few = [make_view(id=i, title=f"Short {i}", link_url=f"https://news.example/{i}") for i in range(5)]
    assert len(render_summaries.summary_messages("rollup", few)) == 1
    many = [
        make_view(id=i, title=HOSTILE * 3, link_url=f"https://news.example/{'x' * 150}/{i}") for i in range(40)
    ]
    messages = render_summaries.summary_messages("rollup", many)
    assert len(messages) > 1
    assert messages[0][0].startswith("📚 **40 more stories above your line:**")
    assert all(len(text) <= render.MESSAGE_CONTENT_LIMIT for text, _ in messages)
    carried = [story_id for _, ids in messages for story_id in ids]
    assert carried == list(range(40))  # every story once, in order
    assert all("<@123>" not in text and "@everyone" not in text for text, _ in messages)
