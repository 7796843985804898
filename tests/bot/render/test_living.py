"""What a living alert message looks like after an edit: heat marker, suppression, "Also covered by"."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.alert_posters import ConsolePoster
from bot.render.stories import LivingPost, heat_change, living_embed, living_text
from tests.bot.render.test_stories import HOSTILE, huge_view, make_view

AT = datetime(2026, 11, 26, 17, 42, tzinfo=UTC)


def fields(post: LivingPost) -> dict[str, str]:
    return {f.name: str(f.value) for f in living_embed(post).fields}


def test_heat_marker_says_which_way_and_from_where() -> None:
    assert heat_change(80, 104) == "▲ rising from 80"
    assert heat_change(120, 100) == "▼ cooling from 120"
    assert heat_change(None, 100) == heat_change(100, -1) == heat_change(90, 90) == ""


def test_hostile_provider_names_are_escaped_and_only_http_links_are_kept() -> None:
    coverage = [
        make_view(id=8, provider_name=HOSTILE, link_url="https://b.example/x"),
        make_view(id=9, provider_name="Sneaky", link_url="javascript:alert(1)"),
    ]
    value = fields(LivingPost.of(make_view(), coverage, previous_heat=90, updated_at=AT))["Also covered by"]
    assert "@everyone" not in value.replace("@\u200beveryone", "")
    assert "<@123>" not in value
    assert value.endswith(" · Sneaky")  # no link for a non-http(s) URL
    assert "(https://b.example/x)" in value


def test_a_huge_story_with_full_coverage_stays_within_discords_limits() -> None:
    coverage = [make_view(id=100 + n, provider_name="P" * 300, link_url=f"https://x.example/{'y' * 500}/{n}")
                for n in range(9)]
    embed = living_embed(LivingPost.of(huge_view(), coverage, previous_heat=1, updated_at=AT))
    assert len(embed) <= 6000
    assert all(len(str(f.value)) <= 1024 for f in embed.fields)
    covered = str(embed.fields[-1].value)
    assert covered.endswith(" more")
    assert covered.count("](https://x.example/") + int(covered.rsplit("+", 1)[1].split()[0]) == 9  # all counted


def test_console_prints_the_updated_alert() -> None:
    lines: list[str] = []
    poster = ConsolePoster(lines.append)
    coverage = [make_view(id=8, provider_name="Reuters")]
    post = LivingPost.of(make_view(heat=-1), coverage, previous_heat=104, updated_at=AT)
    asyncio.run(poster.edit(1, 5, post))
    assert "alert updated in #console" in lines[0]
    assert "withdrawn this story" in lines[0]
    assert "also covered by: Reuters https://news.example/a" in lines[0]
    assert "updated 17:42 UTC" in living_text(post)
