"""Git sources against real repositories made in the test: clone, history, fetch, rewrites and failures."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.ingest.git_source import GitSourceError, SyncOutcome, checkout_folder, sync_git_source
from bot.ingest.pipeline import ingest_paths
from bot.sources import GitSource
from db import StoreLocation, parse_location
from tests.support.db_probe import query_all, query_one
from tests.support.git_repos import Origin

URL = "https://news.example.com/fusion"


@pytest.fixture
def origin(tmp_path: Path) -> Origin:
    return Origin(tmp_path / "origin")


@pytest.fixture
def sqlite_store(tmp_path: Path) -> StoreLocation:
    return parse_location(tmp_path / "h.db")


class Syncer:
    """Syncs sources as the source job does: each store remembers the commit it was last synced to."""

    def __init__(self, tmp_path: Path, clock: ManualClock) -> None:
        self.tmp_path = tmp_path
        self.clock = clock
        self.synced: dict[tuple[str, str], str] = {}

    def __call__(self, source: GitSource, location: StoreLocation, *, data: str = "data") -> SyncOutcome:
        key = (str(location), source.key)
        outcome = sync_git_source(
            source,
            checkout_folder(self.tmp_path / data, source),
            location,
            last_commit=self.synced.get(key),
            clock=self.clock,
            max_file_bytes=1 << 20,
            ingest=ingest_paths,
        )
        self.synced[key] = outcome.commit
        return outcome


@pytest.fixture
def sync(tmp_path: Path, clock: ManualClock) -> Syncer:
    return Syncer(tmp_path, clock)


def heat_history(location: StoreLocation, url: str) -> list[tuple[str, int]]:
    rows = query_all(
        location,
        "SELECT h.observed_at, h.heat FROM heat_history h JOIN stories s ON s.id = h.story_id "
        "WHERE s.url = ? ORDER BY h.id",
        (url,),
    )
    return [(str(observed)[:10], heat) for observed, heat in rows]


def story_titles(location: StoreLocation) -> list[str]:
    return sorted(row[0] for row in query_all(location, "SELECT title FROM stories"))


def test_first_sync_reads_only_the_subdir_from_a_sparse_partial_clone(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=90)
    origin.write_story(
        "drafts/other.md", title="Not news yet", webUrl="https://x.example/d", originalUrl="https://x.example/d"
    )
    origin.write("README.md", "the publisher's readme\n")
    origin.commit("first", when=clock.now() - timedelta(days=1))
    source = GitSource(url=origin.url, subdir="_news")

    outcome = sync(source, sqlite_store)

    checkout = checkout_folder(tmp_path / "data", source)
    assert outcome.commit == origin.head()
    assert outcome.stories == 1
    assert (checkout / "_news" / "fusion.md").is_file()
    assert not (checkout / "drafts").exists()
    assert story_titles(sqlite_store) == ["Fusion plant online"]
    # A partial clone: git knows blobs are left to the remote, to be fetched when needed.
    config = (checkout / ".git" / "config").read_text()
    assert "partialclonefilter = blob:none" in config


def test_first_sync_builds_heat_history_from_commits_of_the_last_90_days(
    origin: Origin, tmp_path: Path, location: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    now = clock.now()
    for days_ago, heat in ((120, 10), (30, 40), (10, 70), (1, 95)):
        origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=heat)
        origin.commit(f"heat {heat}", when=now - timedelta(days=days_ago))
    origin.write_story(
        "_news/other.md", title="Unrelated", webUrl="https://x.example/u", originalUrl="https://x.example/u"
    )
    origin.commit("other story", when=now - timedelta(days=1))

    outcome = sync(GitSource(url=origin.url, subdir="_news"), location)

    day = lambda days_ago: (now - timedelta(days=days_ago)).date().isoformat()  # noqa: E731
    # The commit from 120 days ago is outside the window; the checkout itself adds no second observation of 95.
    assert heat_history(location, URL) == [(day(30), 40), (day(10), 70), (day(1), 95)]
    assert outcome.history_versions == 4
    assert outcome.changed
    first_seen = query_one(location, "SELECT first_seen_at, heat FROM stories WHERE url = ?", (URL,))
    assert first_seen is not None
    assert str(first_seen[0])[:10] == day(30)
    assert first_seen[1] == 95


def test_later_fetch_adds_each_new_commits_version(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    now = clock.now()
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=40)
    origin.commit("start", when=now - timedelta(days=2))
    source = GitSource(url=origin.url, subdir="_news")
    sync(source, sqlite_store)

    clock.advance(timedelta(hours=3))
    for hours, heat in ((1, 60), (2, 85)):
        origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=heat)
        origin.commit(f"heat {heat}", when=now + timedelta(hours=hours))
    origin.write_story(
        "_news/new.md", title="Brand new", webUrl="https://x.example/n", originalUrl="https://x.example/n"
    )
    origin.commit("new story", when=now + timedelta(hours=2))
    outcome = sync(source, sqlite_store)

    assert outcome.previous is not None
    assert not outcome.rewritten
    assert outcome.commit == origin.head()
    assert [heat for _, heat in heat_history(sqlite_store, URL)] == [40, 60, 85]
    assert story_titles(sqlite_store) == ["Brand new", "Fusion plant online"]
    unchanged = sync(source, sqlite_store)
    assert not unchanged.changed
    assert unchanged.commit == outcome.commit


def test_two_stores_sharing_one_clone_each_get_every_commits_history(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    now = clock.now()
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=40)
    origin.commit("start", when=now - timedelta(days=2))
    source = GitSource(url=origin.url, subdir="_news")
    other_store = parse_location(tmp_path / "other.db")
    sync(source, sqlite_store)
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=80)
    origin.commit("hotter", when=now - timedelta(days=1))
    sync(source, sqlite_store)

    # The clone is already at the newest commit; the other store still gets both versions.
    sync(source, other_store)

    assert [heat for _, heat in heat_history(other_store, URL)] == [40, 80]
    assert [heat for _, heat in heat_history(sqlite_store, URL)] == [40, 80]


def test_a_rewritten_branch_is_followed(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    now = clock.now()
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=40)
    origin.commit("start", when=now - timedelta(days=2))
    origin.write_story("_news/fusion.md", title="Fusion plant online (typo)", webUrl=URL, originalUrl=URL, heat=50)
    origin.commit("typo", when=now - timedelta(days=1))
    source = GitSource(url=origin.url, subdir="_news")
    sync(source, sqlite_store)

    origin.git("reset", "--quiet", "--hard", "HEAD~1")
    origin.write_story("_news/fusion.md", title="Fusion plant online, fixed", webUrl=URL, originalUrl=URL, heat=77)
    rewritten = origin.commit("force-pushed fix", when=now)
    outcome = sync(source, sqlite_store)

    assert outcome.rewritten
    assert outcome.commit == rewritten
    assert story_titles(sqlite_store) == ["Fusion plant online, fixed"]
    assert query_one(sqlite_store, "SELECT heat FROM stories WHERE url = ?", (URL,)) == (77,)


@pytest.mark.parametrize("breakage", ["deleted branch", "repository gone"])
def test_a_failing_source_raises_one_line_and_keeps_the_stories(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, breakage: str, sync: Syncer
) -> None:
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=90)
    origin.commit("start", when=clock.now() - timedelta(days=1))
    source = GitSource(url=origin.url, subdir="_news")
    first = sync(source, sqlite_store)
    if breakage == "deleted branch":
        origin.delete_branch()
    else:
        origin.vanish()

    with pytest.raises(GitSourceError) as failure:
        sync(source, sqlite_store)

    message = str(failure.value)
    assert message.startswith("git fetch failed: ")
    assert "\n" not in message
    assert story_titles(sqlite_store) == ["Fusion plant online"]
    # The checkout is left at the last good commit, ready for the next try.
    checkout = checkout_folder(tmp_path / "data", source)
    assert (checkout / "_news" / "fusion.md").is_file()
    assert first.commit


def test_a_corrupted_clone_is_cloned_again(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=90)
    origin.commit("start", when=clock.now() - timedelta(days=1))
    source = GitSource(url=origin.url, subdir="_news")
    sync(source, sqlite_store)
    checkout = checkout_folder(tmp_path / "data", source)
    (checkout / ".git" / "HEAD").write_text("garbage\n")

    outcome = sync(source, sqlite_store)

    assert outcome.previous == outcome.commit == origin.head()
    assert (checkout / "_news" / "fusion.md").is_file()


def test_a_missing_subdir_is_an_error_naming_it(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    origin.write("README.md", "nothing here\n")
    origin.commit("start", when=clock.now())
    with pytest.raises(GitSourceError, match="no folder '_news'"):
        sync(GitSource(url=origin.url, subdir="_news"), sqlite_store)


def test_the_remotes_default_branch_is_used_unless_one_is_named(
    tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    origin = Origin(tmp_path / "origin", branch="trunk")
    origin.write_story("_news/a.md", title="On trunk", webUrl=URL, originalUrl=URL)
    origin.commit("trunk", when=clock.now())
    origin.git("checkout", "--quiet", "-b", "beta")
    beta_url = "https://news.example.com/beta"
    origin.write_story("_news/b.md", title="On beta", webUrl=beta_url, originalUrl=beta_url)
    origin.commit("beta", when=clock.now())
    origin.git("checkout", "--quiet", "trunk")

    sync(GitSource(url=origin.url, subdir="_news"), sqlite_store)
    assert story_titles(sqlite_store) == ["On trunk"]
    sync(GitSource(url=origin.url, branch="beta", subdir="_news"), sqlite_store)
    assert story_titles(sqlite_store) == ["On beta", "On trunk"]


@pytest.mark.parametrize(
    "url",
    [
        "--upload-pack=touch {marker}",
        "-u touch {marker}",
        "ext::sh -c touch% {marker}",
        "fd::17",
        "https://example.com/x --upload-pack=touch {marker}",
    ],
)
def test_a_hostile_url_is_refused_and_runs_nothing(
    tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, url: str, sync: Syncer
) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(GitSourceError, match="refusing the URL"):
        sync(GitSource(url=url.format(marker=marker)), sqlite_store)
    assert not marker.exists()
    assert not (tmp_path / "data").exists()


def test_history_skips_bad_versions_and_big_files(
    origin: Origin, tmp_path: Path, sqlite_store: StoreLocation, clock: ManualClock, sync: Syncer
) -> None:
    now = clock.now()
    origin.write("_news/fusion.md", "not a story at all\n")
    origin.commit("broken", when=now - timedelta(days=3))
    origin.write_story("_news/fusion.md", title="Fusion plant online", webUrl=URL, originalUrl=URL, heat=66)
    origin.commit("fixed", when=now - timedelta(days=2))

    outcome = sync(GitSource(url=origin.url, subdir="_news"), sqlite_store)

    assert outcome.history_versions == 1
    assert [heat for _, heat in heat_history(sqlite_store, URL)] == [66]
