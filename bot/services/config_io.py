"""Export and import of a server's alert configuration (`/alerts export|import`, `heatwave config export|import`).

The file is JSON with a versioned schema (README: "Configuration files"):

    {"schema": "heatwave.alerts", "version": 1, "guild": {"id": "…"}, "exported_at": "…",
     "subscriptions": [{"channel": {"id": "…", "name": "news"}, "kind": "text", "topic": "AI" | null,
                        "min_heat": 70, "min_quality": 40 | null}, …],
     "log_channel": {"id": "…", "name": "alerts-log"} | null}

Every section is optional: an import changes only the sections its file has (a section that is there is the
whole truth for it: a subscription the file does not list is removed). Each section has its own parser and
planner (`_SECTIONS`); a later feature (digests, quiet hours, role mapping) adds its section there. Ids are
strings, as Discord writes snowflakes (JavaScript readers lose precision on bigger numbers).

Nothing Discord-specific here: a `ChannelDirectory` (the cog's guild, or the CLI's REST listing) finds channels.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from bot.clock import Clock
from bot.errors import HeatwaveError, InvalidArgument
from bot.services.admin_log import AdminLog
from bot.services.alerts import DEFAULT_MIN_HEAT, MIN_HEAT_RANGE, MIN_QUALITY_RANGE, AlertService
from db.interfaces import Store
from db.models import CHANNEL_KINDS, ChannelKind, GuildConfigChange, SubscriptionRecord, SubscriptionSpec

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
class SubscriptionEntry:
    """One subscription as a file has it."""

    channel: ChannelRef
    kind: ChannelKind | None
    topic: str | None
    min_heat: int
    min_quality: int | None


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A parsed and schema-checked file; a section that is None was not in the file (left as it is)."""

    guild_id: int | None
    subscriptions: tuple[SubscriptionEntry, ...] | None = None
    log_channel_given: bool = False
    log_channel: ChannelRef | None = None  # with log_channel_given: None turns the log off


Action = Literal["add", "change", "remove", "keep"]


