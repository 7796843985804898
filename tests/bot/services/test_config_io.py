"""Alert configuration export and import: round trip into another server, dry run, malformed files (both engines)."""

from __future__ import annotations

import json
import random

import pytest

from bot.clock import ManualClock
from bot.render.config import import_plan
from bot.render.message import Names
from bot.services.admin_log import AdminLog
from bot.services.alerts import AlertService
from bot.services.config_io import ConfigService, FoundChannel, ImportRefused, StaticDirectory, parse_config
from bot.services.digests import DigestService
from db.interfaces import Store
from tests.support.alerts import StoryWriter

SOURCE, TARGET = 1, 2
SOURCE_CHANNELS = StaticDirectory((
    FoundChannel(100, "news", "text"),
    FoundChannel(101, "ai-desk", "announcement"),
    FoundChannel(102, "mod-log", "text"),
))
# The other server has channels of the same names under other ids.
TARGET_CHANNELS = StaticDirectory((
    FoundChannel(200, "news", "text"),
    FoundChannel(201, "AI-Desk", "announcement"),
    FoundChannel(202, "mod-log", "text"),
    FoundChannel(203, "voice", None, "#voice is not a text, announcement or forum channel"),
))


class Recorder:
    def __init__(self) -> None:
        self.posts: list[tuple[int, str]] = []

    async def post_text(self, channel_id: int, text: str) -> None:
        self.posts.append((channel_id, text))


@pytest.fixture
def admin_log(store: Store, clock: ManualClock) -> AdminLog:
    return AdminLog(store, clock)


@pytest.fixture
def config(store: Store, alert_service: AlertService, admin_log: AdminLog, clock: ManualClock) -> ConfigService:
    return ConfigService(store, alert_service, admin_log, clock)


async def source_setup(alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter) -> None:
    writer.add(10, topics=("AI",))
    await alert_service.add_subscription(guild_id=SOURCE, channel_id=100, channel_kind="text", min_heat=80)
    await alert_service.add_subscription(
        guild_id=SOURCE, channel_id=101, channel_kind="announcement", topic="AI", min_heat=60, min_quality=40
    )
    await admin_log.set_channel(SOURCE, 102, 5)


def listing(subs: list) -> list[tuple]:  # type: ignore[type-arg]
    return [(s.channel_id, s.channel_kind, s.topic_name, s.min_heat, s.min_quality) for s in subs]


async def test_export_names_channels_by_id_and_name_in_a_versioned_document(
    config: ConfigService, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter
) -> None:
    await source_setup(alert_service, admin_log, writer)
    document = json.loads(await config.export(SOURCE, SOURCE_CHANNELS))
    assert (document["schema"], document["version"], document["guild"]) == ("heatwave.alerts", 1, {"id": "1"})
    assert document["subscriptions"] == [
        {"channel": {"id": "100", "name": "news"}, "kind": "text", "topic": None, "min_heat": 80, "min_quality": None},
        {"channel": {"id": "101", "name": "ai-desk"}, "kind": "announcement", "topic": "AI", "min_heat": 60,
         "min_quality": 40},
    ]
    assert document["log_channel"] == {"id": "102", "name": "mod-log"}


async def test_round_trip_into_another_server_dry_run_then_apply(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter
) -> None:
    await source_setup(alert_service, admin_log, writer)
    exported = await config.export(SOURCE, SOURCE_CHANNELS)
    recorder = Recorder()
    admin_log.poster = recorder

    dry = await config.plan(TARGET, exported, TARGET_CHANNELS, actor_id=9)
    shown = import_plan(dry, applied=False, how_to_apply=("dry_run:False",)).markdown()
    assert await store.subscriptions.for_guild(TARGET) == []  # a dry run changes nothing
    assert dry.changes == 3
    assert "Dry run: 3 changes would be made" in shown
    assert "+ add <#200> · every topic (heat ≥ 80)" in shown
    assert "+ add <#201> · AI (heat ≥ 60, quality ≥ 40)" in shown
    assert "~ alerts log: off → <#202>" in shown

    await config.apply(dry, told="imported the alerts")
    assert listing(await store.subscriptions.for_guild(TARGET)) == [
        (200, "text", None, 80, None),
        (201, "announcement", "AI", 60, 40),
    ]
    target_log = await store.admin_log.get(TARGET)
    assert target_log is not None
    assert (target_log.channel_id, target_log.set_by) == (202, 9)
    assert recorder.posts == [(202, "imported the alerts")]
    again = await config.plan(TARGET, exported, TARGET_CHANNELS)
    assert again.changes == 0
    assert "nothing to change" in import_plan(again, applied=False).plain(Names(channel=str))


