"""Discord's documented limits as the stand-in checks them (no bot needed)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.discord_standin.limits import validate_choices, validate_commands, validate_message, validate_thread

NONE: dict[str, list[str]] = {"parse": []}


def codes(payload: dict[str, Any], **kwargs: Any) -> list[str]:
    return [p.code for p in validate_message(payload, interaction=kwargs.pop("interaction", False), **kwargs)]


def test_limits_accept_a_full_but_legal_message() -> None:
    embed = {"title": "t" * 256, "description": "d" * 4096, "url": "https://example.com/a",
             "fields": [{"name": "n", "value": "v" * 50} for _ in range(25)],
             "footer": {"text": "f"}, "thumbnail": {"url": "https://example.com/i.png"}}
    assert codes({"content": "c" * 2000, "embeds": [embed], "allowed_mentions": NONE}) == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"content": "c" * 2001}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"title": "t" * 257}]}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"description": "d" * 4097}]}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"title": "x"}] * 11}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"fields": [{"name": "n", "value": "v"}] * 26}]}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"fields": [{"name": "n" * 257, "value": "v"}]}]}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"fields": [{"name": "n", "value": "v" * 1025}]}]}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"fields": [{"name": "n", "value": ""}]}]}, "BASE_TYPE_REQUIRED"),
        ({"embeds": [{"footer": {"text": "f" * 2049}}]}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"author": {"name": "a" * 257}}]}, "BASE_TYPE_MAX_LENGTH"),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, "MAX_EMBED_SIZE_EXCEEDED"),
        ({"embeds": [{"title": "x", "url": "javascript:alert(1)"}]}, "URL_TYPE_INVALID_URL"),
        ({"embeds": [{"title": "x", "image": {"url": "ftp://example.com/x.png"}}]}, "URL_TYPE_INVALID_URL"),
        ({"embeds": [{"title": "x", "timestamp": "yesterday"}]}, "DATE_TYPE_PARSE"),
        ({"content": "x", "flags": 64}, "MESSAGE_FLAGS_INVALID"),
        ({}, "50006"),
        ({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}},
         "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"),
        ({"content": "x", "allowed_mentions": {"parse": ["all"]}}, "ENUM_TYPE_COERCE"),
        ({"content": "x", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "label": "b",
                                                                     "custom_id": f"b{i}"} for i in range(6)]}]},
         "COMPONENT_LAYOUT_WIDTH_EXCEEDED"),
        ({"content": "x", "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "a", "custom_id": "same"},
            {"type": 2, "style": 1, "label": "b", "custom_id": "same"}]}]}, "COMPONENT_CUSTOM_ID_DUPLICATED"),
        ({"content": "x", "components": [{"type": 1, "components": [
            {"type": 2, "style": 1, "label": "l" * 81, "custom_id": "a"}]}]}, "BASE_TYPE_MAX_LENGTH"),
    ],
)
def test_limits_reject_each_broken_rule(payload: dict[str, Any], code: str) -> None:
    payload.setdefault("allowed_mentions", NONE)
    assert code in codes(payload)


def test_limits_require_allowed_mentions_on_creates_and_content_edits() -> None:
    assert codes({"content": "hi"}) == ["HEATWAVE_ALLOWED_MENTIONS_REQUIRED"]
    assert codes({"components": []}, edit=True) == []
    assert codes({"content": "hi"}, edit=True) == ["HEATWAVE_ALLOWED_MENTIONS_REQUIRED"]
    assert codes({"content": "hi"}, require_allowed_mentions=False) == []


def test_limits_allow_ephemeral_only_on_interactions() -> None:
    assert codes({"content": "x", "flags": 64, "allowed_mentions": NONE}, interaction=True) == []


def test_limits_autocomplete_choices() -> None:
    ok = {"choices": [{"name": "n" * 100, "value": "v" * 100}] * 25}
    assert validate_choices(ok) == []
    assert validate_choices({"choices": [{"name": "n", "value": "v"}] * 26})
    assert validate_choices({"choices": [{"name": "n" * 101, "value": "v"}]})
    assert validate_choices({"choices": [{"name": "n", "value": "v" * 101}]})


def test_limits_forum_thread_name_and_starter_message() -> None:
    message = {"content": "body", "allowed_mentions": NONE}
    assert validate_thread({"name": "n" * 100, "message": message}) == []
    assert [p.path for p in validate_thread({"name": "n" * 101, "message": message})] == [("name",)]
    assert [p.path for p in validate_thread({"name": "ok"})] == [("message",)]


def test_limits_command_tree_rules() -> None:
    good = {"name": "alerts", "description": "Alert admin", "options": [
        {"type": 2, "name": "group", "description": "g", "options": [
            {"type": 1, "name": "add", "description": "a", "options": [
                {"type": 7, "name": "channel", "description": "c", "required": True},
                {"type": 4, "name": "min_heat", "description": "m", "min_value": 0, "max_value": 100}]}]}]}
    assert validate_commands([good]) == []
    bad_name = {"name": "Alerts", "description": "x"}
    order = {"name": "x", "description": "x", "options": [
        {"type": 3, "name": "a", "description": "a"}, {"type": 3, "name": "b", "description": "b", "required": True}]}
    both = {"name": "y", "description": "y", "options": [
        {"type": 3, "name": "a", "description": "a", "autocomplete": True, "choices": [{"name": "c", "value": "c"}]}]}
    found = {p.code for p in validate_commands([bad_name, order, both, dict(good), dict(good)])}
    assert found == {"APPLICATION_COMMAND_INVALID_NAME", "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                     "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID", "APPLICATION_COMMANDS_DUPLICATE_NAME"}
