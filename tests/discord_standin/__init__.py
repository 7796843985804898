"""A local stand-in for the subset of Discord that Heatwave uses: REST under /api/v10 plus the gateway websocket.

Start it, point the real discord.py client at it, drive slash commands / autocomplete / buttons, then assert on what
the bot sent. Everything is in-process on 127.0.0.1 with an ephemeral port::

    async with StandIn(heartbeat_interval=0.25) as standin:          # token="standin-token" by default
        guild = standin.add_guild("Test")                             # @everyone, bot role, bot member, owner
        news = standin.add_channel(guild.id, "news", ChannelType.ANNOUNCEMENT)   # TEXT 0, ANNOUNCEMENT 5, FORUM 15
        admin = standin.add_member(guild.id, "alice", manage_guild=True)
        async with standin.running(HeatwaveBot(services)) as bot:   # patch_discord() + login + connect + on_ready
            result = await standin.invoke(guild.id, news.id, admin.id, "alerts add", {"channel": news, "min_heat": 80})
            assert result.in_time and result.ephemeral and "added" in result.content
        standin.assert_clean()                # no limit violations, unknown routes or late callbacks

    async with standin.running(client, *, fast=True, ready_timeout=10.0) -> client   (closes the client on exit)
        fast=True shortens two real-Discord waits: guild_ready_timeout (2 s before on_ready) and discord.py's 5 s
        sleep before a re-IDENTIFY. It raises at once if connect() dies (bad token, fatal close code).
    with standin.patch_discord(): ...   # only sets discord.http.Route.BASE / DiscordWebSocket.DEFAULT_GATEWAY
A bot in a subprocess (or the real runner) reads `standin.base_url` ("http://127.0.0.1:PORT/api/v10"),
`standin.gateway_url` ("ws://127.0.0.1:PORT/gateway") and `standin.token` via DISCORD_API_BASE /
DISCORD_GATEWAY_URL / DISCORD_TOKEN. World, messages and synced commands survive bot restarts (the stand-in is
Discord); a new process simply IDENTIFYs again.
Standalone: `python -m tests.discord_standin --port 8080 [--token T]` builds a demo guild, prints both URLs and the
ids; GET /_standin/state shows what happened, POST /_standin/invoke {"guild_id","channel_id","user_id","command",
"options"} runs a slash command and returns the reply.

World (sync methods; once the bot is connected they also dispatch the matching gateway event):
    add_guild(name="Heatwave Test", *, everyone_permissions=DEFAULT_EVERYONE, bot_permissions=DEFAULT_BOT,
              owner=None) -> Guild
    add_channel(guild_id, name, type=ChannelType.TEXT, *, overwrites=()) -> Channel
    add_member(guild_id, name, *, roles=(), manage_guild=False, permissions=None) -> Member   (.id is the user id)
    add_role(guild_id, name, permissions=0) -> Role;  set_role_permissions(guild_id, role_id, permissions)
    set_overwrite(channel_id, target_id, *, allow=0, deny=0, member=False)
    deny_bot(channel_id, "view_channel" | "send_messages" | "embed_links" | ...)    # member overwrite for the bot
    delete_channel(channel_id)                   # REST then answers 404 {"code": 10003}
    permissions(guild_id, user_id, channel_id=None) -> int;   Perm.MANAGE_GUILD etc. are the bits
    reset_publish_limits(channel_id=None)        # forget crossposts, as if the hour had passed
    standin.bot_user (.id), standin.application_id, standin.owner (guild owner by default: has every permission)

Interactions (each waits for the answer the user sees, else raises NoReply, an AssertionError):
    await invoke(guild_id, channel_id, user_id, "topic" | "alerts add", {"name": "AI"}, *, timeout=5.0,
                 validate=True) -> InteractionResult
        Options are typed from the synced command tree (guild commands first, then global); channel/user/role
        options accept a model object or an id and are sent with `resolved` data; validate=False lets a test send
        values the Discord client would refuse (below min_value, not in choices...). member.permissions and
        app_permissions are computed from roles and overwrites in that channel. An attachment option (type 11)
        takes an `Upload(filename, data, content_type=None)`: the file is stored, sent in `resolved.attachments`,
        and served at its url, like Discord's CDN.
    Files the bot uploads (multipart: payload_json + files[n], the payload's attachments referring to n) become
        attachment objects on the message (Message.attachments); `standin.file_content(attachment)` is their
        bytes. A file over 10 MiB gets 413 (code 40005).
    await autocomplete(guild_id, channel_id, user_id, command, {"name": "A"}, *, focused=None) -> list[dict]
    await click(result_or_message, custom_id, user_id, *, values=None) -> InteractionResult
    "Answered" means callback 4/7/8/9, or 5/6 followed by an @original edit or a followup.
    InteractionResult: .id .callback_type .ack_seconds .in_time (callback within 3 s) .deferred .message (Message,
        current state of @original; for clicks the clicked message) .content .embeds .components .ephemeral
        .followups .choices .custom_ids() .text() .record (InteractionRecord: .events, .payload, .late_callback)
    A callback later than `interaction_deadline` (3 s) gets 404 Unknown interaction and shows in problems().
    A callback-6 click that never edits or follows up cannot be told apart from a slow one: it raises NoReply.
    Guild interactions only (no DMs). The stand-in does NOT enforce default_member_permissions (the Discord client
    would hide the command): tests can check the bot's own run-time check. Resolved channels carry the *invoking
    user's* permissions (as on Discord); the bot's are in app_permissions / channel.permissions_for(guild.me).
    Interaction responses need no channel permission (as on Discord); channel.send does.

Recording and queries:
    standin.sent: list[SentEvent(kind, body, channel_id, message_id, interaction_id, at)] in order; kinds: message,
        message_edit, message_delete, callback, original_edit, original_delete, followup, followup_edit,
        followup_delete, thread, thread_start, channel_edit, crosspost, command_sync, role_create, member_roles.
    messages_in(channel_id, *, include_ephemeral=False, include_deleted=False) -> list[Message] (oldest first)
    Message: .id .channel_id .data (JSON as Discord returns it) .sent (last body the bot sent: allowed_mentions...)
        .content .embeds .components .flags .ephemeral .crossposted .deleted .edits .allowed_mentions
        .pings() -> {"everyone", "user:<id>", "role:<id>"} that Discord would notify (a role only when it is
        mentionable or the bot has Mention @everyone in the channel) .custom_ids() .button(label)
        .text()
    member_roles(guild_id, user_id) -> list[int]   (after the bot's PUT/DELETE .../members/{id}/roles/{id})
    threads_in(forum_id) -> list[Channel] (forum posts; the starter message is messages_in(thread.id)[0] and, as on
        Discord, has the thread's id; GET /guilds/{id}/threads/active lists them). Also the threads started on a
        text/announcement channel's messages (POST .../messages/{mid}/threads: type 11, or 10 in an announcement
        channel, with the message's id; a second one is 400 160004; needs Create Public Threads; not in forums
        50024); posting in any thread needs Send Messages in Threads.
    add_forum_tags(forum_id, *names, moderated=False) -> the tags added (a forum's available_tags); tag_names(thread_id)
        -> the names of a forum post's applied_tags. POST /channels/{forum}/threads takes applied_tags (<= 5, each a
        tag of the forum, else 400 50035); PATCH /channels/{id} (Manage Channels) sets a name and a forum's
        available_tags (<= 20, names 1..20; a tag without an id gets one) and dispatches CHANNEL_UPDATE.
    events_for(interaction_id); standin.interactions: dict[int, InteractionRecord]
    standin.global_commands / standin.guild_commands[guild_id] (synced JSON with ids) / standin.command_syncs
    standin.violations: list[Violation] (400s for broken limits); standin.unknown_routes; problems(); assert_clean()
    standin.requests: list[RequestLog(method, path, status, at, scope)]; requests_to("POST /channels/*/messages")
        (scope of a 429: "global" or "user")
        (`at` is time.monotonic() on arrival: measure retry waits as requests[i+1].at - requests[i].at)
    await wait_for_message(channel_id, predicate=None, timeout=5.0) -> Message   (oldest visible match; waits)
    await wait_for(lambda: ..., timeout=5.0)   (re-evaluated after every request, gateway change and every 50 ms,
        so it may also watch the bot's own cache, e.g. lambda: bot.get_channel(cid) is not None)

Faults (routes are "METHOD /path-glob" without /api/v10, or just "/path-glob" for any method; `*` spans slashes):
    standin.faults.fail("POST /channels/*/messages", status=500, times=1) -> Fault (.fired counts strikes)
    standin.faults.rate_limit(route, retry_after=1.5, times=1, global_=False)   # 429 + Retry-After/X-RateLimit-*/Via
    standin.faults.delay(route, seconds, times=None, received=False) (received: the held request takes effect even
        if the client hangs up);  standin.faults.clear();  standin.faults.fired
    standin.faults.disconnect(route, times=1)   # the connection drops unanswered (network cut); logged as status 0
    Note discord.py retries 500/502/504 (sleeping 1 s, 3 s, ...) but raises at once on 503; interaction webhooks
    retry every 5xx. Normal responses carry X-RateLimit-* headers (StandIn(rate_limit=(50, 1.0)) per route bucket,
    enforced with a 429); crossposts are limited to StandIn(publish_limit=(10, 3600.0)) per channel with a 429
    whose retry_after is the real wait - give the bot max_ratelimit_timeout or it will sleep that long.
    Discord's own limits: StandIn(**DISCORD_RATE_LIMITS) = global_limit=(50, 1.0) per bot token over every route
    but interaction callbacks/webhooks (over it: 429 {"global": true}, X-RateLimit-Global: true, Scope: global, no
    bucket headers) and route_limits={"POST /channels/{cid}/messages": (5, 5.0), "POST /channels/{cid}/threads":
    (5, 5.0)} per channel; every other route keeps `rate_limit`. Buckets of one route share one X-RateLimit-Bucket.

Sharding (as Discord): StandIn(shards=N) is what GET /gateway/bot recommends (default: one per 1,000 servers);
IDENTIFY's `shard: [i, n]` gets READY/GUILD_CREATE for shard i's servers only ((guild_id >> 22) % n == i) and every
guild event (interactions included) goes only to the owning shard's session; non-guild events go to shard 0. A bad
shard field closes with 4010 "Invalid shard.", more than StandIn(max_guilds_per_shard=2500) servers on one session
with 4011 "Sharding required." (both kept in gateway.refused_shards). add_guild(..., shard=(i, n)) picks an id that
shard i owns. gateway.live: {shard id: Session (.shard == (i, n))}; gateway.shards_connected; drop_gateway,
request_reconnect and invalidate_session take shard= (default: the latest session to IDENTIFY).

Gateway:
    await drop_gateway(code=None)   # None: abrupt TCP abort; 4000: resumable close; 4004: fatal
    await request_reconnect()       # op 7;   await invalidate_session(resumable=False)   # op 9
    await dispatch(event, data)     # any raw event
    await wait_until_connected(timeout=10.0); await wait_for_resume(count=1, timeout=10.0)
    standin.gateway.identifies / .resumes / .failed_resumes / .connected / .compression (per connect)
    standin.gateway.accepting = False   # an outage: new connections get HTTP 503 (counted in .refused) until True
    Events dispatched while the bot is disconnected are replayed on RESUME, as Discord does. The bot also receives
    MESSAGE_CREATE/UPDATE/DELETE for its own visible messages (GUILD_MESSAGES intent), THREAD_CREATE for forum
    posts and started threads (with MESSAGE_UPDATE of the message, which gets a `thread`),
    CHANNEL_CREATE/UPDATE/DELETE and GUILD_ROLE_* for world changes. Transport compression: zlib-stream
    (Z_SYNC_FLUSH per payload) or zstd-stream, whichever discord.py asks for.

Roles: POST /guilds/{id}/roles needs Manage Roles (403 50013), creates the role at position 1 (the bottom, below
the bot's role, as Discord does), 250 at most (30005); PUT/DELETE /guilds/{id}/members/{uid}/roles/{rid} need Manage
Roles and a role below the bot's highest role, never @everyone or a managed role (403 50013); unknown role 404 10011.
Clock: every REST answer carries a `Date` header (HTTP-date, whole seconds); StandIn(clock_offset=S) or
standin.clock_offset = S makes Discord's clock run S seconds ahead of this machine (negative: behind).

Permission errors on channel routes: unknown/deleted 404 {"code": 10003}; no View Channel 403 {"code": 50001};
no Send Messages (or no Embed Links when sending embeds) 403 {"code": 50013, "message": "Missing Permissions"}.
Validation (400 {"code": 50035, "errors": {...}} and a Violation): content 2000; embeds <= 10, title 256,
description 4096, fields <= 25, field name 256 / value 1024 (non-empty), footer 2048, author 256, 6000 in total;
embed/thumbnail/image/author/footer URLs http(s) or attachment://; colour; timestamp; empty message; flags;
allowed_mentions present (team rule; `require_allowed_mentions=False` to relax) and well formed; components (5 rows,
5 buttons or 1 select per row, custom_id <= 100 and unique, label <= 80, link buttons); autocomplete <= 25 choices,
name/value <= 100; forum thread name 1..100 and a valid starter message; command sync (names, descriptions,
option nesting/order/limits, choices, 4000 characters per command, duplicate names).
"""

from .faults import Fault, Faults
from .model import (
    DEFAULT_BOT,
    DEFAULT_EVERYONE,
    Channel,
    ChannelType,
    Guild,
    Member,
    Message,
    Overwrite,
    Perm,
    Role,
    User,
)
from .server import (
    DISCORD_RATE_LIMITS,
    InteractionRecord,
    InteractionResult,
    NoReply,
    RequestLog,
    SentEvent,
    StandIn,
    Upload,
    Violation,
)

__all__ = [
    "DEFAULT_BOT",
    "DEFAULT_EVERYONE",
    "DISCORD_RATE_LIMITS",
    "Channel",
    "ChannelType",
    "Fault",
    "Faults",
    "Guild",
    "InteractionRecord",
    "InteractionResult",
    "Member",
    "Message",
    "NoReply",
    "Overwrite",
    "Perm",
    "RequestLog",
    "Role",
    "SentEvent",
    "StandIn",
    "Upload",
    "User",
    "Violation",
]
