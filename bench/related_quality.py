"""How often /related's similar stories include a story's clear sibling, over the real news corpus.

    .venv/bin/python bench/related_quality.py                       # SQLite, corpus at ../shared/corpus
    .venv/bin/python bench/related_quality.py --db postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/related_quality.py --corpus PATH --misses

Every file under the corpus folder (the current stories and the `_history` versions alike) goes through the real
ingest path (`bot.ingest.pipeline.ingest_paths`) into a temporary store: a SQLite file in a temporary folder, or
a temporary schema on the PostgreSQL server given by `--db`, dropped afterwards.

A story's *clear sibling* is the one other story that
- has exactly the same topics (compared by `db.text.topic_key`), and
- shares at least MIN_SHARED_WORDS title words with it (`db.text.words`, leaving out stopwords, one-letter words and
  the words of the topics' own names: "power" and "apps" say nothing on the Power Apps topic), and
- shares more of them than any other story with the same topics (a tie means there is no clear sibling).
Siblings that are suppressed (heat -1: never suggested) or already shown in the story's own `related` list or
among the stories linking to it (similar stories leave those out by design) are not counted.

For each story with a clear sibling the bench asks `LookupService.related` and counts a hit when the sibling is
among the similar stories it returns (at most five). To compare two versions of the ranking, run this file from a
checkout of each (it imports the project it sits in).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402

from bot.clock import ManualClock  # noqa: E402
from bot.ingest.pipeline import ingest_paths  # noqa: E402
from bot.services.lookups import LookupService  # noqa: E402
from db import StoreLocation, open_store, parse_location  # noqa: E402
from db.models import StoryView  # noqa: E402
from db.text import STOPWORDS, topic_key, words  # noqa: E402

CORPUS = PROJECT_ROOT.parent / "shared" / "corpus"
NOW = datetime(2021, 6, 4, tzinfo=UTC)  # just after the corpus's last update
MIN_SHARED_WORDS = 2
MAX_FILE_BYTES = 1 << 20
_BATCH = 500


@dataclass(frozen=True)
class Pair:
    story: StoryView
    sibling: StoryView
    shared: frozenset[str]


def title_words(story: StoryView) -> frozenset[str]:
    topic_words = {w for topic in story.topics for w in words(topic)}
    return frozenset(w for w in words(story.title) if len(w) > 1 and w not in STOPWORDS and w not in topic_words)


def clear_siblings(stories: list[StoryView]) -> list[Pair]:
    """Each story's clear sibling (see the module's docstring), for the stories that have one."""
    by_topics: dict[frozenset[str], list[StoryView]] = {}
    for story in stories:
        by_topics.setdefault(frozenset(topic_key(t) for t in story.topics), []).append(story)
    pairs = []
    for group in by_topics.values():
        vocab = {s.id: title_words(s) for s in group}
        for story in group:
            overlaps = sorted(
                ((len(vocab[story.id] & vocab[o.id]), o) for o in group if o.id != story.id),
                key=lambda pair: -pair[0],
            )
            if not overlaps or overlaps[0][0] < MIN_SHARED_WORDS:
                continue
            if len(overlaps) > 1 and overlaps[1][0] == overlaps[0][0]:
                continue
            sibling = overlaps[0][1]
            pairs.append(Pair(story, sibling, vocab[story.id] & vocab[sibling.id]))
    return pairs


async def all_stories(service_store: object, highest: int) -> list[StoryView]:
    lookups = service_store.lookups  # type: ignore[attr-defined]
    found: list[StoryView] = []
    for start in range(1, highest + 1, _BATCH):
        found.extend(await lookups.stories(list(range(start, min(start + _BATCH, highest + 1)))))
    return found


@contextmanager
def temporary_store(server: str | None) -> Iterator[StoreLocation]:
    if server is None:
        with tempfile.TemporaryDirectory(prefix="heatwave-related-") as folder:
            yield parse_location(Path(folder) / "corpus.db")
        return
    schema = f"bench_related_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        parts = urlsplit(server)
        option = quote(f"-csearch_path={schema},public", safe="")
        query = f"{parts.query}&options={option}" if parts.query else f"options={option}"
        yield parse_location(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


async def measure(location: StoreLocation, scanned: int, *, show_misses: bool) -> None:
    store = await open_store(location)
    try:
        service = LookupService(store.lookups, ManualClock(NOW))
        # Ids only grow and every file is at most one story, so none is above the number of files ingested
        # (PostgreSQL may skip ids; a batch of missing ids simply returns fewer stories).
        stories = await all_stories(store, scanned * 2)
        pairs = clear_siblings(stories)
        on_topic = Counter(topic_key(t) for s in stories for t in s.topics)
        counted = hits = telling = telling_hits = 0
        misses: list[tuple[Pair, list[StoryView]]] = []
        started = time.perf_counter()
        for pair in pairs:
            result = await service.related(str(pair.story.id))
            shown_above = {e.story.id for e in result.entries if e.story is not None} | {s.id for s in result.linking}
            if pair.sibling.heat == -1 or pair.sibling.id in shown_above:
                continue
            counted += 1
            hit = pair.sibling.id in {s.id for s in result.similar}
            hits += hit
            if any(on_topic[topic_key(t)] * 2 <= len(stories) for t in pair.story.topics):
                telling += 1
                telling_hits += hit
            if not hit:
                misses.append((pair, list(result.similar)))
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    print(f"{len(stories)} stories, {len(pairs)} with a clear sibling, {counted} counted "
          f"(sibling neither suppressed nor already linked)")
    rate = hits / counted if counted else 0.0
    print(f"sibling among the similar stories (top 5): {hits}/{counted} = {rate:.1%}  "
          f"({seconds / max(len(pairs), 1) * 1000:.2f} ms per /related)")
    print(f"  of which sharing a topic on at most half the stories: {telling_hits}/{telling} = "
          f"{telling_hits / max(telling, 1):.1%}; only topics most stories carry: {hits - telling_hits}/"
          f"{counted - telling} = {(hits - telling_hits) / max(counted - telling, 1):.1%}")
    if show_misses:
        for pair, similar in misses:
            print(f"\nmissed: #{pair.story.id} {pair.story.title!r} {pair.story.topics}")
            print(f"  sibling #{pair.sibling.id} {pair.sibling.title!r} shares {sorted(pair.shared)}")
            for s in similar:
                print(f"  got    #{s.id} {s.title!r} {s.topics} heat {s.heat}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="the folder of story files (default: %(default)s)")
    parser.add_argument("--db", help="a postgresql:// URL of a server to use instead of a temporary SQLite file")
    parser.add_argument("--misses", action="store_true", help="list the stories whose sibling was not suggested")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"no corpus folder at {args.corpus}")
    with temporary_store(args.db) as location:
        report = ingest_paths([args.corpus], location, clock=ManualClock(NOW), max_file_bytes=MAX_FILE_BYTES)
        print(f"ingested {report.scanned} files into {location.engine}: {report.added} stories added, "
              f"{report.updated} updated, {report.duplicates} duplicates, {len(report.rejected)} rejected")
        asyncio.run(measure(location, report.scanned, show_misses=args.misses))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
