"""/roles: which role stands for a topic in a guild (pinged by breaking alerts, see `/alerts add … ping_heat`).

No Discord types here: the cog creates a role when none is given and checks the bot's permissions and place in
the role list; this service keeps the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.errors import NotFound
from bot.services.alerts import AlertService
from db.interfaces import Store
from db.models import TopicInfo, TopicRole

__all__ = ["MAX_TOPIC_ROLES", "RoleMapping", "RoleService", "TopicRole"]

# A panel of toggle buttons holds 25 (5 rows of 5); more mapped topics would not fit on one.
MAX_TOPIC_ROLES = 25


@dataclass(frozen=True, slots=True)
class RoleMapping:
    """A topic's role after /roles add, and the role it had before (None: none)."""

    topic: TopicInfo
    role_id: int
    previous_role_id: int | None


class RoleService:
    """A guild's topic roles; topic names are resolved like /alerts does (any case, "did you mean")."""

    def __init__(self, store: Store, clock: Clock, alerts: AlertService) -> None:
        self._roles = store.roles
        self._clock = clock
        self._alerts = alerts

    async def resolve_topic(self, name: str) -> TopicInfo:
        """The stored topic called `name`, or NotFound suggesting close ones."""
        return await self._alerts.resolve_topic(name)

    async def add(self, *, guild_id: int, topic: TopicInfo, role_id: int) -> RoleMapping:
        """Map the topic to the role (replacing its previous role) — at most MAX_TOPIC_ROLES topics per guild."""
        mapped = await self._roles.roles(guild_id)
        if len(mapped) >= MAX_TOPIC_ROLES and all(m.topic_id != topic.id for m in mapped):
            raise NotFound(
                f"This server already maps {MAX_TOPIC_ROLES} topics to roles (a role panel holds that many); "
                "remove one with /roles remove first."
            )
        previous = await self._roles.set_role(guild_id=guild_id, topic_id=topic.id, role_id=role_id,
                                              now=self._clock.now())
        return RoleMapping(topic, role_id, previous)

    async def remove(self, *, guild_id: int, topic: str) -> tuple[TopicInfo, int]:
        """Forget the topic's role; returns the topic and the role it had."""
        found = await self.resolve_topic(topic)
        role_id = await self._roles.remove_role(guild_id, found.id)
        if role_id is None:
            raise NotFound(f"{found.name} has no role in this server; /roles list shows the mapped topics.")
        return found, role_id

    async def list(self, guild_id: int) -> list[TopicRole]:
        """The guild's topic roles, by topic name."""
        return await self._roles.roles(guild_id)
