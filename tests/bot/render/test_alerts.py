"""The /alerts replies as Discord and the console show them (bot.render.alerts)."""

from __future__ import annotations

from bot.render import alerts as alerts_text
from bot.render.message import Names, reply
from bot.services.alerts import AlertService, GuildAlerts, PauseResult
from db.models import SubscriptionRecord
from tests.cogs.test_alerts import NOW, record
from tests.support.alerts import StoryWriter

CONSOLE = Names(channel=lambda channel_id: "#console")


def subscription_text(sub: SubscriptionRecord) -> str:
    return reply(entries=[alerts_text.subscription_entry(sub)]).markdown()


def test_subscription_shows_failing_reason() -> None:
    line = subscription_text(record(failure_count=2, last_error="the channel no longer exists"))
    assert "failing (2×): the channel no longer exists" in line


def test_subscription_shows_auto_pause_reason() -> None:
    line = subscription_text(
        record(channel_paused_at=NOW, auto_paused_reason="the bot lacks a permission there", failure_count=5)
    )
    assert "paused automatically after repeated failures: the bot lacks a permission there" in line


def test_subscription_escapes_hostile_topic_names() -> None:
    line = subscription_text(record(topic_name="@everyone **bold**"))
    assert "**bold**" not in line.replace("\\*", "")
    assert "@everyone" not in line


def test_listing_fits_in_one_message() -> None:
    subs = tuple(record(id=i, channel_id=1000 + i, topic_name=f"Topic {i}" * 5) for i in range(200))
    text = alerts_text.listing(GuildAlerts(False, subs)).markdown()
    assert len(text) <= 2000
    assert "more" in text


def test_pause_explains_what_happens_to_new_stories() -> None:
    text = alerts_text.paused(PauseResult("guild", True, 3), None, pausing=True).markdown()
    assert "3 stories already queued will wait" in text
    assert "the hottest come in one message" in text


async def test_add_of_a_re_add_states_the_thresholds_now_and_what_changed(
    alert_service: AlertService, writer: StoryWriter
) -> None:
    writer.add(80, topics=["AI"])
    added = await alert_service.add_subscription(
        guild_id=1,
        channel_id=100,
        channel_kind="text",
        topic="AI",
        min_heat=100,
    )
    assert (
        alerts_text.added(added, 100)
        .markdown()
        .startswith("<#100> will now get new stories on **AI** with heat ≥ 100 and no quality filter.")
    )
    again = await alert_service.add_subscription(
        guild_id=1,
        channel_id=100,
        channel_kind="text",
        topic="AI",
        min_quality=50,
    )
    text = alerts_text.added(again, 100).markdown()
    assert text.startswith("<#100> now gets new stories on **AI** with heat ≥ 100 and quality ≥ 50.")
    assert "Changed: min_quality off → 50." in text
    cleared = await alert_service.add_subscription(
        guild_id=1,
        channel_id=100,
        channel_kind="text",
        topic="AI",
        min_quality=0,
    )
    cleared_text = alerts_text.added(cleared, 100).markdown()
    assert "with heat ≥ 100 and no quality filter. Changed: min_quality 50 → off." in cleared_text
    same = await alert_service.add_subscription(guild_id=1, channel_id=100, channel_kind="text", topic="AI")
    assert "Nothing changed." in alerts_text.added(same, 100).markdown()


def test_a_percentile_rule_shows_with_todays_line() -> None:
    line = subscription_text(record(min_heat=112, heat_percentile=10, topic_name="AI"))
    assert "heat ≥ 112 (top 10% of the last 30 days)" in line
    assert "heat ≥ 70 ·" in subscription_text(record(min_heat=70))


def test_the_console_listing_says_what_discord_says_with_names_for_mentions() -> None:
    sub = record(topic_name="AI", min_quality=40, failure_count=2, last_error="Missing Access", queued=3)
    listing = alerts_text.listing(GuildAlerts(True, (sub,)))
    discord_text, console_text = listing.markdown(), listing.plain(CONSOLE)
    assert discord_text.splitlines()[1] == "<#100> · **AI** · heat ≥ 70 · quality ≥ 40 · last post never · 3 queued"
    assert console_text.splitlines()[1] == "  #console · AI · heat ≥ 70 · quality ≥ 40 · last post never · 3 queued"
    assert "⚠ failing (2×): Missing Access" in discord_text
    assert "⚠ failing (2×): Missing Access" in console_text
    assert console_text.startswith("⏸ Alerts are paused for the whole server (/alerts resume to restart).")


def test_digest_list_with_nothing_says_how_to_add_one() -> None:
    from bot.render.digests import digest_listing

    assert "`/digest add`" in digest_listing([]).markdown()


def test_every_permission_refusal_names_the_channel_what_is_missing_and_the_command_to_rerun() -> None:
    from bot.render.refusals import cannot_post

    text = cannot_post("the role panel", 5, ["View Channel", "Send Messages"], "/roles panel")
    assert text == (
        "I can't post the role panel in <#5>: I'm missing View Channel, Send Messages there. Grant it to my role in"
        " that channel, then run `/roles panel` again."
    )


def test_summary_lines_read_the_same_on_discord_and_at_the_console() -> None:
    from bot.render.summaries import summary_messages, summary_text
    from tests.bot.render.test_stories import make_view

    stories = [make_view(id=n, title=f"Story {n}", link_url=f"https://news.example/{n}") for n in (1, 2)]
    ((content, carried),) = summary_messages("away", stories)
    assert carried == (1, 2)
    assert content.splitlines()[1] == "1. [Story 1](<https://news.example/1>) · heat 104 · Forbes"
    console = summary_text("away", stories).splitlines()
    assert console[0] == "🌙 While you were away · the hottest 2 held during quiet hours:"
    assert console[1] == "  1. Story 1 · https://news.example/1 · heat 104 · Forbes"
