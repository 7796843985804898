"""Thread messages as Discord shows them: escaped story text, http(s) links only, within 2,000 characters."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render.threads import (
    RELATED_HEADING,
    coverage_marker,
    coverage_message,
    related_message,
    tag_name,
    thread_name,
)
from db.models import RelatedLink, StoryView


def link(n: int, *, url: str = "https://elsewhere.example/a", jump: bool = False, title: str = "") -> RelatedLink:
    return RelatedLink(
        title=title or f"Related story {n} " + "with a long title " * 12,
        url=url,
        provider_name="Elsewhere <@&123>",
        story_id=n if jump else None,
        guild_id=1,
        jump_channel_id=2 if jump else None,
        jump_message_id=3 if jump else None,
    )


def story(title: str, url: str = "https://news.example/a") -> StoryView:
    now = datetime(2026, 12, 7, tzinfo=UTC)
    return StoryView(
        id=7,
        url=url,
        link_url=url,
        title=title,
        excerpt="",
        published_at=now,
        kind="news",
        provider_name="Wire [Co]",
        provider_domain="wire.example",
        amp_url=None,
        image_url=None,
        heat=90,
        quality=50,
        topics=("AI",),
        first_seen_at=now,
    )


def test_related_list_links_our_post_or_the_story_and_fits_one_message() -> None:
    text = related_message([link(1, jump=True, title="@everyone look"), *(link(n) for n in range(2, 40))])
    assert text is not None
    lines = text.splitlines()
    assert lines[0] == RELATED_HEADING
    assert (
        lines[1]
        == "• [@\u200beveryone look](<https://discord.com/channels/1/2/3>) (our post) — Elsewhere <\u200b@&123>"
    )
    assert lines[2].startswith("• [Related story 2 with a long title")
    assert "(<https://elsewhere.example/a>)" in lines[2]
    assert lines[-1].startswith("… and ")
    assert lines[-1].endswith(" more")
    assert len(text) <= 2000


def test_a_related_entry_without_an_http_link_is_plain_text_and_no_list_without_entries() -> None:
    text = related_message([link(1, url="javascript:alert(1)", title="Bad link")])
    assert text is not None
    assert "javascript" not in text
    assert text.splitlines()[1] == "• Bad link — Elsewhere <\u200b@&123>"
    assert related_message([]) is None


def test_coverage_message_names_the_provider_and_links_the_story() -> None:
    covered = story("A *retold* story")
    assert coverage_message(covered) == (
        "Also covered by **Wire \\[Co\\]**: [A \\*retold\\* story](<https://news.example/a>)"
    )
    assert coverage_marker(covered) == "https://news.example/a"


def test_thread_and_tag_names_keep_discords_limits() -> None:
    assert len(thread_name(story("x" * 300))) == 100
    assert tag_name("  Machine learning ") == "Machine learning"
    assert tag_name("Artificial Intelligence") is None  # 23 characters: over Discord's 20
