"""A fixed set of story files for end-to-end tests, written in the corpus format (YAML front matter, empty body).

Fixed rather than `seeds/` so assertions do not move when the sample stories change: 27 AI stories (enough to
page), a few other topics, one story with a related list, and one whose text tries to ping and to break markdown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_TIME = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Related:
    title: str
    url: str
    excerpt: str = "A related story."
    provider: str = "Elsewhere"
    domain: str = "elsewhere.example"


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    topics: Sequence[str]
    heat: int | None = 50
    quality: int | None = 60
    excerpt: str = "An excerpt that says what happened."
    url: str = ""
    provider: str | None = "Test Wire"
    domain: str = "testwire.example"
    published_at: datetime = BASE_TIME
    image: str | None = None
    related: Sequence[Related] = field(default_factory=tuple)

    @property
    def link(self) -> str:
        return self.url or f"https://{self.domain}/news/{self.slug}"


def _q(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar (the corpus always double-quotes text).
    return json.dumps(text)


def render_story(story: Story) -> str:
    """The file text for `story`, keys in the corpus's order."""
    lines = [
        "---",
        "category: news",
        f"title: {_q(story.title)}",
        f"excerpt: {_q(story.excerpt)}",
        f"publishedDateTime: {story.published_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"webUrl: {_q(story.link)}",
        "type: article",
    ]
    if story.quality is not None:
        lines.append(f"quality: {story.quality}")
    if story.heat is not None:
        lines.append(f"heat: {story.heat}")
        lines.append(f"published: {'true' if story.heat >= 70 else 'false'}")
    lines += ["", "provider:"]
    if story.provider is not None:
        lines.append(f"  name: {_q(story.provider)}")
    lines += [f"  domain: {story.domain}", "", "topics:"]
    lines += [f"  - {_q(topic)}" for topic in story.topics]
    if story.image:
        lines += ["", "images:", f"  - url: {_q(story.image)}", "    width: 640", "    height: 360"]
    if story.related:
        lines += ["", "related:"]
        for rel in story.related:
            lines += [
                f"  - title: {_q(rel.title)}",
                f"    excerpt: {_q(rel.excerpt)}",
                f"    publishedDateTime: {story.published_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
                f"    webUrl: {_q(rel.url)}",
                "    type: article",
                "    provider:",
                f"      name: {_q(rel.provider)}",
                f"      domain: {rel.domain}",
                "    quality: 50",
            ]
    lines += ["---", "", ""]
    return "\n".join(lines)


def write_story(folder: Path, story: Story) -> Path:
    """Write one story file (`<slug>.md`) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{story.slug}.md"
    path.write_text(render_story(story), encoding="utf-8")
    return path


HOSTILE_TITLE = "@everyone <@&123> **Breaking**: _robots_ take over `prod` || spoiler || <@456>"

AI_STORIES = tuple(
    Story(
        slug=f"ai-{n:02d}",
        title=f"AI story number {n:02d}: models learn trick {n}",
        topics=("AI", "Machine Learning") if n % 3 == 0 else ("AI",),
        heat=100 - n,
        quality=40 + n,
        excerpt=f"Researchers report progress number {n} in artificial intelligence.",
        published_at=BASE_TIME + timedelta(hours=n),
        image=f"https://img.testwire.example/ai-{n}.jpg",
    )
    for n in range(1, 28)
)

OTHER_STORIES = (
    Story(
        slug="power-apps-portals",
        title="Power Apps portals get a self-service customer template",
        topics=("Power Apps", "Low Code"),
        heat=75,
        quality=70,
        excerpt="Build a customer portal in fifteen minutes with the new template.",
        provider="Microsoft",
        domain="microsoft.example",
        related=(
            Related("Low-code platforms grow in the enterprise", "https://analyst.example/low-code-growth"),
            Related(
                "AI story number 01: models learn trick 1",
                "https://testwire.example/news/ai-01",
            ),
        ),
    ),
    Story(
        slug="azure-storage-tags",
        title="Azure storage lifecycle rules now support blob index tags",
        topics=("Azure", "Cloud"),
        heat=65,
        quality=55,
        excerpt="Lifecycle management can now filter blobs by index tags.",
        provider="Microsoft",
        domain="microsoft.example",
    ),
    Story(
        slug="quantum-error-correction",
        title="Quantum error correction crosses a threshold",
        topics=("Quantum Computing",),
        heat=88,
        quality=80,
        excerpt="Logical qubits outlived their physical parts for the first time.",
        domain="physics.example",
        provider=None,
    ),
    Story(
        slug="hostile-title",
        title=HOSTILE_TITLE,
        topics=("AI Safety",),
        heat=91,
        quality=50,
        excerpt="@here please read <#789> and [click](https://evil.example) ~~now~~",
    ),
)

STORIES: tuple[Story, ...] = AI_STORIES + OTHER_STORIES


def write_story_set(folder: Path, stories: Sequence[Story] = STORIES) -> list[Path]:
    """Write the whole fixed set into `folder`."""
    return [write_story(folder, story) for story in stories]


def generated_stories(count: int, *, topic: str = "Bulk", prefix: str = "bulk") -> list[Story]:
    """`count` distinct, valid stories (for the big-ingest test)."""
    return [
        Story(
            slug=f"{prefix}-{n:05d}",
            title=f"Bulk story {n} about {topic}",
            topics=(topic,),
            heat=n % 100,
            quality=50,
            excerpt=f"Generated story {n} for load.",
            published_at=BASE_TIME + timedelta(minutes=n),
        )
        for n in range(count)
    ]
