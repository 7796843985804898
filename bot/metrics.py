"""Heatwave's Prometheus metrics (`prometheus_client`), on a registry of their own (no process-wide globals).

What is counted comes from the outcomes the bot already produces: an alert tick's `TickReport`, a rescan's
`IngestReport`, and the app-command events of discord.py. Gauges that only the store knows (deliveries per
state) and the gateway latency are read when Prometheus scrapes (`refresh`), so they are never stale.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

if TYPE_CHECKING:
    from bot.ingest.pipeline import IngestReport
    from bot.services.alerts import TickReport
    from bot.services.digests import DigestTickReport

log = logging.getLogger(__name__)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# Slash commands answer in milliseconds to a few seconds (Discord's deadline for the first answer is 3 s).
COMMAND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
# A rescan of an unchanged folder takes well under a second; a first ingest of a big folder minutes.
SCAN_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
DELIVERY_STATES = ("queued", "claimed")
DIGEST_OUTCOMES = ("sent", "empty", "retrying", "failed", "skipped_late")


class Metrics:
    """Every Heatwave metric, registered on `registry`; `render()` is the `/metrics` body."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.alerts_posted = Counter("heatwave_alerts_posted", "Alerts posted to channels", registry=r)
        self.alerts_failed = Counter(
            "heatwave_alerts_failed",
            "Alert deliveries that failed, by reason: channel (deleted, missing permission), transient "
            "(timeout, 5xx, rate limit; retried), rejected (Discord refused that story; never retried)",
            ["reason"],
            registry=r,
        )
        self.alerts_published = Counter(
            "heatwave_alerts_published", "Announcement alerts published to followers", registry=r
        )
        self.channels_auto_paused = Counter(
            "heatwave_channels_auto_paused", "Channels paused automatically after repeated failures", registry=r
        )
        self.deliveries = Gauge(
            "heatwave_deliveries", "Alert deliveries not finished yet, by state", ["state"], registry=r
        )
        self.ingest_files = Counter(
            "heatwave_ingest_files", "Story files read by rescans, by outcome", ["outcome"], registry=r
        )
        self.scan_duration = Histogram(
            "heatwave_scan_duration_seconds", "How long a rescan of the news folder took", buckets=SCAN_BUCKETS,
            registry=r,
        )
        self.commands = Counter(
            "heatwave_commands", "Slash commands answered, by command and outcome (ok, error)",
            ["command", "outcome"], registry=r,
        )
        self.command_latency = Histogram(
            "heatwave_command_duration_seconds", "From receiving a slash command to finishing its handler",
            ["command"], buckets=COMMAND_BUCKETS, registry=r,
        )
        self.gateway_latency = Gauge(
            "heatwave_gateway_latency_seconds", "Time between a gateway heartbeat and its acknowledgement",
            registry=r,
        )
        self.last_scan = Gauge(
            "heatwave_last_scan_timestamp_seconds", "When the last rescan finished (Unix time)", registry=r
        )
        self.last_tick = Gauge(
            "heatwave_last_post_tick_timestamp_seconds", "When the last alert tick finished (Unix time)", registry=r
        )
        self.alert_edits = Counter(
            "heatwave_alert_edits", "Posted alerts edited to follow their story's heat (living posts)", registry=r
        )
        self.alerts_covered = Counter(
            "heatwave_alerts_covered",
            "Stories not posted because a recent post of the channel covers the same event (listed on that post)",
            registry=r,
        )
        self.summaries_sent = Counter(
            "heatwave_summaries_sent",
            "Summary messages sent: away after quiet hours, catch-up after a pause, roll-up of a backlog",
            registry=r,
        )
        self.digests = Counter(
            "heatwave_digests",
            "Digests due, by outcome: sent, empty (nothing to report: no message), retrying, failed, skipped_late "
            "(fell due while the bot was down, more than one period ago)",
            ["outcome"],
            registry=r,
        )
        self.last_digest_tick = Gauge(
            "heatwave_last_digest_tick_timestamp_seconds", "When the last digest tick finished (Unix time)", registry=r
        )
        for outcome in DIGEST_OUTCOMES:
            self.digests.labels(outcome)
        for outcome in ("added", "updated", "rejected"):
            self.ingest_files.labels(outcome)
        for reason in ("channel", "transient", "rejected"):
            self.alerts_failed.labels(reason)
        self._refreshers: list[Callable[[], Awaitable[None]]] = []

    # --- what happened -------------------------------------------------------------------------------------

    def tick_finished(self, report: TickReport, at: datetime) -> None:
        """Count one alert tick's outcomes."""
        self.alerts_posted.inc(report.sent)
        self.alerts_failed.labels("channel").inc(report.channel_faults)
        self.alerts_failed.labels("transient").inc(report.retrying)
        self.alerts_failed.labels("rejected").inc(report.rejected)
        self.alerts_published.inc(report.crossposted)
        self.channels_auto_paused.inc(len(report.auto_paused))
        self.alert_edits.inc(report.edited)
        self.alerts_covered.inc(report.covered)
        self.summaries_sent.inc(report.summaries)
        self.last_tick.set(at.timestamp())

    def digests_finished(self, report: DigestTickReport, at: datetime) -> None:
        """Count one digest tick's outcomes."""
        self.digests.labels("sent").inc(report.sent)
        self.digests.labels("empty").inc(report.empty)
        self.digests.labels("retrying").inc(report.retrying)
        self.digests.labels("failed").inc(report.failed)
        self.digests.labels("skipped_late").inc(report.skipped_late)
        self.last_digest_tick.set(at.timestamp())

    def scan_finished(self, report: IngestReport | None, at: datetime) -> None:
        """Count one rescan's files (None: the folder did not exist, so nothing was read)."""
        if report is not None:
            self.ingest_files.labels("added").inc(report.added)
            self.ingest_files.labels("updated").inc(report.updated)
            self.ingest_files.labels("rejected").inc(len(report.rejected))
            self.scan_duration.observe(report.seconds)
        self.last_scan.set(at.timestamp())

    def command_finished(self, command: str, seconds: float, *, ok: bool) -> None:
        """One slash command handled (`command` is its full name, e.g. "alerts add")."""
        self.commands.labels(command, "ok" if ok else "error").inc()
        self.command_latency.labels(command).observe(max(seconds, 0.0))

    def gateway_latency_now(self, seconds: float) -> None:
        """The client's current heartbeat latency (NaN or infinity before the first acknowledgement: left out)."""
        if math.isfinite(seconds):
            self.gateway_latency.set(seconds)

    def deliveries_now(self, counts: dict[str, int]) -> None:
        """The store's current count of unfinished deliveries per state."""
        for state in DELIVERY_STATES:
            self.deliveries.labels(state).set(counts.get(state, 0))

    # --- exposition -----------------------------------------------------------------------------------------

    def on_scrape(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Run `refresh` before each `render` (reads the store, the client's latency...)."""
        self._refreshers.append(refresh)

    async def render(self) -> bytes:
        """The text exposition format, after refreshing what is read at scrape time."""
        for refresh in self._refreshers:
            try:
                await refresh()
            except Exception:
                # A store that is briefly unreachable must not take the counters down with it.
                log.warning("could not refresh a metric before the scrape", exc_info=True)
        return generate_latest(self.registry)
