"""`HEATWAVE_METRICS_PORT`: `/metrics` (Prometheus) and `/healthz` served by the bot's own event loop.

`/healthz` answers 200 while the gateway is connected and both jobs (rescan, alert tick) finished within three of
their intervals, else 503 with a JSON reason, so an orchestrator restarts a bot that is stuck rather than slow.
`Operations.attach` wires both to a running HeatwaveBot through public hooks only: discord.py events
(connect, resume, disconnect, interactions and app-command completion/failure) and the jobs' observer.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import discord
from aiohttp import web
from discord import app_commands

from bot.client import COMMAND_FAILED_EVENT
from bot.clock import Clock
from bot.metrics import CONTENT_TYPE_LATEST, Metrics

if TYPE_CHECKING:
    from bot.client import HeatwaveBot
    from bot.ingest.pipeline import IngestReport
    from bot.services.alerts import TickReport
    from bot.services.digests import DigestTickReport

log = logging.getLogger(__name__)

# A job may be late by up to this many of its intervals before the bot counts as unhealthy: one missed run is
# a slow scan or a busy loop, three in a row is a stuck scheduler.
STALE_INTERVALS = 3
# Commands whose completion never arrives (the handler hung) are forgotten after this many starts.
MAX_PENDING_COMMANDS = 1000


@dataclass(frozen=True, slots=True)
class Health:
    """One `/healthz` answer."""

    healthy: bool
    reason: str | None
    details: dict[str, Any]

    def body(self) -> dict[str, Any]:
        """The JSON document: status, reason when unhealthy, and what was measured."""
        body: dict[str, Any] = {"status": "ok" if self.healthy else "unhealthy", **self.details}
        if self.reason is not None:
            body["reason"] = self.reason
        return body


class HealthState:
    """Whether the gateway is connected and when each job last finished (times from the injected clock)."""

    def __init__(self, clock: Clock, *, scan_seconds: int, post_seconds: int) -> None:
        self._clock = clock
        self._scan_every = timedelta(seconds=scan_seconds)
        self._post_every = timedelta(seconds=post_seconds)
        self._started = clock.now()
        self.connected = False
        self.last_scan: datetime | None = None
        self.last_tick: datetime | None = None

    def check(self) -> Health:
        """Healthy, or the first reason it is not."""
        now = self._clock.now()
        details: dict[str, Any] = {
            "gateway": "connected" if self.connected else "disconnected",
            "last_scan_seconds_ago": _age(now, self.last_scan),
            "last_post_tick_seconds_ago": _age(now, self.last_tick),
        }
        if not self.connected:
            return Health(False, "the Discord gateway is not connected", details)
        for what, last, every in (
            ("rescan", self.last_scan, self._scan_every),
            ("alert tick", self.last_tick, self._post_every),
        ):
            since = last if last is not None else self._started
            if now - since > every * STALE_INTERVALS:
                never = " since start" if last is None else ""
                seconds = int((now - since).total_seconds())
                reason = f"no {what} finished{never} for {seconds} s (every {int(every.total_seconds())} s expected)"
                return Health(False, reason, details)
        return Health(True, None, details)


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round((now - then).total_seconds(), 3)


class Operations:
    """Metrics and health for one bot: the event listeners, the jobs' observer and the HTTP server."""

    def __init__(self, metrics: Metrics, health: HealthState, clock: Clock) -> None:
        self.metrics = metrics
        self.health = health
        self._clock = clock
        self._started: dict[int, float] = {}
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # --- the jobs' observer (bot.scheduling.JobObserver) ---------------------------------------------------

    def scan_finished(self, report: IngestReport | None) -> None:
        """A rescan completed."""
        now = self._clock.now()
        self.health.last_scan = now
        self.metrics.scan_finished(report, now)

    def tick_finished(self, report: TickReport) -> None:
        """An alert tick completed."""
        now = self._clock.now()
        self.health.last_tick = now
        self.metrics.tick_finished(report, now)

    def digests_finished(self, report: DigestTickReport) -> None:
        """A digest tick completed."""
        self.metrics.digests_finished(report, self._clock.now())

    # --- wiring ---------------------------------------------------------------------------------------------

    def attach(self, bot: HeatwaveBot) -> None:
        """Listen to the bot's gateway and command events, observe its jobs, read its store and latency."""
        # Attached to a bot that is already up (tests), the next connect/disconnect event is not the first word.
        self.health.connected = bot.is_ready() and not bot.is_closed()
        bot.jobs.add_observer(self)
        bot.add_listener(self._on_connected, "on_connect")
        bot.add_listener(self._on_connected, "on_resumed")
        bot.add_listener(self._on_disconnect, "on_disconnect")
        bot.add_listener(self._on_interaction, "on_interaction")
        bot.add_listener(self._on_completion, "on_app_command_completion")
        bot.add_listener(self._on_failure, f"on_{COMMAND_FAILED_EVENT}")
        ledger = bot.services.store.ledger

        async def refresh() -> None:
            self.metrics.gateway_latency_now(bot.latency)
            self.metrics.deliveries_now(await ledger.pending_counts())

        self.metrics.on_scrape(refresh)

    async def _on_connected(self) -> None:
        self.health.connected = True

    async def _on_disconnect(self) -> None:
        self.health.connected = False

    async def _on_interaction(self, interaction: discord.Interaction[Any]) -> None:
        if interaction.type is not discord.InteractionType.application_command:
            return
        if len(self._started) >= MAX_PENDING_COMMANDS:
            self._started.clear()
        self._started[interaction.id] = time.perf_counter()

    def _finish(self, interaction: discord.Interaction[Any], *, ok: bool) -> None:
        started = self._started.pop(interaction.id, None)
        command = interaction.command
        if started is None or command is None:
            return
        self.metrics.command_finished(command.qualified_name, time.perf_counter() - started, ok=ok)

    async def _on_completion(
        self, interaction: discord.Interaction[Any], command: app_commands.Command[Any, ..., Any] | Any
    ) -> None:
        self._finish(interaction, ok=True)

    async def _on_failure(self, interaction: discord.Interaction[Any], error: Exception) -> None:
        self._finish(interaction, ok=False)

    # --- HTTP -----------------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application with `/metrics` and `/healthz`."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        return app

    async def start(self, host: str, port: int) -> int:
        """Serve on host:port (0: any free port) on the running loop; returns the port."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = [address for address in runner.addresses if isinstance(address, tuple)]
        self.port = int(bound[0][1]) if bound else port
        log.info("metrics on http://%s:%d/metrics, health on /healthz", host, self.port)
        return self.port

    async def stop(self) -> None:
        """Stop serving (idempotent)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        health = self.health.check()
        return web.Response(
            text=json.dumps(health.body()), status=200 if health.healthy else 503, content_type="application/json"
        )
