"""URL hygiene: which links may leave the bot, and when two URLs are the same story."""

from __future__ import annotations

import pytest

from bot.urls import is_http_url, normalize_url, safe_http_url

REFUSED = [
    pytest.param("javascript:alert(1)", id="javascript"),
    pytest.param("JavaScript://example.com/%0Aalert(1)", id="javascript-mixed-case-with-slashes"),
    pytest.param("data:text/html;base64,PHNjcmlwdD4=", id="data"),
    pytest.param("ftp://example.com/file.txt", id="ftp"),
    pytest.param("mailto:news@example.com", id="mailto"),
    pytest.param("//example.com/story", id="scheme-relative"),
    pytest.param("/tech/story", id="relative-path"),
    pytest.param("https:///story", id="no-host"),
    pytest.param("http:example.com", id="no-slashes"),
    pytest.param("https://exa mple.com/story", id="space-in-host"),
    pytest.param("https://example.com/a\tb", id="tab-in-path"),
    pytest.param("https://example.com/a\nb", id="newline-in-path"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
]


@pytest.mark.parametrize("value", REFUSED)
def test_is_http_url_refuses_non_http_links(value: str) -> None:
    assert is_http_url(value) is False


@pytest.mark.parametrize("value", [None, 42, b"https://example.com/", ["https://example.com/"]])
def test_is_http_url_refuses_non_strings(value: object) -> None:
    assert is_http_url(value) is False


@pytest.mark.parametrize(
    "value",
    [
        "https://www.scmp.com/tech/tech-trends/article/3127645/chinese-government",
        "http://www.labnotes.example/media/chatbot-study.jpg",
        "HTTPS://Example.COM/Story",
        "https://youtube.com/watch?v=Qx7rT2mLp4E",
        "https://example.com:8443/a",
    ],
)
def test_is_http_url_accepts_absolute_http_and_https(value: str) -> None:
    assert is_http_url(value) is True


@pytest.mark.parametrize("value", REFUSED)
def test_safe_http_url_gives_none_for_refused_links(value: str) -> None:
    assert safe_http_url(value) is None


def test_safe_http_url_gives_none_for_non_strings() -> None:
    assert safe_http_url(None) is None


def test_safe_http_url_returns_the_link_unchanged_apart_from_outer_spaces() -> None:
    link = "https://www.Example.com/Path/?utm_source=rss#top"

    assert safe_http_url(f"  {link}\n") == link


def test_normalize_url_folds_host_case_and_www() -> None:
    assert normalize_url("https://WWW.Example.COM/story") == "https://example.com/story"


def test_normalize_url_keeps_other_subdomains() -> None:
    assert normalize_url("https://amp.scmp.com/story") == "https://amp.scmp.com/story"


def test_normalize_url_keeps_path_case() -> None:
    assert normalize_url("https://example.com/Tech/Story-ABC") == "https://example.com/Tech/Story-ABC"


@pytest.mark.parametrize(
    "value",
    ["https://example.com:443/story", "http://example.com:80/story", "https://example.com/story"],
)
def test_normalize_url_drops_default_port(value: str) -> None:
    assert normalize_url(value) == "https://example.com/story"


@pytest.mark.parametrize(
    ("link", "identity"),
    [
        # The common shape (host and path only), normalised without urlsplit...
        ("https://www.Example.COM/2021/articles/0000123", "https://example.com/2021/articles/0000123"),
        ("http://example.com", "https://example.com/"),
        ("HTTPS://WWW.EXAMPLE.COM/Path/To/", "https://example.com/Path/To"),
        ("https://example.com.//x", "https://example.com//x"),
        ("https://example.com//", "https://example.com/"),
        ("https://www./a", "https://www/a"),
        ("https://www.example.com./a///", "https://example.com/a"),
        (" https://Example.com/a/ ", "https://example.com/a"),
        ("https://-/x", "https://-/x"),
        # ...and by the same rules when a user, port, query, fragment or non-ASCII host needs urlsplit.
        ("https://www.Example.COM./a/?utm_source=x&b=2", "https://example.com/a?b=2"),
        ("https://WWW.example.com/a/#top", "https://example.com/a"),
        ("https://www.example.com:443/a//", "https://example.com/a"),
        ("https://user@www.Example.com./a", "https://example.com/a"),
        ("https://www.ex\u00e4mple.com/caf\u00e9/", "https://ex\u00e4mple.com/caf\u00e9"),
        ("https://example.com/a;b@c[d]", "https://example.com/a;b@c[d]"),
        ("http://[::1]/x/", "https://[::1]/x"),
        ("https://...", "https:///"),
    ],
)
def test_normalize_url_plain_and_split_links_follow_the_same_rules(link: str, identity: str) -> None:
    assert normalize_url(link) == identity


def test_normalize_url_keeps_non_default_port() -> None:
    assert normalize_url("https://example.com:8443/story") == "https://example.com:8443/story"


def test_normalize_url_drops_fragment() -> None:
    assert normalize_url("https://example.com/story#comments") == "https://example.com/story"


def test_normalize_url_drops_utm_and_click_tracking_parameters() -> None:
    tracked = "https://example.com/story?utm_source=rss&UTM_Medium=feed&fbclid=abc&gclid=1&id=7"

    assert normalize_url(tracked) == "https://example.com/story?id=7"


def test_normalize_url_drops_query_left_empty_by_tracking_removal() -> None:
    assert normalize_url("https://example.com/story?utm_campaign=spring") == "https://example.com/story"


def test_normalize_url_keeps_meaningful_query_in_stable_order() -> None:
    assert normalize_url("https://youtube.com/watch?v=Qx7rT2mLp4E&t=30") == normalize_url(
        "https://youtube.com/watch?t=30&v=Qx7rT2mLp4E"
    )


def test_normalize_url_tells_different_videos_apart() -> None:
    assert normalize_url("https://youtube.com/watch?v=AAAAAAAAAAA") != normalize_url(
        "https://youtube.com/watch?v=BBBBBBBBBBB"
    )


def test_normalize_url_treats_http_and_https_as_one_story() -> None:
    assert normalize_url("http://example.com/story") == normalize_url("https://example.com/story")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com/story/", "https://example.com/story"),
        ("https://example.com/story//", "https://example.com/story"),
        ("https://example.com/", "https://example.com/"),
        ("https://example.com", "https://example.com/"),
    ],
)
def test_normalize_url_ignores_trailing_slash(value: str, expected: str) -> None:
    assert normalize_url(value) == expected


