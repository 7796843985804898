"""Discord's documented limits, checked on everything the bot sends; problems become a 50035-style 400 body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JSON = dict[str, Any]

MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FIELD_NAME = 256
MAX_FIELD_VALUE = 1024
MAX_FOOTER = 2048
MAX_AUTHOR = 256
MAX_CHOICES = 25
MAX_CHOICE_TEXT = 100
MAX_THREAD_NAME = 100
# A forum has at most 20 available tags, each named with 1-20 characters.
MAX_FORUM_TAGS = 20
MAX_TAG_NAME = 20
MAX_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_CUSTOM_ID = 100
MAX_BUTTON_LABEL = 80
MAX_SELECT_OPTIONS = 25
MAX_SELECT_PLACEHOLDER = 150
MAX_COMMAND_OPTIONS = 25
MAX_COMMAND_TEXT = 4000
MAX_GLOBAL_COMMANDS = 100

# Message flags a bot may set when sending: SUPPRESS_EMBEDS, EPHEMERAL (interactions only),
# SUPPRESS_NOTIFICATIONS, IS_COMPONENTS_V2.
EPHEMERAL = 1 << 6
_SENDABLE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12) | (1 << 15)
COMPONENTS_V2 = 1 << 15

_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")
_URL_SCHEMES = ("http://", "https://", "attachment://")
_AUTO_ARCHIVE = {60, 1440, 4320, 10080}


@dataclass(frozen=True)
class Problem:
    """One broken rule: where in the payload, Discord's error code, and a readable message."""

    path: tuple[str | int, ...]
    code: str
    message: str

    def __str__(self) -> str:
        where = ".".join(str(p) for p in self.path) or "<root>"
        return f"{where}: {self.code}: {self.message}"


def error_body(problems: list[Problem]) -> JSON:
    """Discord's "Invalid Form Body" shape: nested dicts keyed by path with `_errors` lists at the leaves."""
    errors: JSON = {}
    for prob in problems:
        node = errors
        for part in prob.path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": prob.code, "message": prob.message})
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}


