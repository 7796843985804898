"""What a Discord user sees of a story: limits under hostile input, escaping, mentions, packing."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import discord
import pytest

from bot import render
from db.models import StoryView

HOSTILE = "@everyone @here <@123> <@!45> <@&678> <#90> **bold** __u__ ~~s~~ `code` ||spoiler|| [x](https://evil.example)"


def make_view(**changes: object) -> StoryView:
    base = StoryView(
        id=7,
        url="https://news.example/a",
        link_url="https://news.example/a",
        title="Vacation Home Boon Expected Due To Self-Driving Cars",
        excerpt="The advent of self-driving cars will make ...",
        published_at=datetime(2020, 12, 27, 16, 30, tzinfo=UTC),
        kind="article",
        provider_name="Forbes",
        provider_domain="forbes.com",
        amp_url=None,
        image_url="https://img.example/a.jpg",
        heat=104,
        quality=74,
        topics=("AI in Autos", "AI"),
        first_seen_at=datetime(2026, 11, 26, 11, 0, tzinfo=UTC),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def huge_view() -> StoryView:
    return make_view(
        title="T" * 10_000,
        excerpt=("word *x* " * 2_000),
        topics=tuple(f"Topic number {i} with a long name {'y' * 60}" for i in range(30)),
        provider_name="P" * 1_000,
    )


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= render.TITLE_LIMIT
    assert len(embed.description or "") <= render.DESCRIPTION_LIMIT
    assert len(embed.fields) <= 25
    for field in embed.fields:
        assert 0 < len(field.name or "") <= render.FIELD_NAME_LIMIT
        assert 0 < len(field.value or "") <= render.FIELD_VALUE_LIMIT
    assert len(embed.author.name or "") <= render.AUTHOR_LIMIT
    assert len(embed.footer.text or "") <= render.FOOTER_LIMIT
    assert len(embed) <= render.MESSAGE_EMBED_CHARS


def test_story_embed_shows_title_link_excerpt_provider_image_and_time() -> None:
    embed = render.story_embed(make_view())
    assert embed.title == "Vacation Home Boon Expected Due To Self-Driving Cars"
    assert embed.url == "https://news.example/a"
    assert embed.description == "The advent of self-driving cars will make ..."
    assert embed.author.name == "Forbes"
    assert embed.thumbnail.url == "https://img.example/a.jpg"
    assert embed.timestamp == datetime(2020, 12, 27, 16, 30, tzinfo=UTC)
    fields = {f.name: f.value for f in embed.fields}
    assert fields == {"Topics": "AI in Autos, AI", "Heat": "104", "Quality": "74"}


def test_story_embed_hostile_sizes_stay_within_every_limit() -> None:
    embed = render.story_embed(huge_view())
    assert_within_limits(embed)
    assert embed.title is not None
    assert embed.title.endswith("…")
    assert embed.description is not None
    assert embed.description.endswith("…")


def test_story_embed_refuses_non_http_links_and_images() -> None:
    embed = render.story_embed(make_view(link_url="javascript:alert(1)", image_url="data:image/png;base64,AAAA"))
    assert embed.url is None
    assert not embed.thumbnail


def test_story_embed_marks_suppressed_and_unknown_heat() -> None:
    fields = {f.name: f.value for f in render.story_embed(make_view(heat=-1, quality=None)).fields}
    assert fields["Heat"] == "suppressed"
    assert fields["Quality"] == "unknown"


def test_story_embed_uses_domain_when_provider_name_missing() -> None:
    assert render.story_embed(make_view(provider_name=None)).author.name == "forbes.com"
    assert render.story_embed(make_view(provider_name="  ")).author.name == "forbes.com"


def test_story_embed_marks_videos() -> None:
    embed = render.story_embed(make_view(kind="video"))
    assert embed.title is not None
    assert embed.title.startswith("▶")
    assert embed.footer.text is not None
    assert "Video" in embed.footer.text


def test_story_embed_escapes_markdown_and_mentions_in_title_and_excerpt() -> None:
    embed = render.story_embed(make_view(title=HOSTILE, excerpt=HOSTILE, topics=("**AI**",)))
    for text in (embed.title or "", embed.description or "", embed.fields[0].value or ""):
        assert "@everyone" not in text
        assert "@here" not in text
        assert "<@" not in text
        assert "<#" not in text
        assert "**" not in text.replace("\\*\\*", "")
    assert "\\[x\\](https://evil.example)" in (embed.description or "")


def test_story_embed_html_entities_and_crlf_are_cleaned() -> None:
    embed = render.story_embed(make_view(excerpt="What&#8217;s next\r\n\r\nfor  Power BI &amp; you"))
    assert embed.description == "What’s next for Power BI & you"


def test_escape_keeps_bare_urls_clickable() -> None:
    assert render.escape("see https://ex.com/a_b_c here_") == "see https://ex.com/a_b_c here\\_"


def test_escape_defuses_discord_invites() -> None:
    text = render.escape("join https://discord.gg/7QWDRDT or discord.com/invite/abc")
    assert "discord.gg/7QWDRDT" not in text
    assert "discord.com/invite/abc" not in text
    assert "7QWDRDT" in text


def test_escape_line_start_markdown() -> None:
    assert render.escape("# Big\n> quote\n- item\n  12. first") == "\\# Big\n\\> quote\n\\- item\n  12\\. first"


def test_escape_neutralises_mention_forms() -> None:
    text = render.escape("<@1> <@!2> <@&3> <#4> </cmd:5> @everyone @Here")
    assert "<@" not in text
    assert "<#" not in text
    assert "</" not in text
    assert "@everyone" not in text
    assert "@Here" not in text


def test_no_mentions_allows_nothing() -> None:
    mentions = render.NO_MENTIONS
    assert (mentions.everyone, mentions.users, mentions.roles, mentions.replied_user) == (False, False, False, False)


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exactly10!", 10, "exactly10!"),
        ("hello world", 6, "hello…"),
        ("e\u0301e\u0301e\u0301", 4, "e\u0301…"),
        ("ab🇫🇷🇩🇪", 5, "ab🇫🇷…"),
        ("x👍🏽y", 3, "x…"),
        ("anything", 1, "…"),
        ("anything", 0, ""),
    ],
)
def test_truncate_cuts_on_grapheme_boundaries(text: str, limit: int, expected: str) -> None:
    assert render.truncate(text, limit) == expected


def test_fit_never_exceeds_limit_after_escaping() -> None:
    for limit in (1, 2, 5, 17, 100):
        assert len(render.fit("*" * 500, limit)) <= limit
        assert not render.fit("*" * 500, limit).endswith("\\")


def test_stories_embeds_page_of_ten_hostile_stories_fits_one_message() -> None:
    embeds = render.stories_embeds([huge_view()] * 10)
    assert len(embeds) == 10
    assert sum(len(e) for e in embeds) <= 6000
    for embed in embeds:
        assert_within_limits(embed)


def test_forum_title_is_at_most_100_characters() -> None:
    assert len(render.forum_title(huge_view())) == 100
    assert render.forum_title(make_view(title="What&#8217;s new")) == "What’s new"
    assert render.forum_title(make_view(title="   ")) == "Untitled story"


def test_story_text_is_readable_plain_text() -> None:
    text = render.story_text(make_view(excerpt="line\x1b[31m red\r\nnext"))
    assert text.splitlines()[0] == "#7 Vacation Home Boon Expected Due To Self-Driving Cars"
    assert "Forbes · 2020-12-27 16:30 UTC · heat 104 · quality 74" in text
    assert "topics: AI in Autos, AI" in text
    assert "\x1b" not in text
    assert "https://news.example/a" in text