def test_normalize_url_keeps_double_slash_inside_path() -> None:
    # Seen in the corpus (jpost.com//HttpHandlers/...): collapsing it could point at another resource.
    assert normalize_url("https://www.jpost.com//HttpHandlers/x.aspx") == "https://jpost.com//HttpHandlers/x.aspx"


def test_normalize_url_ignores_surrounding_whitespace() -> None:
    assert normalize_url("  https://example.com/story \n") == "https://example.com/story"


def test_normalize_url_folds_every_cosmetic_difference_at_once() -> None:
    messy = "HTTP://WWW.Example.COM:80/News/Story/?utm_source=x&b=2&a=1#top"

    assert normalize_url(messy) == "https://example.com/News/Story?a=1&b=2"


def test_normalize_url_is_idempotent() -> None:
    once = normalize_url("HTTP://WWW.Example.COM:80/News/Story/?utm_source=x&b=2&a=1#top")

    assert normalize_url(once) == once


@pytest.mark.parametrize("value", ["https://example.com:99999/story", "https://example.com:abc/story"])
def test_is_http_url_refuses_an_invalid_port(value: str) -> None:
    assert not is_http_url(value)


def test_normalize_url_keeps_ipv6_host_brackets() -> None:
    assert normalize_url("https://[2001:db8::1]:8443/story") == "https://[2001:db8::1]:8443/story"
