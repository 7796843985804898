"""/heat end to end: the real bot answers with a PNG chart whose numbers are the store's; unknown stories get help."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.bot.render.test_heat import png_size
from tests.e2e.harness import start_harness
from tests.e2e.stories import Story

pytestmark = pytest.mark.e2e

# The first chart also imports matplotlib (seconds on a loaded machine); the bot defers, so only the test waits.
CHART_TIMEOUT = 60.0


def _when(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


async def test_e2e_heat_replies_with_a_png_chart_and_the_stores_numbers(tmp_path: Path, clock: ManualClock) -> None:
    async with start_harness(tmp_path, clock) as h:
        await h.invoke("alerts add", {"channel": h.channel, "min_heat": 90}, user=h.admin)
        await h.invoke(
            "alerts quiet", {"channel": h.channel, "start": "22:00", "end": "07:00", "breaking": 150}, user=h.admin
        )
        story = Story(
            slug="heat-chart",
            title="Heat chart story",
            topics=("AI",),
            heat=80,
            published_at=clock.now() - timedelta(hours=2),
        )
        for slug, heat in (("peer-cool", 60), ("peer-hot", 100)):
            h.add_story(
                Story(
                    slug=slug,
                    title=f"Peer {slug}",
                    topics=("AI",),
                    heat=heat,
                    published_at=clock.now() - timedelta(hours=3),
                )
            )
        h.add_story(story)
        await h.rescan_now()
        for heat in (130, 110):
            clock.advance(timedelta(hours=1))
            h.add_story(dataclasses.replace(story, heat=heat))
            await h.rescan_now()

        choices = await h.autocomplete("heat", {"story": "Heat chart"})
        story_id = next(c["value"] for c in choices if c["name"] == "Heat chart story")
        result = await h.invoke("heat", {"story": story_id}, timeout=CHART_TIMEOUT)
        unknown = await h.invoke("heat", {"story": "zebra quokka nonsense"})
        events = await h.services.store.ledger.heat_events(int(story_id))

    assert result.in_time
    assert not result.ephemeral
    assert result.message is not None
    [attachment] = result.message.attachments
    assert attachment["filename"] == f"heat-{story_id}.png"
    assert png_size(h.standin.file_content(attachment)) == (800, 400)
    assert result.message.allowed_mentions == {"parse": []}
    assert [e.heat for e in events] == [80, 130, 110]
    text = result.content
    assert text.startswith(f"**Heat of story {story_id}**: Heat chart story")
    assert f"First 80 at {_when(events[0].observed_at)} · peak 130 at {_when(events[1].observed_at)}" in text
    assert f"Now 110 (since {_when(events[2].observed_at)})." in text
    assert f"Published {_when(story.published_at)}." in text
    assert "Median of AI: 80 over 2 stories published" in text  # the peers' 60 and 100
    assert "Breaking line 150 (this channel: quiet hours)." in text
    assert unknown.ephemeral
    assert "No story title matches" in unknown.content
