"""The gateway websocket: HELLO, IDENTIFY/READY/GUILD_CREATE, heartbeats, RESUME + replay, RECONNECT, INVALID_SESSION.

Transport compression follows the connect URL's `compress` query: `zlib-stream` is one zlib stream per connection,
each payload ended with Z_SYNC_FLUSH (what discord.py asks for without the zstandard package); `zstd-stream` is
served when `zstandard` is importable, otherwise payloads go out as uncompressed text frames, which discord.py
also accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)

JSON = dict[str, Any]

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9


class _Compressor:
    """Encodes outgoing payloads for one connection according to the requested transport compression."""

    def __init__(self, mode: str | None) -> None:
        self.mode = mode
        self._zlib: Any = None
        self._zstd: Any = None
        self._stdlib_zstd: Any = None
        if mode == "zlib-stream":
            self._zlib = zlib.compressobj()
        elif mode == "zstd-stream":
            # discord.py asks for zstd when `zstandard` (or Python 3.14's compression.zstd) is importable.
            try:
                import zstandard  # type: ignore[import-not-found, unused-ignore]
            except ImportError:
                try:
                    from compression import zstd  # type: ignore[import-not-found, unused-ignore]
                except ImportError:
                    log.warning("client asked for zstd-stream but no zstd library is installed; sending text frames")
                    self.mode = None
                else:
                    self._stdlib_zstd = zstd.ZstdCompressor()
                    self._stdlib_flush = zstd.ZstdCompressor.FLUSH_BLOCK
            else:
                self._zstd = zstandard.ZstdCompressor().compressobj()
                self._zstd_flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
        elif mode:
            log.warning("unknown gateway compression %r; sending plain text frames", mode)
            self.mode = None

    def encode(self, text: str) -> bytes | str:
        """Bytes for a compressed stream, else the text itself."""
        raw = text.encode()
        if self._zlib is not None:
            return bytes(self._zlib.compress(raw) + self._zlib.flush(zlib.Z_SYNC_FLUSH))
        if self._zstd is not None:
            return bytes(self._zstd.compress(raw) + self._zstd.flush(self._zstd_flush))
        if self._stdlib_zstd is not None:
            return bytes(self._stdlib_zstd.compress(raw, mode=self._stdlib_flush))
        return text


@dataclass
class Connection:
    """One live websocket."""

    ws: web.WebSocketResponse
    request: web.Request
    compressor: _Compressor
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: Session | None = None
    heartbeats: int = 0

    async def send(self, payload: JSON) -> None:
        """Serialise, compress (keeping the stream in order) and send one payload."""
        async with self.lock:
            await self.send_locked(payload)

    async def send_locked(self, payload: JSON) -> None:
        """send() for a caller that already holds the lock."""
        if self.ws.closed:
            return
        data = self.compressor.encode(json.dumps(payload, separators=(",", ":")))
        try:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(data)
        except (ConnectionError, RuntimeError) as exc:
            log.debug("gateway send failed: %s", exc)


@dataclass
class Session:
    """A gateway session: survives disconnects so RESUME can replay what the client missed."""

    id: str
    intents: int
    seq: int = 0
    backlog: list[tuple[int, str, JSON]] = field(default_factory=list)
    connection: Connection | None = None
    invalid: bool = False


class Gateway:
    """Accepts gateway connections for one bot token and dispatches events to the live session."""

    def __init__(
        self,
        *,
        token: str,
        heartbeat_interval: float,
        ready_payload: Callable[[Session], JSON],
        guild_payloads: Callable[[Session], list[JSON]],
        resume_url: Callable[[], str],
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self._ready_payload = ready_payload
        self._guild_payloads = guild_payloads
        self._resume_url = resume_url
        self._on_change = on_change
        self.sessions: dict[str, Session] = {}
        self.current: Session | None = None
        self.connections: list[Connection] = []
        self.identifies = 0
        self.resumes = 0
        self.failed_resumes = 0
        self.close_codes: list[int | None] = []
        self.compression: list[str | None] = []
        # False: new connections are refused with HTTP 503 before the upgrade, as during a gateway outage.
        self.accepting = True
        self.refused = 0

    # -- connection handling -------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The websocket endpoint."""
        if not self.accepting:
            self.refused += 1
            await self._on_change()
            raise web.HTTPServiceUnavailable(text="gateway unavailable (stand-in outage)")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        mode = request.query.get("compress")
        self.compression.append(mode)
        if request.query.get("encoding", "json") != "json":
            await ws.close(code=4002, message=b"only encoding=json is supported by the stand-in")
            return ws
        conn = Connection(ws=ws, request=request, compressor=_Compressor(mode))
        self.connections.append(conn)
        await conn.send({"op": OP_HELLO, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)}, "s": None,
                         "t": None})
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    payload = json.loads(msg.data)
                except ValueError:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                await self._on_payload(conn, payload)
        finally:
            self.close_codes.append(ws.close_code)
            if conn in self.connections:
                self.connections.remove(conn)
            if conn.session is not None and conn.session.connection is conn:
                conn.session.connection = None
            await self._on_change()
        return ws

    async def _on_payload(self, conn: Connection, payload: JSON) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            conn.heartbeats += 1
            await conn.send({"op": OP_HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            await self._on_change()
        elif op == OP_IDENTIFY:
            await self._identify(conn, data or {})
        elif op == OP_RESUME:
            await self._resume(conn, data or {})
        elif op == OP_REQUEST_MEMBERS:
            await self._members_chunk(conn, data or {})
        elif op in (OP_PRESENCE, OP_VOICE_STATE):
            return
        else:
            log.error("stand-in gateway: unknown opcode %r", op)
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: Connection, data: JSON) -> None:
        if conn.session is not None:
            await conn.ws.close(code=4005, message=b"Already authenticated.")
            return
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await conn.ws.close(code=4013, message=b"Invalid intent(s).")
            return
        self.identifies += 1
        # One bot, one shard: a new IDENTIFY (e.g. a restarted bot process) becomes the session events go to.
        # An older socket is left alone; it simply stops receiving events, and cannot RESUME any more.
        session = Session(id=uuid.uuid4().hex, intents=intents, connection=conn)
        conn.session = session
        self.sessions[session.id] = session
        self.current = session
        await self.dispatch("READY", self._ready_payload(session))
        for guild in self._guild_payloads(session):
            await self.dispatch("GUILD_CREATE", guild)
        await self._on_change()

    async def _resume(self, conn: Connection, data: JSON) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.invalid or session is not self.current:
            self.failed_resumes += 1
            await conn.send({"op": OP_INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        seq = data.get("seq") or 0
        if session.connection is not None and session.connection is not conn:
            await session.connection.ws.close(code=4000, message=b"Session resumed elsewhere.")
        self.resumes += 1
        async with conn.lock:
            # Under the lock, so an event dispatched meanwhile is neither lost nor sent ahead of the replay.
            missed = [(n, e, d) for n, e, d in session.backlog if n > seq]
            session.connection = conn
            conn.session = session
            for number, event, payload in missed:
                await conn.send_locked({"op": OP_DISPATCH, "t": event, "s": number, "d": payload})
        await self.dispatch("RESUMED", {})
        await self._on_change()

    async def _members_chunk(self, conn: Connection, data: JSON) -> None:
        guild_id = str(data.get("guild_id"))
        for guild in self._guild_payloads(conn.session) if conn.session else []:
            if guild["id"] == guild_id:
                chunk = {"guild_id": guild_id, "members": guild["members"], "chunk_index": 0, "chunk_count": 1,
                         "not_found": [], "nonce": data.get("nonce")}
                await self.dispatch("GUILD_MEMBERS_CHUNK", chunk)

    # -- server-initiated events -----------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the current session has a live websocket."""
        return self.current is not None and self.current.connection is not None

    async def dispatch(self, event: str, data: JSON) -> None:
        """Send an op-0 event on the current session; when disconnected it is kept for RESUME to replay."""
        session = self.current
        if session is None:
            log.warning("stand-in gateway: %s dropped, the bot never identified", event)
            return
        session.seq += 1
        session.backlog.append((session.seq, event, data))
        if session.connection is not None:
            await session.connection.send({"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data})

    async def drop(self, code: int | None = None) -> None:
        """Break the live socket: abruptly (no close frame) when `code` is None, else close with that code."""
        session = self.current
        conn = session.connection if session else None
        if conn is None:
            raise RuntimeError("no live gateway connection to drop")
        session.connection = None  # type: ignore[union-attr]
        if code is None:
            transport = conn.request.transport
            if transport is not None:
                transport.abort()
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1006)
        else:
            await conn.ws.close(code=code, message=b"stand-in drop")

    async def reconnect(self) -> None:
        """Send op 7 RECONNECT: the client closes and RESUMEs."""
        if self.current is None or self.current.connection is None:
            raise RuntimeError("no live gateway connection")
        await self.current.connection.send({"op": OP_RECONNECT, "d": None, "s": None, "t": None})

    async def invalidate(self, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; unless resumable, the session can no longer be resumed."""
        session = self.current
        if session is None or session.connection is None:
            raise RuntimeError("no live gateway connection")
        if not resumable:
            session.invalid = True
        await session.connection.send({"op": OP_INVALID_SESSION, "d": resumable, "s": None, "t": None})

    async def close_all(self) -> None:
        """Close every socket (server shutdown)."""
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"stand-in shutting down")
