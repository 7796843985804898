"""Export and import of a server's alert configuration (`/alerts export|import`, `heatwave config export|import`).

The file is JSON with a versioned schema (README: "Configuration files"):

    {"schema": "heatwave.alerts", "version": 1, "guild": {"id": "…"}, "exported_at": "…",
     "subscriptions": [{"channel": {"id": "…", "name": "news"}, "kind": "text", "topic": "AI" | null,
                        "min_heat": 70 | "top10%", "min_quality": 40 | null,
                        "threads": true, "create_tags": true (optional; the channel's, off when left out)}, …],
     "log_channel": {"id": "…", "name": "alerts-log"} | null,
     "channels": [{"channel": {…}, "dedupe": true, "ping_heat": 150 | null}, …],
     "quiet_hours": [{"channel": {…}, "start": "22:00", "end": "07:00", "timezone": "Europe/Berlin",
                      "breaking": 150 | null}, …],
     "roles": [{"topic": "AI", "role": {"id": "…"}}, …],
     "digests": [{"channel": {…}, "kind": "text", "topic": "AI" | null, "every": "daily", "at": "09:00",
                  "day": "monday" | null, "timezone": "UTC", "top": 5, "min_heat": 70 | "top10%"}, …]}

Every section is optional: an import changes only the sections its file has (a section that is there is the
whole truth for it: a subscription the file does not list is removed). Each section has its own parser and
planner (`_SECTIONS`); a later feature (digests, quiet hours, role mapping) adds its section there. Ids are
strings, as Discord writes snowflakes (JavaScript readers lose precision on bigger numbers).

Nothing Discord-specific here: a `ChannelDirectory` (the cog's guild, or the CLI's REST listing) finds channels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from bot.clock import Clock
from bot.errors import HeatwaveError, InvalidArgument
from bot.schedules import PERIOD, WEEKDAYS, Schedule, load_zone, parse_at
from bot.services.admin_log import AdminLog
from bot.services.alerts import (
    DEFAULT_MIN_HEAT,
    MIN_HEAT_RANGE,
    MIN_QUALITY_RANGE,
    AlertService,
    MinHeat,
    parse_min_heat,
)
from bot.services.digests import DEFAULT_AT, DEFAULT_EVERY, DEFAULT_TIMEZONE, DEFAULT_TOP, TOP_RANGE, DigestService
from db.interfaces import Store
from db.models import (
    CHANNEL_KINDS,
    ChannelKind,
    ChannelSettingsSpec,
    DigestRecord,
    DigestSpec,
    GuildConfigChange,
    QuietSpec,
    SubscriptionRecord,
    SubscriptionSpec,
    ThreadOptions,
    ThreadSettingsSpec,
)

log = logging.getLogger(__name__)

SCHEMA = "heatwave.alerts"
VERSION = 1
# An import file is a few KB per hundred subscriptions; anything far bigger is not one of ours.
MAX_FILE_BYTES = 1024 * 1024
MAX_SUBSCRIPTIONS = 1000
MAX_PROBLEMS_SHOWN = 8
_ALERT_KINDS = tuple(k for k in CHANNEL_KINDS if k != "console")


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel as a file names it: by id, by name, or both (the id wins when it is found)."""

    id: int | None
    name: str | None

    def label(self) -> str:
        """How messages name it."""
        if self.name:
            return f"#{self.name}" + (f" ({self.id})" if self.id is not None else "")
        return f"with id {self.id}"


@dataclass(frozen=True, slots=True)
class FoundChannel:
    """A channel of the target server. `kind` None: alerts cannot go there; `problem`: why it cannot be used."""

    id: int
    name: str | None
    kind: ChannelKind | None
    problem: str | None = None


class ChannelDirectory(Protocol):
    """The channels of the server being exported or imported."""

    def name_of(self, channel_id: int) -> str | None:
        """The channel's name, when known."""
        ...

    def find(self, ref: ChannelRef) -> FoundChannel | None:
        """The channel with the ref's id, else the one with its name (None: no such channel)."""
        ...


@dataclass(frozen=True, slots=True)
class _AlertTarget:
    """A file's channel and topic, found in the importing server."""

    channel_id: int
    kind: ChannelKind
    topic_id: int | None
    topic_name: str | None


@dataclass(frozen=True, slots=True)
class SubscriptionEntry:
    """One subscription as a file has it."""

    channel: ChannelRef
    kind: ChannelKind | None
    topic: str | None
    min_heat: int
    min_quality: int | None
    percentile: int | None = None  # min_heat was "topN%": the rule (min_heat is then only a placeholder)
    # The channel's related-story threads and forum-tag creation (None: not in the entry, which means off).
    threads: bool | None = None
    create_tags: bool | None = None


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """A channel's living-post settings as a file has them."""

    channel: ChannelRef
    dedupe: bool
    ping_heat: int | None


@dataclass(frozen=True, slots=True)
class QuietEntry:
    """A channel's quiet hours as a file has them (checked: minutes and a known zone)."""

    channel: ChannelRef
    start_minute: int
    end_minute: int
    timezone: str
    breaking: int | None


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """A digest as a file has it (schedule checked)."""

    channel: ChannelRef
    kind: ChannelKind | None
    topic: str | None
    schedule: Schedule
    top: int
    min_heat: int
    percentile: int | None


