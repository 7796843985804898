"""How /related ranks similar stories, the same for both engines.

Candidates come from two places, so that a story sharing a story's topics is found even when it shares none of
its words:
- text: the newest stories holding any of the story's rarest words, each with its bm25 score as FTS5 computes it;
- topics: on each of the story's rarer topics (SOURCE_TOPICS at most, rarest first), the NEAR_PER_SIDE stories
  published just before it and the NEAR_PER_SIDE just after (a short walk down a covering index each).
Suppressed stories (heat -1) are never candidates. A candidate scores its bm25 plus, for every topic it shares,
TOPIC_WEIGHT times that topic's idf (ln(stories / stories on the topic)), so a topic nearly every story carries
counts for almost nothing and a rare one for a lot. A shared title word scores about 1.5 times its idf in bm25
(FTS5's k1, our title weight 3); a topic, which an editor chose, counts twice that: on the corpus benchmark
(bench/related_quality.py) 1.5 found 53 of 73 clear siblings, 3.0 found 55 (and 5.0 no more).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence

SUPPRESSED = -1
NEAR_PER_SIDE = 12
SOURCE_TOPICS = 3
TOPIC_WEIGHT = 3.0


def topic_idf(stories: int, on_topic: int) -> float:
    """How telling sharing a topic is: ln(stories / stories on the topic); 0 for a topic on every story."""
    if stories <= 0 or on_topic <= 0:
        return 0.0
    return max(math.log(stories / on_topic), 0.0)


def similar_topic_sources(topic_counts: Mapping[int, int], stories: int) -> list[int]:
    """The topics whose nearby stories become candidates: the rarest SOURCE_TOPICS of those on at most half the
    stories (a topic most stories carry says little, and its neighbours would crowd out better candidates)."""
    telling = [(count, topic) for topic, count in topic_counts.items() if 0 < count * 2 <= stories]
    return [topic for _count, topic in sorted(telling)[:SOURCE_TOPICS]]


def rank_similar(
    shared: Mapping[int, Sequence[int]],
    text: Mapping[int, float],
    topic_counts: Mapping[int, int],
    stories: int,
    *,
    limit: int,
) -> list[int]:
    """The best `limit` of the candidates in `shared` (candidate id -> the topic ids it shares; only candidates
    that may be shown), by bm25 (`text`, 0 when absent) plus TOPIC_WEIGHT times the shared topics' idf; the
    newer story first on a tie."""

    # Each topic's idf once, not once per candidate sharing it (a lookup scores a few hundred candidates).
    idfs: dict[int, float] = {}

    def idf(topic: int) -> float:
        value = idfs.get(topic)
        if value is None:
            value = idfs[topic] = topic_idf(stories, topic_counts.get(topic, 0))
        return value

    def score(story_id: int) -> float:
        topics = sum(idf(t) for t in shared[story_id])
        return text.get(story_id, 0.0) + TOPIC_WEIGHT * topics

    scored = [(value, i) for i in shared if (value := score(i)) > 0]
    return [i for _value, i in heapq.nsmallest(limit, scored, key=lambda r: (-r[0], -r[1]))]