def _max_len(
    out: list[Problem], path: tuple[str | int, ...], value: Any, limit: int, *, required: bool = False
) -> None:
    if value is None:
        if required:
            out.append(Problem(path, "BASE_TYPE_REQUIRED", "This field is required"))
        return
    if not isinstance(value, str):
        out.append(Problem(path, "BASE_TYPE_STRING", "Must be a string."))
        return
    if required and not value.strip():
        out.append(Problem(path, "BASE_TYPE_REQUIRED", "This field is required"))
    if len(value) > limit:
        out.append(Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length."))


def _url(out: list[Problem], path: tuple[str | int, ...], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.startswith(_URL_SCHEMES) or len(value) > 2048:
        out.append(Problem(path, "URL_TYPE_INVALID_URL", "Not a well formed URL."))


def validate_embed(out: list[Problem], path: tuple[str | int, ...], embed: Any) -> int:
    """Check one embed; returns the characters it counts toward the 6000 total."""
    if not isinstance(embed, dict):
        out.append(Problem(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
        return 0
    total = 0
    for key, limit in (("title", MAX_TITLE), ("description", MAX_DESCRIPTION)):
        value = embed.get(key)
        _max_len(out, (*path, key), value, limit)
        total += len(value) if isinstance(value, str) else 0
    _url(out, (*path, "url"), embed.get("url"))
    for key in ("thumbnail", "image"):
        media = embed.get(key)
        if media is not None:
            _url(out, (*path, key, "url"), media.get("url") if isinstance(media, dict) else media)
    colour = embed.get("color")
    if colour is not None and (not isinstance(colour, int) or not 0 <= colour <= 0xFFFFFF):
        out.append(Problem((*path, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215 and >= 0."))
    stamp = embed.get("timestamp")
    if stamp is not None:
        try:
            datetime.fromisoformat(str(stamp))
        except ValueError:
            out.append(Problem((*path, "timestamp"), "DATE_TYPE_PARSE", "Could not parse the timestamp."))
    author = embed.get("author")
    if isinstance(author, dict):
        _max_len(out, (*path, "author", "name"), author.get("name"), MAX_AUTHOR, required=True)
        _url(out, (*path, "author", "url"), author.get("url"))
        _url(out, (*path, "author", "icon_url"), author.get("icon_url"))
        total += len(author.get("name") or "")
    footer = embed.get("footer")
    if isinstance(footer, dict):
        _max_len(out, (*path, "footer", "text"), footer.get("text"), MAX_FOOTER, required=True)
        _url(out, (*path, "footer", "icon_url"), footer.get("icon_url"))
        total += len(footer.get("text") or "")
    fields = embed.get("fields") or []
    if len(fields) > MAX_FIELDS:
        out.append(Problem((*path, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FIELDS} or fewer in length."))
    for i, fld in enumerate(fields):
        _max_len(out, (*path, "fields", i, "name"), fld.get("name"), MAX_FIELD_NAME, required=True)
        _max_len(out, (*path, "fields", i, "value"), fld.get("value"), MAX_FIELD_VALUE, required=True)
        total += len(fld.get("name") or "") + len(fld.get("value") or "")
    return total


def validate_allowed_mentions(out: list[Problem], value: Any) -> None:
    """allowed_mentions must be well formed; `parse` may not repeat a list that is also given explicitly."""
    path: tuple[str | int, ...] = ("allowed_mentions",)
    if not isinstance(value, dict):
        out.append(Problem(path, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType"))
        return
    parse = value.get("parse", [])
    if not isinstance(parse, list) or any(p not in ("roles", "users", "everyone") for p in parse):
        message = 'Value must be one of ("roles", "users", "everyone").'
        out.append(Problem((*path, "parse"), "ENUM_TYPE_COERCE", message))
        parse = []
    for key in ("users", "roles"):
        ids = value.get(key)
        if ids is None:
            continue
        if not isinstance(ids, list) or len(ids) > 100:
            out.append(Problem((*path, key), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
        elif key in parse:
            out.append(
                Problem((*path, key), "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE", f'parse:["{key}"] and {key}: [ids]'
                        " are mutually exclusive.")
            )
    replied = value.get("replied_user")
    if replied is not None and not isinstance(replied, bool):
        out.append(Problem((*path, "replied_user"), "BASE_TYPE_BOOLEAN", "Must be either true or false."))


def validate_components(out: list[Problem], rows: Any) -> None:
    """Action rows: at most 5, each with at most 5 buttons or one select; custom_ids unique and short."""
    if not isinstance(rows, list):
        out.append(Problem(("components",), "BASE_TYPE_ARRAY", "Must be an array."))
        return
    if len(rows) > MAX_ROWS:
        out.append(Problem(("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_ROWS} or fewer in length."))
    seen: set[str] = set()
    for r, row in enumerate(rows):
        rpath: tuple[str | int, ...] = ("components", r)
        if row.get("type") != 1:
            out.append(Problem((*rpath, "type"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top level must be action rows."))
            continue
        children = row.get("components") or []
        if not children:
            out.append(Problem((*rpath, "components"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length."))
        selects = [c for c in children if c.get("type") in (3, 5, 6, 7, 8)]
        if len(children) > MAX_ROW_BUTTONS or (selects and len(children) > 1):
            out.append(Problem((*rpath, "components"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                               "The specified component exceeds the maximum width"))
        for c, comp in enumerate(children):
            cpath = (*rpath, "components", c)
            custom_id = comp.get("custom_id")
            if comp.get("type") == 2 and comp.get("style") == 5:
                _url(out, (*cpath, "url"), comp.get("url") or "")
                if custom_id is not None:
                    out.append(Problem((*cpath, "custom_id"), "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                                       "A link button cannot have a custom_id"))
            elif comp.get("type") == 2 and comp.get("style") == 6:
                pass  # premium button: sku_id, no custom_id
            else:
                _max_len(out, (*cpath, "custom_id"), custom_id, MAX_CUSTOM_ID, required=True)
                if isinstance(custom_id, str):
                    if custom_id in seen:
                        out.append(Problem((*cpath, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED",
                                           "Component custom id cannot be duplicated"))
                    seen.add(custom_id)
            if comp.get("type") == 2:
                _max_len(out, (*cpath, "label"), comp.get("label"), MAX_BUTTON_LABEL)
                if not comp.get("label") and not comp.get("emoji"):
                    out.append(Problem(cpath, "BUTTON_COMPONENT_INVALID", "A button needs a label or an emoji."))
            if comp.get("type") in (3, 5, 6, 7, 8):
                _max_len(out, (*cpath, "placeholder"), comp.get("placeholder"), MAX_SELECT_PLACEHOLDER)
                options = comp.get("options") or []
                if len(options) > MAX_SELECT_OPTIONS:
                    out.append(Problem((*cpath, "options"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
                for o, opt in enumerate(options):
                    _max_len(out, (*cpath, "options", o, "label"), opt.get("label"), 100, required=True)
                    _max_len(out, (*cpath, "options", o, "value"), opt.get("value"), 100, required=True)
                    _max_len(out, (*cpath, "options", o, "description"), opt.get("description"), 100)


def validate_message(
    payload: Any,
    *,
    interaction: bool,
    edit: bool = False,
    require_allowed_mentions: bool = True,
) -> list[Problem]:
    """Check a message create/edit body against Discord's limits (and the team's allowed_mentions rule)."""
    out: list[Problem] = []
    if not isinstance(payload, dict):
        return [Problem((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")]
    content = payload.get("content")
    _max_len(out, ("content",), content, MAX_CONTENT)
    embeds = payload.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            out.append(Problem(("embeds",), "BASE_TYPE_ARRAY", "Must be an array."))
            embeds = []
        if len(embeds) > MAX_EMBEDS:
            out.append(Problem(("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length."))
        total = sum(validate_embed(out, ("embeds", i), e) for i, e in enumerate(embeds))
        if total > MAX_EMBED_TOTAL:
            out.append(Problem(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"))
    flags = payload.get("flags")
    if flags is not None and (
        not isinstance(flags, int) or flags & ~_SENDABLE_FLAGS or (flags & EPHEMERAL and not interaction)
    ):
        out.append(Problem(("flags",), "MESSAGE_FLAGS_INVALID", "Invalid flags for this message."))
    components = payload.get("components")
    if components is not None and not (isinstance(flags, int) and flags & COMPONENTS_V2):
        validate_components(out, components)
    if "allowed_mentions" in payload and payload["allowed_mentions"] is not None:
        validate_allowed_mentions(out, payload["allowed_mentions"])
    elif require_allowed_mentions and (not edit or "content" in payload):
        out.append(Problem(("allowed_mentions",), "HEATWAVE_ALLOWED_MENTIONS_REQUIRED",
                           "Every message the bot sends must set allowed_mentions (team rule, not Discord's)."))
    if not edit and not (content or embeds or components or payload.get("attachments") or payload.get("sticker_ids")
                         or payload.get("poll")):
        out.append(Problem((), "50006", "Cannot send an empty message"))
    return out


def validate_choices(data: Any) -> list[Problem]:
    """Autocomplete result: at most 25 choices, each name 1..100 and value <= 100 characters."""
    out: list[Problem] = []
    choices = (data or {}).get("choices")
    if not isinstance(choices, list):
        return [Problem(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")]
    if len(choices) > MAX_CHOICES:
        out.append(Problem(("data", "choices"), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CHOICES} or fewer in length."))
    for i, choice in enumerate(choices):
        _max_len(out, ("data", "choices", i, "name"), choice.get("name"), MAX_CHOICE_TEXT, required=True)
        value = choice.get("value")
        if isinstance(value, str):
            _max_len(out, ("data", "choices", i, "value"), value, MAX_CHOICE_TEXT)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            out.append(Problem(("data", "choices", i, "value"), "BASE_TYPE_REQUIRED", "This field is required"))
    return out


def validate_thread(payload: Any, *, require_allowed_mentions: bool = True) -> list[Problem]:
    """Forum post: name 1..100, a starter message that is itself a valid message."""
    if not isinstance(payload, dict):
        return [Problem((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")]
    out: list[Problem] = []
    _max_len(out, ("name",), payload.get("name"), MAX_THREAD_NAME, required=True)
    duration = payload.get("auto_archive_duration")
    if duration is not None and duration not in _AUTO_ARCHIVE:
        out.append(Problem(("auto_archive_duration",), "BASE_TYPE_CHOICES",
                           "Value must be one of {60, 1440, 4320, 10080}."))
    if len(payload.get("applied_tags") or []) > 5:
        out.append(Problem(("applied_tags",), "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."))
    message = payload.get("message")
    if message is None:
        out.append(Problem(("message",), "BASE_TYPE_REQUIRED", "This field is required"))
    else:
        for prob in validate_message(message, interaction=False, require_allowed_mentions=require_allowed_mentions):
            out.append(Problem(("message", *prob.path), prob.code, prob.message))
    return out


def validate_thread_start(payload: Any) -> list[Problem]:
    """Start Thread from Message: name 1..100 and, if given, one of Discord's archive durations."""
    if not isinstance(payload, dict):
        return [Problem((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")]
    out: list[Problem] = []
    _max_len(out, ("name",), payload.get("name"), MAX_THREAD_NAME, required=True)
    duration = payload.get("auto_archive_duration")
    if duration is not None and duration not in _AUTO_ARCHIVE:
        out.append(Problem(("auto_archive_duration",), "BASE_TYPE_CHOICES",
                           "Value must be one of {60, 1440, 4320, 10080}."))
    return out


def validate_channel_edit(payload: Any) -> list[Problem]:
    """Modify Channel, the fields the stand-in supports: a name and a forum's available_tags (at most 20, each
    named 1..20 characters)."""
    if not isinstance(payload, dict):
        return [Problem((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")]
    out: list[Problem] = []
    if "name" in payload:
        _max_len(out, ("name",), payload.get("name"), 100, required=True)
    tags = payload.get("available_tags")
    if tags is not None:
        if not isinstance(tags, list):
            return [*out, Problem(("available_tags",), "BASE_TYPE_ARRAY", "Must be an array.")]
        if len(tags) > MAX_FORUM_TAGS:
            out.append(Problem(("available_tags",), "BASE_TYPE_MAX_LENGTH",
                               f"Must be {MAX_FORUM_TAGS} or fewer in length."))
        for i, tag in enumerate(tags):
            if not isinstance(tag, dict):
                out.append(Problem(("available_tags", i), "DICT_TYPE_CONVERT",
                                   "Only dictionaries may be used in a DictType"))
                continue
            _max_len(out, ("available_tags", i, "name"), tag.get("name"), MAX_TAG_NAME, required=True)
    return out


def _command_text(cmd: JSON) -> int:
    total = len(cmd.get("name") or "") + len(cmd.get("description") or "")
    for opt in cmd.get("options") or []:
        total += _command_text(opt)
    for choice in cmd.get("choices") or []:
        total += len(str(choice.get("name") or "")) + len(str(choice.get("value") or ""))
    return total


def _validate_options(out: list[Problem], path: tuple[str | int, ...], options: Any, depth: int) -> None:
    if options is None:
        return
    if not isinstance(options, list):
        out.append(Problem(path, "BASE_TYPE_ARRAY", "Must be an array."))
        return
    if len(options) > MAX_COMMAND_OPTIONS:
        out.append(Problem(path, "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_COMMAND_OPTIONS} or fewer in length."))
    names: set[str] = set()
    kinds = {opt.get("type") in (1, 2) for opt in options}
    if len(kinds) > 1:
        out.append(Problem(path, "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                           "Sub-commands and groups cannot be mixed with other options."))
    seen_optional = False
    for i, opt in enumerate(options):
        opath = (*path, i)
        kind = opt.get("type")
        _validate_name_description(out, opath, opt)
        name = opt.get("name")
        if name in names:
            out.append(Problem((*opath, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                               "Option names must be unique."))
        names.add(str(name))
        if not isinstance(kind, int) or not 1 <= kind <= 11:
            out.append(Problem((*opath, "type"), "BASE_TYPE_CHOICES", "Value must be a valid option type."))
            continue
        if kind == 2:
            if depth > 0:
                out.append(Problem((*opath, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                                   "Sub-command groups cannot be nested."))
            subs = opt.get("options") or []
            if any(s.get("type") != 1 for s in subs):
                out.append(Problem((*opath, "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                                   "A group may only contain sub-commands."))
            _validate_options(out, (*opath, "options"), subs, depth + 1)
            continue
        if kind == 1:
            if depth > 1:
                out.append(Problem((*opath, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                                   "Sub-commands are nested too deep."))
            _validate_options(out, (*opath, "options"), opt.get("options"), 2)
            continue
        if opt.get("required"):
            if seen_optional:
                out.append(Problem((*opath, "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                                   "Required options must be placed before non-required options."))
        else:
            seen_optional = True
        choices = opt.get("choices")
        if choices:
            if opt.get("autocomplete"):
                out.append(Problem((*opath, "autocomplete"), "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                                   "Autocomplete cannot be set with choices."))
            if len(choices) > MAX_CHOICES:
                out.append(Problem((*opath, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
            for c, choice in enumerate(choices):
                _max_len(out, (*opath, "choices", c, "name"), choice.get("name"), MAX_CHOICE_TEXT, required=True)
                if isinstance(choice.get("value"), str):
                    _max_len(out, (*opath, "choices", c, "value"), choice.get("value"), MAX_CHOICE_TEXT)
        for key in ("min_length", "max_length"):
            value = opt.get(key)
            if value is not None and (kind != 3 or not 0 <= value <= 6000):
                out.append(Problem((*opath, key), "NUMBER_TYPE_MAX", "Must be between 0 and 6000 on string options."))
        for key in ("min_value", "max_value"):
            if opt.get(key) is not None and kind not in (4, 10):
                out.append(Problem((*opath, key), "APPLICATION_COMMAND_OPTION_INVALID",
                                   "min/max value only apply to integer and number options."))


def _validate_name_description(out: list[Problem], path: tuple[str | int, ...], item: JSON) -> None:
    name = item.get("name")
    if not isinstance(name, str) or not _COMMAND_NAME.match(name) or name != name.lower():
        out.append(Problem((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME",
                           "Command name is invalid (1-32 lowercase letters, digits, - or _)."))
    _max_len(out, (*path, "description"), item.get("description"), 100, required=True)


def validate_commands(commands: Any) -> list[Problem]:
    """A bulk-overwrite body: unique names per type, the chat-input naming rules, option rules, 4000 characters each."""
    if not isinstance(commands, list):
        return [Problem((), "BASE_TYPE_ARRAY", "Must be an array.")]
    out: list[Problem] = []
    seen: set[tuple[int, str]] = set()
    chat_input = 0
    for i, cmd in enumerate(commands):
        kind = cmd.get("type", 1)
        if kind == 1:
            chat_input += 1
            _validate_name_description(out, (i,), cmd)
            _validate_options(out, (i, "options"), cmd.get("options"), 0)
            if _command_text(cmd) > MAX_COMMAND_TEXT:
                out.append(Problem((i,), "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (4000)"))
        else:
            _max_len(out, (i, "name"), cmd.get("name"), 32, required=True)
        key = (kind, str(cmd.get("name")))
        if key in seen:
            out.append(Problem((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME",
                               "Application command names must be unique"))
        seen.add(key)
        perms = cmd.get("default_member_permissions")
        # Discord documents a string but accepts integers too (discord.py sends an int).
        if perms is not None and not ((isinstance(perms, str) and perms.isdigit()) or type(perms) is int):
            out.append(Problem((i, "default_member_permissions"), "BASE_TYPE_STRING", "Must be a permission string."))
    if chat_input > MAX_GLOBAL_COMMANDS:
        out.append(Problem((), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer chat input commands."))
    return out