@dataclass(frozen=True, slots=True)
class SubscriptionDiff:
    """What an import does to one subscription."""

    action: Action
    channel_id: int
    topic: str | None
    before: tuple[int, int | None] | None  # (min_heat, min_quality)
    after: tuple[int, int | None] | None


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What an import would change (a dry run shows it; apply makes it so)."""

    guild_id: int
    subscriptions: tuple[SubscriptionDiff, ...]
    log_before: int | None
    log_after: int | None
    log_given: bool
    change: GuildConfigChange = field(repr=False)

    @property
    def changes(self) -> int:
        """How many things would change."""
        count = sum(1 for d in self.subscriptions if d.action != "keep")
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
        unknown = sorted(set(item) - {"channel", "kind", "topic", "min_heat", "min_quality"})
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
        min_heat = _whole(item.get("min_heat", DEFAULT_MIN_HEAT), f"{where}.min_heat", MIN_HEAT_RANGE, problems)
        raw_quality = item.get("min_quality")
        min_quality = (
            None if raw_quality is None else _whole(raw_quality, f"{where}.min_quality", MIN_QUALITY_RANGE, problems)
        )
        if channel is not None and min_heat is not None:
            entries.append(SubscriptionEntry(channel, kind, topic.strip() if topic else None, min_heat,
                                             min_quality or None))
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


def _subscriptions_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    return ConfigFile(parsed.guild_id, _parse_subscriptions(raw, problems), parsed.log_channel_given,
                      parsed.log_channel)


def _log_channel_section(parsed: ConfigFile, raw: Any, problems: list[str]) -> ConfigFile:
    ref = None if raw is None else _channel_ref(raw, "log_channel", problems)
    return ConfigFile(parsed.guild_id, parsed.subscriptions, True, ref)


# The sections this version knows, in the order they are read and shown.
_SECTIONS: dict[str, Callable[[ConfigFile, Any, list[str]], ConfigFile]] = {
    "subscriptions": _subscriptions_section,
    "log_channel": _log_channel_section,
}


# ----- the service -------------------------------------------------------------------------------------------------


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
        document = {
            "schema": SCHEMA,
            "version": VERSION,
            "guild": {"id": str(guild_id)},
            "exported_at": self._clock.now().isoformat(timespec="seconds").replace("+00:00", "Z"),
            "subscriptions": [
                {
                    "channel": _ref_json(s.channel_id, directory),
                    "kind": s.channel_kind,
                    "topic": s.topic_name,
                    "min_heat": s.min_heat,
                    "min_quality": s.min_quality,
                }
                for s in subs
            ],
            "log_channel": None if log_channel is None else _ref_json(log_channel.channel_id, directory),
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
        upserts: list[SubscriptionSpec] = []
        removals: list[tuple[int, int | None]] = []
        if parsed.subscriptions is not None:
            wanted = await self._wanted(parsed.subscriptions, directory, problems)
            by_key = {(s.channel_id, s.topic_id): s for s in current}
            for key, (spec, topic_name) in wanted.items():
                old = by_key.get(key)
                after = (spec.min_heat, spec.min_quality)
                if old is None:
                    diffs.append(SubscriptionDiff("add", spec.channel_id, topic_name, None, after))
                    upserts.append(spec)
                else:
                    before = (old.min_heat, old.min_quality)
                    action: Action = "keep" if before == after and old.channel_kind == spec.kind else "change"
                    diffs.append(SubscriptionDiff(action, spec.channel_id, topic_name, before, after))
                    if action == "change":
                        upserts.append(spec)
            for old in current:
                if (old.channel_id, old.topic_id) not in wanted:
                    diffs.append(self._removal(old))
                    removals.append((old.channel_id, old.topic_id))
        existing_log = await self._store.admin_log.get(guild_id)
        log_before = existing_log.channel_id if existing_log else None
        log_after = log_before
        if parsed.log_channel_given:
            log_after = None if parsed.log_channel is None else self._log_target(parsed.log_channel, directory,
                                                                                 problems)
        if problems:
            raise ImportRefused(problems)
        change = GuildConfigChange(
            upserts=tuple(upserts),
            removals=tuple(removals),
            set_log_channel=log_after if parsed.log_channel_given and log_after != log_before else None,
            clear_log_channel=parsed.log_channel_given and log_after is None and log_before is not None,
            actor_id=actor_id,
        )
        return ImportPlan(guild_id, tuple(diffs), log_before, log_after, parsed.log_channel_given, change)

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

    async def _wanted(
        self, entries: tuple[SubscriptionEntry, ...], directory: ChannelDirectory, problems: list[str]
    ) -> dict[tuple[int, int | None], tuple[SubscriptionSpec, str | None]]:
        wanted: dict[tuple[int, int | None], tuple[SubscriptionSpec, str | None]] = {}
        for number, entry in enumerate(entries, start=1):
            where = f"subscriptions[{number}]"
            found = directory.find(entry.channel)
            if found is None:
                problems.append(f"{where}: no channel {entry.channel.label()} in this server")
                continue
            if found.problem is not None:
                problems.append(f"{where}: {found.problem}")
                continue
            kind = found.kind or entry.kind
            if kind is None:
                problems.append(f"{where}: say the channel's kind ({', '.join(_ALERT_KINDS)})")
                continue
            topic_id: int | None = None
            topic_name: str | None = None
            if entry.topic is not None:
                try:
                    topic = await self._alerts.resolve_topic(entry.topic)
                except HeatwaveError as exc:
                    problems.append(f"{where}: {exc.user_message}")
                    continue
                topic_id, topic_name = topic.id, topic.name
            key = (found.id, topic_id)
            if key in wanted:
                problems.append(f"{where}: the channel lists {topic_name or 'every topic'} a second time")
                continue
            wanted[key] = (SubscriptionSpec(found.id, kind, topic_id, entry.min_heat, entry.min_quality), topic_name)
        return wanted

    @staticmethod
    def _log_target(ref: ChannelRef, directory: ChannelDirectory, problems: list[str]) -> int | None:
        found = directory.find(ref)
        if found is None:
            problems.append(f"log_channel: no channel {ref.label()} in this server")
            return None
        if found.problem is not None:
            problems.append(f"log_channel: {found.problem}")
            return None
        return found.id


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
