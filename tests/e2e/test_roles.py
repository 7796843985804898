"""/roles and breaking pings end to end: the real bot creates a topic role on the stand-in and pings exactly it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from tests.discord_standin import ChannelType
from tests.discord_standin.model import DEFAULT_BOT, Perm
from tests.e2e.harness import Harness
from tests.e2e.stories import Story
from tests.e2e.test_alerts import alerts_harness, post_now

pytestmark = pytest.mark.e2e


def grant_bot(h: Harness, extra: int) -> None:
    bot_role = next(r for r in h.guild.roles.values() if r.bot_id == h.standin.bot_user.id)
    h.standin.set_role_permissions(h.guild.id, bot_role.id, DEFAULT_BOT | extra)


def story(slug: str, heat: int, topics: tuple[str, ...] = ("AI",)) -> Story:
    return Story(slug=slug, title=f"Breaking story {slug}", topics=topics, heat=heat, quality=80)


async def test_e2e_a_breaking_story_pings_exactly_its_topics_role_once_per_window(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        grant_bot(h, Perm.MANAGE_ROLES)
        manager = h.standin.add_member(h.guild.id, "rita", permissions=Perm.MANAGE_ROLES | Perm.MANAGE_GUILD)
        other = h.standin.add_role(h.guild.id, "Cloud")
        created = await h.invoke("roles add", {"topic": "ai"}, user=manager)
        [ai_role] = [r for r in h.guild.roles.values() if r.name == "AI"]
        news = h.standin.add_channel(h.guild.id, "news", ChannelType.TEXT)
        added = await h.invoke("alerts add", {"channel": news, "min_heat": 80, "ping_heat": 100}, user=h.admin)
        await h.bot.jobs.post_alerts()
        h.add_story(story("first", 150))
        await post_now(h)
        h.add_story(story("second", 160))  # within 10 minutes of the first ping
        await post_now(h)
        clock.advance(timedelta(minutes=11))
        h.add_story(story("warm", 90))  # posted (≥ 80) but below the ping line
        await post_now(h)
        h.add_story(story("third", 120))
        await post_now(h)
        messages = {m.embeds[0]["title"]: m for m in h.standin.messages_in(news.id)}
        listing = await h.invoke("roles list", user=manager)
        refused = await h.invoke("roles add", {"topic": "AI"}, user=h.member)

    assert f"Created <@&{ai_role.id}> for **AI**" in created.content
    assert ai_role.mentionable
    assert "ping their topics' roles" in added.content
    pings = {title.split()[-1]: m.pings() for title, m in messages.items()}
    assert pings == {"first": {f"role:{ai_role.id}"}, "second": set(), "warm": set(), "third": {f"role:{ai_role.id}"}}
    allowed = messages["Breaking story first"].allowed_mentions or {}
    assert allowed.get("parse") == []  # never @everyone, users or every role: only the listed one
    assert [str(r) for r in allowed["roles"]] == [str(ai_role.id)]
    assert f"role:{other.id}" not in set().union(*pings.values())
    assert f"**AI** → <@&{ai_role.id}>" in listing.content
    assert "Manage Roles" in refused.content


async def test_e2e_roles_add_says_what_keeps_the_bot_from_using_a_role(tmp_path: Path, clock: ManualClock) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        manager = h.standin.add_member(h.guild.id, "rita", permissions=Perm.MANAGE_ROLES)
        needs_permission = await h.invoke("roles add", {"topic": "AI"}, user=manager)
        above = h.standin.add_role(h.guild.id, "Moderators")  # on top of the list, above the bot's role
        mapped = await h.invoke("roles add", {"topic": "AI", "role": above}, user=manager)

    assert "I need the Manage Roles permission to create a role" in needs_permission.content
    assert f"**AI** stories now ping <@&{above.id}>" in mapped.content
    assert "is not mentionable" in mapped.content
    assert "My role sits below" in mapped.content


async def test_e2e_roles_panel_buttons_toggle_the_role_and_survive_a_restart(
    tmp_path: Path, clock: ManualClock
) -> None:
    async with alerts_harness(tmp_path, clock) as h:
        grant_bot(h, Perm.MANAGE_ROLES)
        manager = h.standin.add_member(h.guild.id, "rita", permissions=Perm.MANAGE_ROLES)
        await h.invoke("roles add", {"topic": "AI"}, user=manager)
        [ai_role] = [r for r in h.guild.roles.values() if r.name == "AI"]
        lobby = h.standin.add_channel(h.guild.id, "lobby", ChannelType.TEXT)
        posted = await h.invoke("roles panel", {"channel": lobby}, user=manager)
        [panel] = h.standin.messages_in(lobby.id)
        joined = await h.standin.click(panel, f"heatwave:role:{ai_role.id}", h.member.id)
        after_join = h.standin.member_roles(h.guild.id, h.member.id)
        await h.restart()
        left = await h.standin.click(panel, f"heatwave:role:{ai_role.id}", h.member.id)
        after_leave = h.standin.member_roles(h.guild.id, h.member.id)

    assert "Posted a panel with 1 topic button" in posted.content
    assert [c["label"] for c in panel.components[0]["components"]] == ["AI"]
    assert joined.ephemeral
    assert "You now have" in joined.content
    assert ai_role.id in after_join
    assert "You no longer have" in left.content
    assert ai_role.id not in after_leave