async def test_import_changes_and_removes_what_the_file_says(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter
) -> None:
    await source_setup(alert_service, admin_log, writer)
    file = {
        "schema": "heatwave.alerts", "version": 1,
        "subscriptions": [{"channel": {"name": "news"}, "topic": None, "min_heat": 90, "min_quality": None}],
        "log_channel": None,
    }
    plan = await config.plan(SOURCE, json.dumps(file), SOURCE_CHANNELS)
    text = import_plan(plan, applied=True, how_to_apply=("--apply",)).plain(
        Names(channel=lambda c: f"#{SOURCE_CHANNELS.name_of(c)}")
    )
    assert "~ change #news · every topic: heat ≥ 80 → heat ≥ 90" in text
    assert "- remove #ai-desk · AI (heat ≥ 60, quality ≥ 40)" in text
    assert "~ alerts log: #mod-log → off" in text
    await config.apply(plan)
    assert listing(await store.subscriptions.for_guild(SOURCE)) == [(100, "text", None, 90, None)]
    assert await store.admin_log.get(SOURCE) is None


async def test_import_of_a_section_less_file_leaves_everything(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter
) -> None:
    await source_setup(alert_service, admin_log, writer)
    plan = await config.plan(SOURCE, '{"schema": "heatwave.alerts", "version": 1}', SOURCE_CHANNELS)
    assert plan.changes == 0
    assert plan.subscriptions == ()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "the file is not valid JSON (line 1, column 2)"),
        (b"\xff\xfe", "the file is not valid JSON"),
        ('{"schema": "something else", "version": 1}', "this is not a Heatwave alerts export"),
        ('{"schema": "heatwave.alerts", "version": 7}', "schema version 7 is not supported"),
        ('{"schema": "heatwave.alerts", "version": 1, "widgets": []}', "unknown section widgets"),
        ('{"schema": "heatwave.alerts", "version": 1, "subscriptions": {}}', "subscriptions: expected a list"),
        (
            '{"schema": "heatwave.alerts", "version": 1, "subscriptions": [{"channel": {"id": 12}, "min_heat": 900}]}',
            "subscriptions[1].min_heat: 900 is outside 0-500",
        ),
        (
            '{"schema": "heatwave.alerts", "version": 1, "subscriptions": [{"channel": {"id": "x1"}}]}',
            "subscriptions[1].channel.id: “x1” is not a Discord id",
        ),
    ],
)
def test_parse_refuses_malformed_files_with_a_clear_message(content: str | bytes, message: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        parse_config(content)
    assert message in refused.value.user_message
    assert refused.value.user_message.startswith("Nothing was imported:")


async def test_import_refuses_unknown_channels_and_topics_and_changes_nothing(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter
) -> None:
    await source_setup(alert_service, admin_log, writer)
    file = {
        "schema": "heatwave.alerts", "version": 1,
        "subscriptions": [
            {"channel": {"id": "999", "name": "gone"}, "min_heat": 70},
            {"channel": {"id": "200"}, "topic": "Astrology", "min_heat": 70},
            {"channel": {"name": "voice"}, "min_heat": 70},
            {"channel": {"name": "news"}, "min_heat": 70},
        ],
        "log_channel": {"id": "555"},
    }
    with pytest.raises(ImportRefused) as refused:
        await config.plan(TARGET, json.dumps(file), TARGET_CHANNELS)
    text = refused.value.user_message
    assert "subscriptions[1]: no channel #gone (999) in this server" in text
    assert "subscriptions[2]: No topic 'Astrology'" in text
    assert "subscriptions[3]: #voice is not a text, announcement or forum channel" in text
    assert "log_channel: no channel with id 555 in this server" in text
    assert "subscriptions[4]" not in text
    assert await store.subscriptions.for_guild(TARGET) == []


# ----- every section: percentile rules, channel settings, quiet hours, topic roles -------------------------------


async def full_setup(alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter, store: Store,
                     clock: ManualClock) -> int:
    for heat in range(100, 200, 10):  # AI's last 30 days: 100 .. 190, so top 20% is 180 today
        writer.add(heat, topics=("AI",))
    await alert_service.add_subscription(guild_id=SOURCE, channel_id=100, channel_kind="text", min_heat=80)
    await store.living.set_dedupe(100, False)  # what /alerts add … dedupe:false ping_heat:150 stores
    await store.roles.set_ping_heat(100, 150)
    await alert_service.add_subscription(guild_id=SOURCE, channel_id=101, channel_kind="announcement", topic="AI",
                                         min_heat="top20%")
    await alert_service.set_quiet(guild_id=SOURCE, channel_id=100, start="22:00", end="07:00",
                                  timezone="Europe/Berlin", breaking=160)
    topic = await store.lookups.topic_by_name("AI")
    assert topic is not None
    await store.roles.set_role(guild_id=SOURCE, topic_id=topic.id, role_id=777, now=clock.now())
    await admin_log.set_channel(SOURCE, 102, 5)
    digests = DigestService(store, clock, alerts=alert_service, rng=random.Random(3))
    await digests.add(guild_id=SOURCE, channel_id=100, channel_kind="text", every="weekly", day="friday", at="17:30",
                      timezone="Europe/Berlin", top=3, min_heat=90)
    await digests.add(guild_id=SOURCE, channel_id=101, channel_kind="announcement", topic="AI", min_heat="top20%")
    return topic.id


async def test_export_writes_every_section(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter,
    clock: ManualClock,
) -> None:
    await full_setup(alert_service, admin_log, writer, store, clock)
    document = json.loads(await config.export(SOURCE, SOURCE_CHANNELS))
    assert document["version"] == 1
    assert [s["min_heat"] for s in document["subscriptions"]] == [80, "top20%"]
    assert document["channels"] == [
        {"channel": {"id": "100", "name": "news"}, "dedupe": False, "ping_heat": 150},
        {"channel": {"id": "101", "name": "ai-desk"}, "dedupe": True, "ping_heat": None},
    ]
    assert document["quiet_hours"] == [
        {"channel": {"id": "100", "name": "news"}, "start": "22:00", "end": "07:00", "timezone": "Europe/Berlin",
         "breaking": 160}
    ]
    assert document["roles"] == [{"topic": "AI", "role": {"id": "777"}}]
    assert document["digests"] == [
        {"channel": {"id": "100", "name": "news"}, "kind": "text", "topic": None, "every": "weekly", "at": "17:30",
         "day": "friday", "timezone": "Europe/Berlin", "top": 3, "min_heat": 90},
        {"channel": {"id": "101", "name": "ai-desk"}, "kind": "announcement", "topic": "AI", "every": "daily",
         "at": "09:00", "day": None, "timezone": "UTC", "top": 5, "min_heat": "top20%"},
    ]


async def test_round_trip_of_every_section_into_another_server(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter,
    clock: ManualClock,
) -> None:
    topic_id = await full_setup(alert_service, admin_log, writer, store, clock)
    exported = await config.export(SOURCE, SOURCE_CHANNELS)
    dry = await config.plan(TARGET, exported, TARGET_CHANNELS)
    shown = import_plan(dry, applied=False, how_to_apply=("dry_run:False",)).markdown()
    assert "+ add <#201> · AI (heat ≥ top 20% (180 today))" in shown
    assert "~ channel <#200>: dedupe on, no pings → dedupe off, pings at heat ≥ 150" in shown
    assert "+ quiet hours <#200>: 22:00–07:00 Europe/Berlin, breaking ≥ 160" in shown
    assert "+ role AI: role 777" in shown
    assert "+ digest <#200>: every topic · weekly on Friday at 17:30 Europe/Berlin, top 3, heat ≥ 90" in shown
    assert "+ digest <#201>: AI · daily at 09:00 UTC, top 5, heat ≥ top 20% (180 today)" in shown
    assert dry.changes == 8
    assert await store.digests.for_guild(TARGET) == []
    assert await store.quiet_hours.for_guild(TARGET) == []  # a dry run changes nothing
    assert await store.roles.roles(TARGET) == []

    await config.apply(dry)
    subs = await store.subscriptions.for_guild(TARGET)
    assert [(s.channel_id, s.topic_name, s.min_heat, s.heat_percentile) for s in subs] == [
        (200, None, 80, None), (201, "AI", 180, 20)
    ]
    assert (await store.living.dedupe(200), await store.roles.ping_heat(200)) == (False, 150)
    assert (await store.living.dedupe(201), await store.roles.ping_heat(201)) == (True, None)
    [quiet] = await store.quiet_hours.for_guild(TARGET)
    assert (quiet.channel_id, quiet.start_minute, quiet.end_minute, quiet.timezone, quiet.breaking) == (
        200, 22 * 60, 7 * 60, "Europe/Berlin", 160
    )
    assert [(r.topic_id, r.role_id) for r in await store.roles.roles(TARGET)] == [(topic_id, 777)]
    target_digests = await store.digests.for_guild(TARGET)
    source_digests = await store.digests.for_guild(SOURCE)
    assert [(d.channel_id, d.every, d.minute, d.weekday, d.timezone, d.top, d.min_heat, d.heat_percentile,
             d.next_due_at) for d in target_digests] == [
        (200, "weekly", 17 * 60 + 30, 4, "Europe/Berlin", 3, 90, None, source_digests[0].next_due_at),
        (201, "daily", 9 * 60, None, "UTC", 5, 180, 20, source_digests[1].next_due_at),
    ]
    # The target now exports what the source did (its own channel ids).
    again = json.loads(await config.export(TARGET, TARGET_CHANNELS))
    source = json.loads(exported)
    for section in ("channels", "quiet_hours", "subscriptions", "digests"):
        for item in again[section] + source[section]:
            del item["channel"]["id"]
            item["channel"]["name"] = item["channel"]["name"].lower()
        assert again[section] == source[section]
    assert again["roles"] == source["roles"]
    assert (await config.plan(TARGET, exported, TARGET_CHANNELS)).changes == 0


async def test_import_sections_are_the_whole_truth_for_quiet_hours_roles_and_channels(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter,
    clock: ManualClock,
) -> None:
    await full_setup(alert_service, admin_log, writer, store, clock)
    file = {"schema": "heatwave.alerts", "version": 1, "channels": [], "quiet_hours": [], "roles": [],
            "digests": [{"channel": {"name": "news"}, "every": "hourly", "at": "00:15", "top": 10}],
            "subscriptions": [{"channel": {"name": "news"}, "min_heat": "top10%"},
                              {"channel": {"name": "ai-desk"}, "topic": "AI", "min_heat": 90}]}
    plan = await config.plan(SOURCE, json.dumps(file), SOURCE_CHANNELS)
    text = import_plan(plan, applied=False, how_to_apply=("--apply",)).plain(
        Names(channel=lambda c: f"#{SOURCE_CHANNELS.name_of(c)}")
    )
    assert "- quiet hours #news (22:00–07:00 Europe/Berlin, breaking ≥ 160)" in text
    assert "- role AI (role 777)" in text
    assert ("~ digest #news: every topic · weekly on Friday at 17:30 Europe/Berlin, top 3, heat ≥ 90 → every topic"
            " · hourly at :15 UTC, top 10, heat ≥ 70") in text
    assert "- digest #ai-desk (AI · daily at 09:00 UTC, top 5, heat ≥ top 20% (180 today))" in text
    assert "~ channel #news: dedupe off, pings at heat ≥ 150 → dedupe on, no pings" in text
    assert "~ change #news · every topic: heat ≥ 80 → heat ≥ top 10% (" in text
    assert "~ change #ai-desk · AI: heat ≥ top 20% (180 today) → heat ≥ 90" in text
    await config.apply(plan)
    assert await store.quiet_hours.for_guild(SOURCE) == []
    assert await store.roles.roles(SOURCE) == []
    assert [(d.channel_id, d.every, d.minute % 60, d.top, d.min_heat) for d in await store.digests.for_guild(SOURCE)
            ] == [(100, "hourly", 15, 10, 70)]
    assert (await store.living.dedupe(100), await store.roles.ping_heat(100)) == (True, None)
    subs = await store.subscriptions.for_guild(SOURCE)
    assert [(s.topic_name, s.heat_percentile) for s in subs] == [(None, 10), ("AI", None)]


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("subscriptions", [{"channel": {"id": "1"}, "min_heat": "top0%"}], "subscriptions[1].min_heat: "),
        ("subscriptions", [{"channel": {"id": "1"}, "min_heat": "80"}], "a whole number, or a share such as"),
        ("channels", [{"channel": {"id": "1"}, "dedupe": "yes"}], "channels[1].dedupe: true or false"),
        ("channels", [{"channel": {"id": "1"}, "ping_heat": -4}], "channels[1].ping_heat: -4 is outside"),
        ("channels", [{"channel": {"id": "1"}, "pings": 4}], "channels[1]: unknown field pings"),
        ("quiet_hours", [{"channel": {"id": "1"}, "start": "25:00", "end": "07:00"}], "quiet_hours[1].start: "),
        ("quiet_hours", [{"channel": {"id": "1"}, "start": "22:00", "end": "22:00"}], "start and end must differ"),
        ("quiet_hours", [{"channel": {"id": "1"}, "start": "22:00", "end": "07:00", "timezone": "Mars/Base"}],
         "quiet_hours[1].timezone: "),
        ("quiet_hours", {}, "quiet_hours: expected a list"),
        ("roles", [{"topic": "AI", "role": {"id": "abc"}}], "roles[1].role.id: “abc” is not a Discord id"),
        ("roles", [{"topic": "", "role": {"id": "5"}}], "roles[1].topic: a topic name"),
        ("digests", [{"channel": {"id": "1"}, "every": "monthly"}], "digests[1]: every must be one of"),
        ("digests", [{"channel": {"id": "1"}, "every": "daily", "day": "monday"}], "day only applies to weekly"),
        ("digests", [{"channel": {"id": "1"}, "top": 50}], "digests[1].top: 50 is outside 1-10"),
        ("digests", [{"channel": {"id": "1"}, "at": 9}], "digests[1]: every, at, day and timezone are text"),
        ("digests", [{"channel": {"id": "1"}, "min_heat": "top100%"}], "digests[1].min_heat: "),
    ],
)
def test_parse_refuses_malformed_sections(section: str, value: object, message: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        parse_config(json.dumps({"schema": "heatwave.alerts", "version": 1, section: value}))
    assert message in refused.value.user_message


async def test_import_refuses_unknown_channels_and_topics_in_every_section_and_changes_nothing(
    config: ConfigService, store: Store, alert_service: AlertService, admin_log: AdminLog, writer: StoryWriter,
    clock: ManualClock,
) -> None:
    await full_setup(alert_service, admin_log, writer, store, clock)
    file = {
        "schema": "heatwave.alerts", "version": 1,
        "channels": [{"channel": {"name": "gone"}, "dedupe": False}],
        "quiet_hours": [{"channel": {"name": "voice"}, "start": "22:00", "end": "07:00"}],
        "roles": [{"topic": "Astrology", "role": {"id": "5"}}],
        "digests": [{"channel": {"id": "999"}}, {"channel": {"name": "news"}, "topic": "Astrology"}],
    }
    with pytest.raises(ImportRefused) as refused:
        await config.plan(TARGET, json.dumps(file), TARGET_CHANNELS)
    text = refused.value.user_message
    assert "channels[1]: no channel #gone in this server" in text
    assert "quiet_hours[1]: #voice is not a text, announcement or forum channel" in text
    assert "roles[1]: No topic 'Astrology'" in text
    assert "digests[1]: no channel with id 999 in this server" in text
    assert "digests[2]: No topic 'Astrology'" in text
    assert await store.quiet_hours.for_guild(TARGET) == []


THREAD_SOURCE = StaticDirectory((FoundChannel(100, "news", "text"), FoundChannel(104, "stories", "forum")))
THREAD_TARGET = StaticDirectory((FoundChannel(200, "news", "text"), FoundChannel(204, "Stories", "forum")))


async def test_thread_options_travel_as_optional_subscription_fields(
    config: ConfigService, store: Store, alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(10, topics=("AI",))
    await alert_service.add_subscription(guild_id=SOURCE, channel_id=100, channel_kind="text", min_heat=80)
    await alert_service.add_subscription(guild_id=SOURCE, channel_id=104, channel_kind="forum", min_heat=90)
    await store.threads.set_options(100, threads=True, create_tags=None)
    await store.threads.set_options(104, threads=None, create_tags=True)
    document = json.loads(await config.export(SOURCE, THREAD_SOURCE))
    by_channel = {s["channel"]["id"]: dict(s) for s in document["subscriptions"]}

    plan = await config.plan(TARGET, json.dumps(document), THREAD_TARGET)
    shown = import_plan(plan, applied=False).plain(Names(channel=lambda c: f"#{THREAD_TARGET.name_of(c)}"))
    await config.apply(plan)
    imported = await store.threads.options([200, 204])
    for entry in document["subscriptions"]:  # a file without the fields: both off again
        entry.pop("threads", None)
        entry.pop("create_tags", None)
    await config.apply(await config.plan(TARGET, json.dumps(document), THREAD_TARGET))
    cleared = await store.threads.options([200, 204])

    assert (by_channel["100"].get("threads"), by_channel["100"].get("create_tags")) == (True, None)
    assert (by_channel["104"].get("threads"), by_channel["104"].get("create_tags")) == (None, True)
    assert "+ threads #news: threads on" in shown or "~ threads #news: threads off → threads on" in shown
    assert "threads #Stories: threads off → creates forum tags" in shown
    assert (imported[200].threads, imported[200].create_tags) == (True, False)
    assert (imported[204].threads, imported[204].create_tags) == (False, True)
    assert all(not o.threads and not o.create_tags for o in cleared.values())


async def test_import_refuses_create_tags_on_a_channel_without_tags(
    config: ConfigService, writer: StoryWriter
) -> None:
    writer.add(10, topics=("AI",))

    def document(**fields: object) -> str:
        entry = {"channel": {"id": "200"}, "min_heat": 80, **fields}
        return json.dumps({"schema": "heatwave.alerts", "version": 1, "subscriptions": [entry]})

    with pytest.raises(ImportRefused) as malformed:
        await config.plan(TARGET, document(threads="yes"), THREAD_TARGET)
    with pytest.raises(ImportRefused) as tagless:
        await config.plan(TARGET, document(create_tags=True), THREAD_TARGET)
    assert malformed.value.problems == ("subscriptions[1].threads: true or false",)
    assert tagless.value.problems == ("subscriptions[1].create_tags: only forum channels have tags",)