@dataclass(frozen=True, slots=True)
class RoleEntry:
    """A topic's role as a file has it."""

    topic: str
    role_id: int


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A parsed and schema-checked file; a section that is None was not in the file (left as it is)."""

    guild_id: int | None
    subscriptions: tuple[SubscriptionEntry, ...] | None = None
    log_channel_given: bool = False
    log_channel: ChannelRef | None = None  # with log_channel_given: None turns the log off
    channels: tuple[ChannelEntry, ...] | None = None
    quiet_hours: tuple[QuietEntry, ...] | None = None
    roles: tuple[RoleEntry, ...] | None = None
    digests: tuple[DigestEntry, ...] | None = None


Action = Literal["add", "change", "remove", "keep"]


@dataclass(frozen=True, slots=True)
class SubscriptionDiff:
    """What an import does to one subscription."""

    action: Action
    channel_id: int
    topic: str | None
    before: tuple[int, int | None] | None  # (min_heat, min_quality)
    after: tuple[int, int | None] | None
    percentile_before: int | None = None  # min_heat is "top N%" (its number is today's)
    percentile_after: int | None = None


@dataclass(frozen=True, slots=True)
class SettingDiff:
    """What an import does to one setting of another section (quiet hours, channel settings, roles).

    `channel_id` None: a server-wide setting named by `label` (a topic's role). Texts are plain (unescaped)."""

    section: str
    channel_id: int | None
    label: str | None
    before: str | None  # None: not set
    after: str | None  # None: removed


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import would change (a dry run shows it; apply makes it so)."""

    guild_id: int
    subscriptions: tuple[SubscriptionDiff, ...]
    log_before: int | None
    log_after: int | None
    log_given: bool
    change: GuildConfigChange = field(repr=False)
    settings: tuple[SettingDiff, ...] = ()

    @property
    def changes(self) -> int:
        """How many things would change."""
        count = sum(1 for d in self.subscriptions if d.action != "keep") + len(self.settings)
        return count + (1 if self.log_given and self.log_before != self.log_after else 0)


class ImportRefused(InvalidArgument):
    """The file cannot be imported; every problem found (nothing was changed)."""

    def __init__(self, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        text = "Nothing was imported:\n" + "\n".join(f"• {p}" for p in shown)
        if more:
            text += f"\n• … and {more} more"
        super().__init__(text)
        self.problems = tuple(problems)


# ----- parsing ---------------------------------------------------------------------------------------------------


def _snowflake(value: Any, where: str, problems: list[str]) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        problems.append(f"{where}: an id must be a string of digits")
        return None
    text = str(value).strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        problems.append(f"{where}: “{text[:30]}” is not a Discord id")
        return None
    return int(text)


def _channel_ref(raw: Any, where: str, problems: list[str]) -> ChannelRef | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected {{\"id\": \"…\", \"name\": \"…\"}}")
        return None
    channel_id = _snowflake(raw.get("id"), f"{where}.id", problems)
    name = raw.get("name")
    if name is not None and not isinstance(name, str):
        problems.append(f"{where}.name: must be text")
        name = None
    name = name.strip().lstrip("#")[:100] if isinstance(name, str) and name.strip() else None
    if channel_id is None and name is None:
        problems.append(f"{where}: needs an id or a name")
        return None
    return ChannelRef(channel_id, name)


def _whole(raw: Any, where: str, bounds: tuple[int, int], problems: list[str]) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, int):
        problems.append(f"{where}: must be a whole number")
        return None
    low, high = bounds
    if not low <= raw <= high:
        problems.append(f"{where}: {raw} is outside {low}-{high}")
        return None
    return raw


def _parse_subscriptions(raw: Any, problems: list[str]) -> tuple[SubscriptionEntry, ...]:
    if not isinstance(raw, list):
        problems.append("subscriptions: expected a list")
        return ()
    if len(raw) > MAX_SUBSCRIPTIONS:
        problems.append(f"subscriptions: {len(raw)} entries; at most {MAX_SUBSCRIPTIONS}")
        return ()
    entries = []
    for number, item in enumerate(raw, start=1):
        where = f"subscriptions[{number}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object")
            continue
        unknown = sorted(set(item) - {"channel", "kind", "topic", "min_heat", "min_quality", "threads", "create_tags"})
        if unknown:
            problems.append(f"{where}: unknown field {', '.join(unknown)}")
        channel = _channel_ref(item.get("channel"), f"{where}.channel", problems)
        kind = item.get("kind")
        if kind is not None and kind not in _ALERT_KINDS:
            problems.append(f"{where}.kind: one of {', '.join(_ALERT_KINDS)}")
            kind = None
        topic = item.get("topic")
        if topic is not None and (not isinstance(topic, str) or not topic.strip()):
            problems.append(f"{where}.topic: a topic name, or null for every topic")
            topic = None
        raw_heat = item.get("min_heat", DEFAULT_MIN_HEAT)
        percentile: int | None = None
        if isinstance(raw_heat, str):
            rule = _rule(raw_heat, f"{where}.min_heat", problems)
            percentile = rule.percentile if rule is not None else None
            min_heat = DEFAULT_MIN_HEAT if percentile is not None else None
        else:
            min_heat = _whole(raw_heat, f"{where}.min_heat", MIN_HEAT_RANGE, problems)
        raw_quality = item.get("min_quality")
        min_quality = (
            None if raw_quality is None else _whole(raw_quality, f"{where}.min_quality", MIN_QUALITY_RANGE, problems)
        )
        flags = {key: item.get(key) for key in ("threads", "create_tags")}
        for key, value in flags.items():
            if value is not None and not isinstance(value, bool):
                problems.append(f"{where}.{key}: true or false")
                flags[key] = None
        if channel is not None and min_heat is not None:
            entries.append(SubscriptionEntry(channel, kind, topic.strip() if topic else None, min_heat,
                                             min_quality or None, percentile, flags["threads"],
                                             flags["create_tags"]))
    return tuple(entries)


def _rule(raw: str, where: str, problems: list[str]) -> MinHeat | None:
    """A "topN%" min_heat (a number written as text is refused: numbers are written as numbers)."""
    try:
        rule = parse_min_heat(raw)
    except HeatwaveError as exc:
        problems.append(f"{where}: {exc.user_message}")
        return None
    if rule is None or rule.percentile is None:
        problems.append(f"{where}: a whole number, or a share such as \"top10%\"")
        return None
    return rule


def _known(item: dict[str, Any], fields: set[str], where: str, problems: list[str]) -> None:
    unknown = sorted(set(item) - fields)
    if unknown:
        problems.append(f"{where}: unknown field {', '.join(unknown)[:100]}")


def _items(raw: Any, section: str, problems: list[str]) -> list[tuple[str, dict[str, Any]]]:
    if not isinstance(raw, list):
        problems.append(f"{section}: expected a list")
        return []
    if len(raw) > MAX_SUBSCRIPTIONS:
        problems.append(f"{section}: {len(raw)} entries; at most {MAX_SUBSCRIPTIONS}")
        return []
    found = []
    for number, item in enumerate(raw, start=1):
        where = f"{section}[{number}]"
        if not isinstance(item, dict):
            problems.append(f"{where}: expected an object")
            continue
        found.append((where, item))
    return found


def _optional_heat(raw: Any, where: str, problems: list[str]) -> int | None:
    return None if raw is None else _whole(raw, where, MIN_HEAT_RANGE, problems)


def _parse_channels(raw: Any, problems: list[str]) -> tuple[ChannelEntry, ...]:
    entries = []
    for where, item in _items(raw, "channels", problems):
        _known(item, {"channel", "dedupe", "ping_heat"}, where, problems)
        channel = _channel_ref(item.get("channel"), f"{where}.channel", problems)
        dedupe = item.get("dedupe", True)
        if not isinstance(dedupe, bool):
            problems.append(f"{where}.dedupe: true or false")
            continue
        before = len(problems)
        ping_heat = _optional_heat(item.get("ping_heat"), f"{where}.ping_heat", problems)
        if channel is not None and len(problems) == before:
            entries.append(ChannelEntry(channel, dedupe, ping_heat))
    return tuple(entries)


def _parse_quiet(raw: Any, problems: list[str]) -> tuple[QuietEntry, ...]:
    entries = []
    for where, item in _items(raw, "quiet_hours", problems):
        _known(item, {"channel", "start", "end", "timezone", "breaking"}, where, problems)
        channel = _channel_ref(item.get("channel"), f"{where}.channel", problems)
        before = len(problems)
        minutes = []
        for name in ("start", "end"):
            value = item.get(name)
            if not isinstance(value, str):
                problems.append(f"{where}.{name}: a time such as \"22:00\"")
                continue
            try:
                minutes.append(parse_at(value))
            except HeatwaveError as exc:
                problems.append(f"{where}.{name}: {exc.user_message}")
        zone = item.get("timezone", "UTC")
        if not isinstance(zone, str) or not zone.strip():
            problems.append(f"{where}.timezone: a zone name such as \"Europe/Berlin\"")
        else:
            try:
                load_zone(zone.strip())
            except HeatwaveError as exc:
                problems.append(f"{where}.timezone: {exc.user_message}")
        breaking = _optional_heat(item.get("breaking"), f"{where}.breaking", problems)
        if len(minutes) == 2 and minutes[0] == minutes[1]:
            problems.append(f"{where}: start and end must differ")
        if channel is not None and len(problems) == before and isinstance(zone, str):
            entries.append(QuietEntry(channel, minutes[0], minutes[1], zone.strip(), breaking))
    return tuple(entries)


def _parse_roles(raw: Any, problems: list[str]) -> tuple[RoleEntry, ...]:
    entries = []
    for where, item in _items(raw, "roles", problems):
        _known(item, {"topic", "role"}, where, problems)
        topic = item.get("topic")
        if not isinstance(topic, str) or not topic.strip():
            problems.append(f"{where}.topic: a topic name")
            continue
        role = item.get("role")
        if not isinstance(role, dict):
            problems.append(f"{where}.role: expected {{\"id\": \"…\"}}")
            continue
        role_id = _snowflake(role.get("id"), f"{where}.role.id", problems)
        if role_id is not None:
            entries.append(RoleEntry(topic.strip(), role_id))
    return tuple(entries)


def parse_config(data: bytes | str) -> ConfigFile:
    """The file, checked against the schema; ImportRefused listing every problem otherwise."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused([f"the file is larger than {MAX_FILE_BYTES // 1024} KB; is it a Heatwave export?"])
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        raw = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        detail = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise ImportRefused([f"the file is not valid JSON{detail}"]) from None
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        raise ImportRefused([f"this is not a Heatwave alerts export (\"schema\" must be \"{SCHEMA}\")"])
    version = raw.get("version")
    if version != VERSION:
        raise ImportRefused([f"schema version {str(version)[:10]} is not supported; this Heatwave reads version "
                             f"{VERSION}"])
    problems: list[str] = []
    unknown = sorted(set(raw) - {"schema", "version", "guild", "exported_at", *_SECTIONS})
    if unknown:
        problems.append(f"unknown section {', '.join(unknown)[:100]} (this Heatwave knows: {', '.join(_SECTIONS)})")
    guild = raw.get("guild")
    guild_id = _snowflake(guild.get("id"), "guild.id", problems) if isinstance(guild, dict) else None
    parsed = ConfigFile(guild_id)
    for name, section in _SECTIONS.items():
        if name in raw:
            parsed = section(parsed, raw[name], problems)
    if problems:
        raise ImportRefused(problems)
    return parsed


def _parse_digests(raw: Any, problems: list[str]) -> tuple[DigestEntry, ...]:
    entries = []
    fields = {"channel", "kind", "topic", "every", "at", "day", "timezone", "top", "min_heat"}
    for where, item in _items(raw, "digests", problems):
        _known(item, fields, where, problems)
        before = len(problems)
        channel = _channel_ref(item.get("channel"), f"{where}.channel", problems)
        kind = item.get("kind")
        if kind is not None and kind not in _ALERT_KINDS:
            problems.append(f"{where}.kind: one of {', '.join(_ALERT_KINDS)}")
        topic = item.get("topic")
        if topic is not None and (not isinstance(topic, str) or not topic.strip()):
            problems.append(f"{where}.topic: a topic name, or null for every topic")
        texts = {name: item.get(name, default) for name, default in
                 (("every", DEFAULT_EVERY), ("at", DEFAULT_AT), ("timezone", DEFAULT_TIMEZONE))}
        day = item.get("day")
        schedule = None
        if not all(isinstance(v, str) for v in texts.values()) or not (day is None or isinstance(day, str)):
            problems.append(f"{where}: every, at, day and timezone are text (\"daily\", \"09:00\", \"monday\","
                            " \"UTC\")")
        else:
            try:
                schedule = DigestService.parse_schedule(every=texts["every"], at=texts["at"], day=day,
                                                        timezone=texts["timezone"])
            except HeatwaveError as exc:
                problems.append(f"{where}: {exc.user_message}")
        top = _whole(item.get("top", DEFAULT_TOP), f"{where}.top", TOP_RANGE, problems)
        raw_heat = item.get("min_heat", DEFAULT_MIN_HEAT)
        percentile: int | None = None
        min_heat: int | None = DEFAULT_MIN_HEAT
        if isinstance(raw_heat, str):
            rule = _rule(raw_heat, f"{where}.min_heat", problems)
            percentile = rule.percentile if rule is not None else None
        else:
            min_heat = _whole(raw_heat, f"{where}.min_heat", MIN_HEAT_RANGE, problems)
        if (
            len(problems) == before and channel is not None and schedule is not None and top is not None
            and min_heat is not None
        ):
            entries.append(DigestEntry(channel, kind, topic.strip() if topic else None, schedule, top, min_heat,
                                       percentile))
    return tuple(entries)


def _subscriptions_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    return replace(parsed, subscriptions=_parse_subscriptions(raw, problems))


def _log_channel_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    ref = None if raw is None else _channel_ref(raw, "log_channel", problems)
    return replace(parsed, log_channel_given=True, log_channel=ref)


def _channels_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    return replace(parsed, channels=_parse_channels(raw, problems))


def _quiet_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    return replace(parsed, quiet_hours=_parse_quiet(raw, problems))


def _roles_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    return replace(parsed, roles=_parse_roles(raw, problems))


def _digests_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    return replace(parsed, digests=_parse_digests(raw, problems))


# The sections this version knows, in the order they are read and shown.
_SECTIONS: dict[str, Callable[[ConfigFile, Any, list[str]], ConfigFile]] = {
    "subscriptions": _subscriptions_section,
    "log_channel": _log_channel_section,
    "channels": _channels_section,
    "quiet_hours": _quiet_section,
    "roles": _roles_section,
    "digests": _digests_section,
}


# ----- the service -------------------------------------------------------------------------------------------------


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _quiet_text(start: int, end: int, timezone: str, breaking: int | None) -> str:
    return f"{_hhmm(start)}–{_hhmm(end)} {timezone}" + (f", breaking ≥ {breaking}" if breaking is not None else "")


def _schedule(record: DigestRecord) -> Schedule:
    return Schedule(record.every, record.minute, record.weekday, record.timezone)


def _digest_text(topic: str | None, schedule: Schedule, top: int, min_heat: int, percentile: int | None) -> str:
    line = f"top {percentile}% ({min_heat} today)" if percentile is not None else str(min_heat)
    return f"{topic or 'every topic'} · {schedule.label()}, top {top}, heat ≥ {line}"


def _channel_text(dedupe: bool, ping_heat: int | None) -> str:
    return ("dedupe on" if dedupe else "dedupe off") + (f", pings at heat ≥ {ping_heat}" if ping_heat is not None
                                                         else ", no pings")


def _threads_text(threads: bool, create_tags: bool) -> str:
    parts = [p for p, on in (("threads on", threads), ("creates forum tags", create_tags)) if on]
    return ", ".join(parts) or "threads off"


def _thread_fields(options: ThreadOptions | None) -> dict[str, bool]:
    """The optional thread fields of an exported subscription (left out while off, as files before them)."""
    if options is None:
        return {}
    return {key: True for key, on in (("threads", options.threads), ("create_tags", options.create_tags)) if on}


def _ref_json(channel_id: int, directory: ChannelDirectory) -> dict[str, str | None]:
    return {"id": str(channel_id), "name": directory.name_of(channel_id)}


class ConfigService:
    """Export a guild's alert configuration as JSON; plan and apply an import."""

    def __init__(self, store: Store, alerts: AlertService, admin_log: AdminLog, clock: Clock) -> None:
        self._store = store
        self._alerts = alerts
        self._admin_log = admin_log
        self._clock = clock

    async def export(self, guild_id: int, directory: ChannelDirectory) -> str:
        """The guild's configuration as a JSON document (every section this version knows)."""
        subs = await self._store.subscriptions.for_guild(guild_id)
        log_channel = await self._store.admin_log.get(guild_id)
        channel_ids = sorted({s.channel_id for s in subs})
        threads = await self._store.threads.options(channel_ids)
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "version": VERSION,
            "guild": {"id": str(guild_id)},
            "exported_at": self._clock.now().isoformat(timespec="seconds").replace("+00:00", "Z"),
            "subscriptions": [
                {
                    "channel": _ref_json(s.channel_id, directory),
                    "kind": s.channel_kind,
                    "topic": s.topic_name,
                    "min_heat": s.min_heat if s.heat_percentile is None else f"top{s.heat_percentile}%",
                    "min_quality": s.min_quality,
                    **_thread_fields(threads.get(s.channel_id)),
                }
                for s in subs
            ],
            "log_channel": None if log_channel is None else _ref_json(log_channel.channel_id, directory),
            "channels": [
                {
                    "channel": _ref_json(channel_id, directory),
                    "dedupe": await self._store.living.dedupe(channel_id),
                    "ping_heat": await self._store.roles.ping_heat(channel_id),
                }
                for channel_id in channel_ids
            ],
            "quiet_hours": [
                {
                    "channel": _ref_json(q.channel_id, directory),
                    "start": _hhmm(q.start_minute),
                    "end": _hhmm(q.end_minute),
                    "timezone": q.timezone,
                    "breaking": q.breaking,
                }
                for q in await self._store.quiet_hours.for_guild(guild_id)
            ],
            "roles": [
                {"topic": r.topic_name, "role": {"id": str(r.role_id)}}
                for r in await self._store.roles.roles(guild_id)
            ],
            "digests": [
                {
                    "channel": _ref_json(d.channel_id, directory),
                    "kind": d.channel_kind,
                    "topic": d.topic_name,
                    "every": d.every,
                    "at": _hhmm(d.minute),
                    "day": WEEKDAYS[d.weekday] if d.every == "weekly" and d.weekday is not None else None,
                    "timezone": d.timezone,
                    "top": d.top,
                    "min_heat": d.min_heat if d.heat_percentile is None else f"top{d.heat_percentile}%",
                }
                for d in await self._store.digests.for_guild(guild_id)
            ],
        }
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"

    async def plan(
        self, guild_id: int, data: bytes | str, directory: ChannelDirectory, *, actor_id: int = 0
    ) -> ImportPlan:
        """Check the file against the schema, the server's channels and the stored topics; what it would change.
        ImportRefused (nothing changes) lists every problem."""
        parsed = parse_config(data)
        problems: list[str] = []
        current = await self._store.subscriptions.for_guild(guild_id)
        diffs: list[SubscriptionDiff] = []
        settings: list[SettingDiff] = []
        upserts: list[SubscriptionSpec] = []
        removals: list[tuple[int, int | None]] = []
        thread_specs: tuple[ThreadSettingsSpec, ...] = ()
        if parsed.subscriptions is not None:
            thread_wanted: dict[int, tuple[ChannelKind, bool, bool]] = {}
            wanted = await self._wanted(parsed.subscriptions, directory, problems, thread_wanted)
            by_key = {(s.channel_id, s.topic_id): s for s in current}
            for key, (spec, topic_name) in wanted.items():
                old = by_key.get(key)
                if old is not None and spec.heat_percentile is not None and old.heat_percentile == spec.heat_percentile:
                    # The same rule: today's number stays as it is (it is recomputed on its own schedule).
                    spec = replace(spec, min_heat=old.min_heat, line_basis=None)
                after = (spec.min_heat, spec.min_quality)
                if old is None:
                    diffs.append(SubscriptionDiff("add", spec.channel_id, topic_name, None, after, None,
                                                  spec.heat_percentile))
                    upserts.append(spec)
                else:
                    before = (old.min_heat, old.min_quality)
                    same = (
                        before == after and old.channel_kind == spec.kind
                        and old.heat_percentile == spec.heat_percentile
                    )
                    action: Action = "keep" if same else "change"
                    diffs.append(SubscriptionDiff(action, spec.channel_id, topic_name, before, after,
                                                  old.heat_percentile, spec.heat_percentile))
                    if action == "change":
                        upserts.append(spec)
            for old in current:
                if (old.channel_id, old.topic_id) not in wanted:
                    diffs.append(self._removal(old))
                    removals.append((old.channel_id, old.topic_id))
        if parsed.subscriptions is not None:
            thread_specs = await self._plan_threads(current, thread_wanted, settings)
        existing_log = await self._store.admin_log.get(guild_id)
        log_before = existing_log.channel_id if existing_log else None
        log_after = log_before
        if parsed.log_channel_given:
            log_after = None
            if parsed.log_channel is not None:
                log_after = self._channel_target(parsed.log_channel, "log_channel", directory, problems)
        channel_specs = await self._plan_channels(guild_id, parsed, directory, problems, settings)
        quiet, quiet_removals = await self._plan_quiet(guild_id, parsed, directory, problems, settings)
        roles, role_removals = await self._plan_roles(guild_id, parsed, problems, settings)
        digests, digest_removals = await self._plan_digests(guild_id, parsed, directory, problems, settings)
        if problems:
            raise ImportRefused(problems)
        change = GuildConfigChange(
            upserts=tuple(upserts),
            removals=tuple(removals),
            set_log_channel=log_after if parsed.log_channel_given and log_after != log_before else None,
            clear_log_channel=parsed.log_channel_given and log_after is None and log_before is not None,
            actor_id=actor_id,
            quiet=quiet,
            quiet_removals=quiet_removals,
            channel_settings=channel_specs,
            roles=roles,
            role_removals=role_removals,
            digests=digests,
            digest_removals=digest_removals,
            thread_settings=thread_specs,
        )
        return ImportPlan(guild_id, tuple(diffs), log_before, log_after, parsed.log_channel_given, change,
                          tuple(settings))

    @staticmethod
    def _usable_channel(
        ref: ChannelRef, where: str, directory: ChannelDirectory, problems: list[str]
    ) -> FoundChannel | None:
        """The channel a file names, when it is in this server and usable; else None and the problem noted."""
        found = directory.find(ref)
        if found is None:
            problems.append(f"{where}: no channel {ref.label()} in this server")
            return None
        if found.problem is not None:
            problems.append(f"{where}: {found.problem}")
            return None
        return found

    def _channel_target(
        self, ref: ChannelRef, where: str, directory: ChannelDirectory, problems: list[str]
    ) -> int | None:
        found = self._usable_channel(ref, where, directory, problems)
        return None if found is None else found.id

    async def _alert_target(
        self,
        where: str,
        ref: ChannelRef,
        kind: ChannelKind | None,
        topic: str | None,
        directory: ChannelDirectory,
        problems: list[str],
    ) -> _AlertTarget | None:
        """Where a subscription or digest of a file goes: its channel (with the kind alerts need) and its topic."""
        found = self._usable_channel(ref, where, directory, problems)
        if found is None:
            return None
        kind = found.kind or kind
        if kind is None:
            problems.append(f"{where}: say the channel's kind ({', '.join(_ALERT_KINDS)})")
            return None
        if topic is None:
            return _AlertTarget(found.id, kind, None, None)
        try:
            resolved = await self._alerts.resolve_topic(topic)
        except HeatwaveError as exc:
            problems.append(f"{where}: {exc.user_message}")
            return None
        return _AlertTarget(found.id, kind, resolved.id, resolved.name)

    async def _plan_channels(
        self, guild_id: int, parsed: ConfigFile, directory: ChannelDirectory, problems: list[str],
        settings: list[SettingDiff],
    ) -> tuple[ChannelSettingsSpec, ...]:
        """Each listed channel's dedupe and ping line; a channel with alerts the file leaves out goes back to the
        defaults (dedupe on, no pings)."""
        if parsed.channels is None:
            return ()
        wanted: dict[int, ChannelEntry] = {}
        for number, entry in enumerate(parsed.channels, start=1):
            where = f"channels[{number}]"
            channel_id = self._channel_target(entry.channel, where, directory, problems)
            if channel_id is None:
                continue
            if channel_id in wanted:
                problems.append(f"{where}: the channel is listed a second time")
                continue
            wanted[channel_id] = entry
        subscribed = {s.channel_id for s in await self._store.subscriptions.for_guild(guild_id)}
        specs = []
        for channel_id in sorted(subscribed | set(wanted)):
            listed = wanted.get(channel_id)
            dedupe, ping = (listed.dedupe, listed.ping_heat) if listed is not None else (True, None)
            old = (await self._store.living.dedupe(channel_id), await self._store.roles.ping_heat(channel_id))
            if old != (dedupe, ping):
                settings.append(SettingDiff("channel", channel_id, None, _channel_text(*old),
                                            _channel_text(dedupe, ping)))
                specs.append(ChannelSettingsSpec(channel_id, dedupe, ping))
        return tuple(specs)

    async def _plan_quiet(
        self, guild_id: int, parsed: ConfigFile, directory: ChannelDirectory, problems: list[str],
        settings: list[SettingDiff],
    ) -> tuple[tuple[QuietSpec, ...], tuple[int, ...]]:
        if parsed.quiet_hours is None:
            return (), ()
        current = {q.channel_id: q for q in await self._store.quiet_hours.for_guild(guild_id)}
        wanted: dict[int, QuietSpec] = {}
        for number, entry in enumerate(parsed.quiet_hours, start=1):
            where = f"quiet_hours[{number}]"
            channel_id = self._channel_target(entry.channel, where, directory, problems)
            if channel_id is None:
                continue
            if channel_id in wanted:
                problems.append(f"{where}: the channel is listed a second time")
                continue
            wanted[channel_id] = QuietSpec(channel_id, entry.start_minute, entry.end_minute, entry.timezone,
                                           entry.breaking)
        sets = []
        for channel_id, spec in wanted.items():
            old = current.get(channel_id)
            before = None if old is None else _quiet_text(old.start_minute, old.end_minute, old.timezone,
                                                          old.breaking)
            after = _quiet_text(spec.start_minute, spec.end_minute, spec.timezone, spec.breaking)
            if before != after:
                settings.append(SettingDiff("quiet hours", channel_id, None, before, after))
                sets.append(spec)
        removals = []
        for channel_id, old in current.items():
            if channel_id not in wanted:
                settings.append(SettingDiff("quiet hours", channel_id, None, _quiet_text(
                    old.start_minute, old.end_minute, old.timezone, old.breaking), None))
                removals.append(channel_id)
        return tuple(sets), tuple(removals)

    async def _plan_digests(
        self, guild_id: int, parsed: ConfigFile, directory: ChannelDirectory, problems: list[str],
        settings: list[SettingDiff],
    ) -> tuple[tuple[DigestSpec, ...], tuple[tuple[int, int | None], ...]]:
        if parsed.digests is None:
            return (), ()
        current = {(d.channel_id, d.topic_id): d for d in await self._store.digests.for_guild(guild_id)}
        now = self._clock.now()
        wanted: dict[tuple[int, int | None], DigestSpec] = {}
        names: dict[int | None, str | None] = {None: None}
        for number, entry in enumerate(parsed.digests, start=1):
            where = f"digests[{number}]"
            target = await self._alert_target(where, entry.channel, entry.kind, entry.topic, directory, problems)
            if target is None:
                continue
            channel_id, kind, topic_id = target.channel_id, target.kind, target.topic_id
            if topic_id is not None:
                names[topic_id] = target.topic_name
            if (channel_id, topic_id) in wanted:
                problems.append(f"{where}: the channel lists {names[topic_id] or 'every topic'} a second time")
                continue
            old = current.get((channel_id, topic_id))
            min_heat, basis = entry.min_heat, None
            if entry.percentile is not None:
                if old is not None and old.heat_percentile == entry.percentile:
                    min_heat = old.min_heat  # the same rule: today's number stays
                else:
                    line, basis = await self._alerts.line_for(topic_id, MinHeat(percentile=entry.percentile))
                    min_heat = DEFAULT_MIN_HEAT if line is None else line
            schedule = entry.schedule
            next_due = schedule.next_after(now)
            wanted[(channel_id, topic_id)] = DigestSpec(
                channel_id, kind, topic_id, schedule.every, schedule.minute, schedule.weekday, schedule.timezone,
                entry.top, min_heat, next_due, next_due - PERIOD[schedule.every], entry.percentile, basis,
            )
        sets = []
        for key, spec in wanted.items():
            old = current.get(key)
            after = _digest_text(names[spec.topic_id], Schedule(spec.every, spec.minute, spec.weekday, spec.timezone),
                                 spec.top, spec.min_heat, spec.heat_percentile)
            before = None if old is None else _digest_text(old.topic_name, _schedule(old), old.top, old.min_heat,
                                                           old.heat_percentile)
            if before != after or (old is not None and old.channel_kind != spec.kind):
                settings.append(SettingDiff("digest", spec.channel_id, None, before, after))
                sets.append(spec)
        removals = []
        for key, old in current.items():
            if key not in wanted:
                settings.append(SettingDiff("digest", old.channel_id, None, _digest_text(
                    old.topic_name, _schedule(old), old.top, old.min_heat, old.heat_percentile), None))
                removals.append(key)
        return tuple(sets), tuple(removals)

    async def _plan_roles(
        self, guild_id: int, parsed: ConfigFile, problems: list[str], settings: list[SettingDiff]
    ) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
        if parsed.roles is None:
            return (), ()
        current = {r.topic_id: r for r in await self._store.roles.roles(guild_id)}
        wanted: dict[int, tuple[str, int]] = {}
        for number, entry in enumerate(parsed.roles, start=1):
            where = f"roles[{number}]"
            try:
                topic = await self._alerts.resolve_topic(entry.topic)
            except HeatwaveError as exc:
                problems.append(f"{where}: {exc.user_message}")
                continue
            if topic.id in wanted:
                problems.append(f"{where}: {topic.name} is listed a second time")
                continue
            wanted[topic.id] = (topic.name, entry.role_id)
        sets = []
        for topic_id, (name, role_id) in wanted.items():
            old = current.get(topic_id)
            if old is None or old.role_id != role_id:
                before = None if old is None else f"role {old.role_id}"
                settings.append(SettingDiff("role", None, name, before, f"role {role_id}"))
                sets.append((topic_id, role_id))
        removals = []
        for topic_id, old in current.items():
            if topic_id not in wanted:
                settings.append(SettingDiff("role", None, old.topic_name, f"role {old.role_id}", None))
                removals.append(topic_id)
        return tuple(sets), tuple(removals)

    async def apply(self, plan: ImportPlan, *, told: str | None = None) -> None:
        """Make the planned changes in one transaction; `told` (rendered: who imported what) goes to the log."""
        if plan.changes:
            await self._store.subscriptions.apply_config(plan.guild_id, plan.change, self._clock.now())
        log.info("configuration imported into guild %d: %d changes", plan.guild_id, plan.changes,
                 extra={"guild": plan.guild_id})
        if told is not None:
            await self._admin_log.changed(plan.guild_id, told)

    @staticmethod
    def _removal(old: SubscriptionRecord) -> SubscriptionDiff:
        return SubscriptionDiff("remove", old.channel_id, old.topic_name, (old.min_heat, old.min_quality), None)

    async def _plan_threads(
        self,
        current: Sequence[SubscriptionRecord],
        wanted: Mapping[int, tuple[ChannelKind, bool, bool]],
        settings: list[SettingDiff],
    ) -> tuple[ThreadSettingsSpec, ...]:
        """Each subscribed channel's thread options as the file's subscriptions say (off where none says on)."""
        channels = sorted({s.channel_id for s in current} | set(wanted))
        stored = await self._store.threads.options(channels)
        specs = []
        for channel_id in channels:
            _, threads, create_tags = wanted.get(channel_id, ("text", False, False))
            old = stored.get(channel_id, ThreadOptions())
            if (old.threads, old.create_tags) != (threads, create_tags):
                settings.append(SettingDiff("threads", channel_id, None, _threads_text(old.threads, old.create_tags),
                                            _threads_text(threads, create_tags)))
                specs.append(ThreadSettingsSpec(channel_id, threads, create_tags))
        return tuple(specs)

    async def _wanted(
        self,
        entries: tuple[SubscriptionEntry, ...],
        directory: ChannelDirectory,
        problems: list[str],
        threads: dict[int, tuple[ChannelKind, bool, bool]],
    ) -> dict[tuple[int, int | None], tuple[SubscriptionSpec, str | None]]:
        """The subscriptions the file wants, by (channel, topic); `threads` gets each channel's thread options
        (on when any of its entries turns them on)."""
        wanted: dict[tuple[int, int | None], tuple[SubscriptionSpec, str | None]] = {}
        for number, entry in enumerate(entries, start=1):
            where = f"subscriptions[{number}]"
            target = await self._alert_target(where, entry.channel, entry.kind, entry.topic, directory, problems)
            if target is None:
                continue
            kind, topic_id, topic_name = target.kind, target.topic_id, target.topic_name
            key = (target.channel_id, topic_id)
            if key in wanted:
                problems.append(f"{where}: the channel lists {topic_name or 'every topic'} a second time")
                continue
            if entry.create_tags and kind != "forum":
                problems.append(f"{where}.create_tags: only forum channels have tags")
            _, had_threads, had_tags = threads.get(target.channel_id, (kind, False, False))
            threads[target.channel_id] = (
                kind, had_threads or bool(entry.threads), had_tags or bool(entry.create_tags)
            )
            min_heat, basis = entry.min_heat, None
            if entry.percentile is not None:
                line, basis = await self._alerts.line_for(topic_id, MinHeat(percentile=entry.percentile))
                min_heat = DEFAULT_MIN_HEAT if line is None else line
            wanted[key] = (
                SubscriptionSpec(
                    target.channel_id, kind, topic_id, min_heat, entry.min_quality, entry.percentile, basis
                ),
                topic_name,
            )
        return wanted



@dataclass(frozen=True, slots=True)
class StaticDirectory:
    """A directory from a plain list of (id, name, kind, problem) — the CLI's REST listing, or tests."""

    channels: tuple[FoundChannel, ...]
    trust_ids: bool = False  # without a listing: any id is taken as it is (names cannot be checked)

    def name_of(self, channel_id: int) -> str | None:
        """The channel's name, when listed."""
        return next((c.name for c in self.channels if c.id == channel_id), None)

    def find(self, ref: ChannelRef) -> FoundChannel | None:
        """By id, else by name (case-insensitive); with `trust_ids`, an unlisted id as it is."""
        if ref.id is not None:
            by_id = next((c for c in self.channels if c.id == ref.id), None)
            if by_id is not None:
                return by_id
            if self.trust_ids:
                return FoundChannel(ref.id, ref.name, None)
        if ref.name is not None:
            wanted = ref.name.casefold()
            return next((c for c in self.channels if c.name is not None and c.name.casefold() == wanted), None)
        return None


def directory_from(channels: Mapping[int, tuple[str | None, ChannelKind | None]]) -> StaticDirectory:
    """A StaticDirectory from {id: (name, kind)}."""
    return StaticDirectory(tuple(FoundChannel(i, n, k) for i, (n, k) in channels.items()))
