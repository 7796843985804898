"""Parsing one file: every rejection reason, the cleaning rules, and what never counts as a change."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.ingest.parse import StoryRejected, parse_story, read_story_file
from bot.urls import is_http_url, normalize_url
from db.models import StoryRecord
from tests.conftest import SEEDS_DIR
from tests.support.story_files import DROP, story_text


def parse(**fields: Any) -> StoryRecord:
    return parse_story(story_text(**fields).encode("utf-8"))


def rejection(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(StoryRejected) as caught:
        parse_story(raw)
    return caught.value.reason


def test_parse_seeds_every_file_parses() -> None:
    seeds = sorted(SEEDS_DIR.glob("*.md"))
    assert len(seeds) >= 1, "seeds/ should hold at least one story"
    for seed in seeds:
        story = parse_story(seed.read_bytes())
        assert story.title, seed.name
        assert story.url.startswith(("https://", "http://")), seed.name


def test_parse_reference_story_fields() -> None:
    story = parse()
    assert story.title == "Solar farm doubles output with AI-guided panels"
    assert story.url == "https://news.example.com/solar-farm"
    assert story.published_at == datetime(2021, 3, 31, 7, 0, tzinfo=UTC)
    assert (story.heat, story.quality, story.kind) == (94, 84, "article")
    assert story.topics == ("AI", "Energy")
    assert (story.provider_name, story.provider_domain) == ("Example News", "example.com")
    assert story.image_url == "https://img.example.com/solar.jpg"


def test_parse_rejects_binary_file() -> None:
    assert rejection(b"---\ntitle: x\x00\n---\n") == "not a text file (it contains NUL bytes)"


def test_parse_rejects_non_utf8() -> None:
    assert rejection(b"---\ntitle: caf\xe9\n---\n").startswith("not UTF-8 text")


def test_parse_rejects_missing_front_matter() -> None:
    assert rejection("# Just markdown\n\nNo front matter here.\n").startswith("no front matter")


def test_parse_rejects_unclosed_front_matter() -> None:
    assert rejection("---\ntitle: x\n").startswith("front matter is not closed")


def test_parse_rejects_yaml_syntax_error_with_file_line() -> None:
    reason = rejection('---\ncategory: news\ntitle: "unterminated\nheat: 5\n---\n')
    assert reason.startswith("YAML syntax error on line ")
    # The problem is reported against the file's own line numbers (the opening fence is line 1).
    line = int(reason.removeprefix("YAML syntax error on line ").split(",")[0])
    assert 3 <= line <= 5


def test_parse_yaml_error_line_counts_the_fence() -> None:
    reason = rejection("---\na: 1\nb: [1, 2\n---\n")
    assert reason.startswith("YAML syntax error on line 4")


def test_parse_rejects_front_matter_that_is_a_list() -> None:
    assert rejection("---\n- a\n- b\n---\n") == "front matter is not a set of `key: value` lines (it is a list)"


def test_parse_rejects_empty_front_matter() -> None:
    assert rejection("---\n---\n") == "front matter is empty"


def test_parse_rejects_missing_title() -> None:
    assert rejection(story_text(title=DROP)) == "missing title"


@pytest.mark.parametrize("title", ["", "   ", "\r\n"])
def test_parse_rejects_empty_title(title: str) -> None:
    assert rejection(story_text(title=title)) == "title is empty"


def test_parse_rejects_title_that_is_not_text() -> None:
    assert rejection(story_text(title=["a"])) == "title must be text, got a list"


def test_parse_rejects_missing_url() -> None:
    reason = rejection(story_text(webUrl=DROP, originalUrl=DROP))
    assert reason == "no http(s) URL: webUrl and originalUrl are both missing"


def test_parse_rejects_non_http_url() -> None:
    reason = rejection(story_text(webUrl="javascript:alert(1)", originalUrl=DROP))
    assert reason.startswith("no http(s) URL: webUrl text ('javascript:alert(1)')")


def test_parse_falls_back_to_original_url() -> None:
    story = parse(webUrl=DROP, originalUrl="https://youtube.com/watch?v=abc", type="video")
    assert (story.url, story.kind) == ("https://youtube.com/watch?v=abc", "video")


def test_parse_web_url_is_identity_over_original_url() -> None:
    story = parse(webUrl="https://www.Statista.com/chart/1/", originalUrl="https://yourstory.com/x")
    assert story.url == "https://statista.com/chart/1"
    assert story.link_url == "https://www.Statista.com/chart/1/"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("hot", "text ('hot')"), (True, "true/false (true)"), (9.5, "a decimal number (9.5)"), ([1], "a list")],
)
def test_parse_rejects_heat_that_is_not_a_whole_number(value: object, shown: str) -> None:
    assert rejection(story_text(heat=value)) == f"heat must be a whole number, got {shown}"


def test_parse_rejects_quality_that_is_bool() -> None:
    assert rejection(story_text(quality=False)) == "quality must be a whole number, got true/false (false)"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("heat", 9223372036854775808, "heat must be a whole number from -1 to 10000, got 9223372036854775808"),
        ("heat", -2, "heat must be a whole number from -1 to 10000, got -2"),
        ("heat", 10_001, "heat must be a whole number from -1 to 10000, got 10001"),
        (
            "quality",
            -99999999999999999999999,
            "quality must be a whole number from 0 to 10000, got -99999999999999999999999",
        ),
        ("quality", -1, "quality must be a whole number from 0 to 10000, got -1"),
        ("quality", 10**40, "quality must be a whole number from 0 to 10000, got 100000000000... (41 digits)"),
        ("heat", -(10**400), "heat must be a whole number from -1 to 10000, got -a number of over 300 digits"),
    ],
)
def test_parse_rejects_numbers_out_of_range(field: str, value: int, reason: str) -> None:
    override: dict[str, Any] = {field: value}
    assert rejection(story_text(**override)) == reason


def test_parse_accepts_the_ends_of_the_ranges() -> None:
    assert (parse(heat=10_000, quality=0).heat, parse(heat=-1, quality=10_000).quality) == (10_000, 10_000)


def test_parse_drops_an_out_of_range_related_quality_but_keeps_the_entry() -> None:
    story = parse(
        related=[
            {"title": "Huge", "webUrl": "https://other.example.com/a", "quality": 2**70},
            {"title": "Negative", "webUrl": "https://other.example.com/b", "quality": -5},
            {"title": "Fine", "webUrl": "https://other.example.com/c", "quality": 10_000},
        ]
    )
    assert [(entry.title, entry.quality) for entry in story.related] == [
        ("Huge", None),
        ("Negative", None),
        ("Fine", 10_000),
    ]


def test_parse_missing_heat_and_quality_are_unknown() -> None:
    story = parse(heat=DROP, quality=DROP, published=DROP)
    assert (story.heat, story.quality) == (None, None)


def test_parse_keeps_suppressed_heat() -> None:
    assert parse(heat=-1).heat == -1


@pytest.mark.parametrize("topics", ["AI", [1, 2], ["AI", None], {"a": 1}])
def test_parse_rejects_topics_that_are_not_a_list_of_names(topics: object) -> None:
    assert rejection(story_text(topics=topics)).startswith("topics must be a list of names, got ")


def test_parse_rejects_unparseable_date() -> None:
    reason = rejection(story_text(publishedDateTime="last tuesday"))
    assert reason == "publishedDateTime must be a date and time like 2021-03-31T07:00:00Z, got text ('last tuesday')"


def test_parse_rejects_missing_date() -> None:
    assert rejection(story_text(publishedDateTime=DROP)) == "missing publishedDateTime"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2021-03-31T07:00:00Z", datetime(2021, 3, 31, 7, 0, tzinfo=UTC)),
        ("2021-03-31T09:00:00+02:00", datetime(2021, 3, 31, 7, 0, tzinfo=UTC)),
        ("2021-03-31 07:00:00", datetime(2021, 3, 31, 7, 0, tzinfo=UTC)),  # naive: taken as UTC
        ("2021-03-31", datetime(2021, 3, 31, tzinfo=UTC)),  # date only: midnight UTC
        ("'2021-03-31T07:00:00Z'", datetime(2021, 3, 31, 7, 0, tzinfo=UTC)),  # a quoted ISO string
    ],
)
def test_parse_accepts_date_forms(written: str, expected: datetime) -> None:
    text = story_text().replace("publishedDateTime: 2021-03-31T07:00:00Z", f"publishedDateTime: {written}")
    assert parse_story(text.encode()).published_at == expected


def test_parse_ignores_unknown_keys() -> None:
    assert parse(mood="sunny", nested={"x": [1, 2]}).title


def test_parse_cleans_text_once() -> None:
    story = parse(
        title="  What&#8217;s   next  for\r\nPower&nbsp;BI ",
        excerpt="Line one.\r\n\r\nLine two &amp; three.\r more",
        provider={"name": " Forbes ", "domain": "Forbes.com"},
    )
    assert story.title == "What’s next for Power BI"
    assert story.excerpt == "Line one. Line two & three. more"
    assert (story.provider_name, story.provider_domain) == ("Forbes", "forbes.com")


def test_parse_deduplicates_topics_keeping_first_spelling() -> None:
    assert parse(topics=["AI", " ai ", "Power  Apps", "power apps", "", "Azure"]).topics == (
        "AI",
        "Power Apps",
        "Azure",
    )


def test_parse_related_entries_skip_unusable_ones() -> None:
    story = parse(
        related=[
            {
                "title": "Good one",
                "webUrl": "https://other.example.com/a",
                "excerpt": "x &amp; y",
                "publishedDateTime": datetime(2021, 4, 1, tzinfo=UTC),
                "quality": 0,
                "provider": {"name": "Other", "domain": "other.example.com"},
                "images": [{"url": "ftp://nope"}, {"url": "https://img.other.example.com/a.jpg"}],
            },
            {"title": "No URL"},
            {"webUrl": "https://other.example.com/no-title"},
            {"title": "Bad scheme", "webUrl": "mailto:x@example.com"},
            "not a mapping",
            {
                "title": "Odd date",
                "webUrl": "https://other.example.com/b",
                "publishedDateTime": "soon",
                "quality": True,
            },
        ]
    )
    assert [entry.title for entry in story.related] == ["Good one", "Odd date"]
    good, odd = story.related
    assert (good.url, good.excerpt, good.quality, good.image_url) == (
        "https://other.example.com/a",
        "x & y",
        0,
        "https://img.other.example.com/a.jpg",
    )
    assert (odd.published_at, odd.quality) == (None, None)


def test_parse_image_url_is_first_http_image() -> None:
    story = parse(images=[{"url": "data:image/png;base64,xx"}, {"url": "http://img.example.com/a.jpg"}])
    assert story.image_url == "http://img.example.com/a.jpg"


def test_parse_unknown_type_is_shown_as_article() -> None:
    assert parse(type="podcast").kind == "article"


def test_parse_hash_ignores_secured_line_endings_and_key_order() -> None:
    base = parse_story(story_text().encode())
    churned = parse_story(story_text(secured="b3RoZXI=;b3RoZXI=", crlf=True).encode())
    reordered = parse_story(story_text(topics=["AI", "Energy"], category="news").encode())
    assert base.content_hash == churned.content_hash == reordered.content_hash


@pytest.mark.parametrize(
    "change",
    [
        {"heat": 95},
        {"title": "Another title"},
        {"excerpt": "Other"},
        {"topics": ["AI"]},
        {"type": "video"},
        {"images": []},
        {"publishedDateTime": "2021-04-01T07:00:00Z"},
        {"related": [{"title": "R", "webUrl": "https://r.example.com/"}]},
    ],
)
def test_parse_hash_changes_with_any_stored_field(change: dict[str, object]) -> None:
    assert parse(**change).content_hash != parse().content_hash


def test_parse_crlf_file_matches_lf_file() -> None:
    assert parse_story(story_text(crlf=True).encode()) == parse_story(story_text().encode())


def test_parse_accepts_utf8_bom() -> None:
    assert parse_story(b"\xef\xbb\xbf" + story_text().encode()).title


def test_read_story_file_rejects_oversized_file_before_reading(tmp_path: Path) -> None:
    # The path does not even exist: the decision is made from the stat'ed size alone.
    with pytest.raises(StoryRejected) as caught:
        read_story_file(tmp_path / "absent.md", size=2 * 1024 * 1024, max_file_bytes=1024 * 1024)
    assert caught.value.reason == "file is 2.0 MiB, over the 1.0 MiB size limit"


def test_read_story_file_rejects_file_that_grew_past_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "grew.md"
    path.write_text(story_text(excerpt="x" * 5000))
    with pytest.raises(StoryRejected) as caught:
        read_story_file(path, size=100, max_file_bytes=1000)
    assert caught.value.reason == "file is over the 1000 bytes size limit"


def test_read_story_file_reports_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(StoryRejected) as caught:
        read_story_file(tmp_path, size=10, max_file_bytes=1000)
    assert caught.value.reason.startswith("cannot read the file: ")


def test_parse_date_objects_from_yaml_are_utc() -> None:
    text = story_text().replace("publishedDateTime: 2021-03-31T07:00:00Z", "publishedDateTime: 2021-03-31")
    assert parse_story(text.encode()).published_at == datetime.combine(date(2021, 3, 31), datetime.min.time(), UTC)


@pytest.mark.parametrize(
    "value",
    [
        "https://example.com/a",
        "  http://Example.COM:8080/x?y=1#z  ",
        "HTTPS://example.com",
        "https://",
        "https:///path",
        "https://exa mple.com",
        "https://example.com/\u00a0x",
        "ftp://example.com",
        "javascript:alert(1)",
        "//example.com/x",
        "example.com",
        "http://[::1]/x",
        "http://[broken/x",
        "",
        "   ",
        None,
        42,
    ],
)
def test_parse_http_check_agrees_with_is_http_url(value: object) -> None:
    story_url = parse_story(story_text(webUrl=value, originalUrl="https://fallback.example.com/").encode()).link_url
    expected = value.strip() if isinstance(value, str) and is_http_url(value) else "https://fallback.example.com/"
    assert story_url == expected


@pytest.mark.parametrize(
    "link",
    [
        "https://www.Example.COM/2021/articles/0000123",
        "http://example.com",
        "HTTPS://WWW.EXAMPLE.COM/Path/To/",
        "https://example.com.//x",
        "https://example.com//",
        "https://www./a",
        "https://www.example.com./a///",
        "https://example.com/a?utm_source=x&b=2",
        "https://example.com/a#top",
        "https://example.com:443/a",
        "https://user@example.com/a",
        "https://ex\u00e4mple.com/a",
        "https://example.com/caf\u00e9/",
        "https://example.com/a;b@c[d]",
        "http://[::1]/x",
    ],
)
def test_parse_story_plain_urls_match_normalize_url(link: str) -> None:
    story = parse(webUrl=link)
    assert story.link_url == link
    assert story.url == normalize_url(link)


@pytest.mark.parametrize(
    "link", ["https://example.com/a b", "https://example.com/\u2028x", "https://", "ftp://example.com"]
)
def test_parse_story_plain_urls_refuse_what_is_http_url_refuses(link: str) -> None:
    assert parse(webUrl=link, originalUrl="https://fallback.example.com/").link_url == "https://fallback.example.com/"


def test_parse_text_collapses_every_kind_of_whitespace() -> None:
    story = parse(title="  Grid\u00a0\u00a0news \u2003 today\u3000 ", excerpt="a\r\n\r\nb\tc\u2029d &amp; e")
    assert story.title == "Grid news today"
    assert story.excerpt == "a b c d & e"


def test_read_story_file_reads_a_file_that_grew_within_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "grew.md"
    path.write_text(story_text(excerpt="x" * 200_000))
    story = read_story_file(path, size=10, max_file_bytes=1024 * 1024)
    assert story.excerpt == "x" * 200_000


@pytest.mark.parametrize(
    "web_url",
    ["https://example.com:99999/story", "https://example.com:http/story", "https://.../story", "https://..."],
)
def test_parse_a_web_url_with_a_bad_port_or_host_falls_back_to_original_url(web_url: str) -> None:
    story = parse_story(story_text(webUrl=web_url, originalUrl="https://fallback.example.com/story").encode())
    assert story.url == "https://fallback.example.com/story"
    assert story.link_url == "https://fallback.example.com/story"
