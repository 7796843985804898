"""Fault injection for REST routes: forced 5xx, forced 429s and added latency, matched by "METHOD /path" globs."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _split(route: str) -> tuple[str, str]:
    """"POST /channels/*/messages" -> ("POST", "/channels/*/messages"); a bare path matches any method."""
    route = route.strip()
    head, _, rest = route.partition(" ")
    if head.upper() in _METHODS and rest:
        method, path = head.upper(), rest.strip()
    else:
        method, path = "*", route
    if path.startswith("/api/v10"):
        path = path[len("/api/v10"):]
    return method, path


@dataclass
class Fault:
    """One armed fault; `times=None` means until removed. `fired` counts how often it struck."""

    kind: str
    method: str
    path: str
    times: int | None
    status: int = 500
    retry_after: float = 0.0
    global_: bool = False
    seconds: float = 0.0
    received: bool = False  # delay: the request reached Discord whole and takes effect even if the client hangs up
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        """True when this fault applies to the request and still has shots left."""
        if self.times is not None and self.fired >= self.times:
            return False
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.path)

    @property
    def exhausted(self) -> bool:
        """True once the fault has struck `times` times."""
        return self.times is not None and self.fired >= self.times


@dataclass
class FiredFault:
    kind: str
    method: str
    path: str
    status: int


@dataclass
class Faults:
    """Armed faults, checked in arming order; every strike is appended to `fired`."""

    armed: list[Fault] = field(default_factory=list)
    fired: list[FiredFault] = field(default_factory=list)

    def fail(self, route: str, status: int = 500, times: int | None = 1) -> Fault:
        """Answer matching requests with `status` (e.g. 500, 502, 503) and a Discord-like body, `times` times."""
        method, path = _split(route)
        fault = Fault("fail", method, path, times, status=status)
        self.armed.append(fault)
        return fault

    def rate_limit(self, route: str, retry_after: float = 1.5, times: int | None = 1, global_: bool = False) -> Fault:
        """Answer matching requests with a 429 (body retry_after/global, Retry-After and X-RateLimit-* headers)."""
        method, path = _split(route)
        fault = Fault("rate_limit", method, path, times, status=429, retry_after=retry_after, global_=global_)
        self.armed.append(fault)
        return fault

    def delay(self, route: str, seconds: float, times: int | None = None, *, received: bool = False) -> Fault:
        """Hold matching requests for `seconds` before handling them normally. A client that hangs up meanwhile
        cancels the request, unless `received`: Discord had all of it and acts on it with nobody waiting."""
        method, path = _split(route)
        fault = Fault("delay", method, path, times, seconds=seconds, received=received)
        self.armed.append(fault)
        return fault

    def disconnect(self, route: str, times: int | None = 1) -> Fault:
        """Drop matching requests' connections unhandled and unanswered, as a network cut or a dying proxy does (the
        client sees "Server disconnected"; the request is logged with status 0). aiohttp itself resends an
        idempotent request (GET, PUT, DELETE) once on a dropped connection: arm at least 2 shots to fail one call."""
        method, path = _split(route)
        fault = Fault("disconnect", method, path, times, status=0)
        self.armed.append(fault)
        return fault

    def clear(self) -> None:
        """Disarm every fault (the `fired` history is kept)."""
        self.armed.clear()

    def take(self, method: str, path: str) -> list[Fault]:
        """Faults that strike this request (at most one delay and one failure), consuming a shot from each."""
        delay: Fault | None = None
        failure: Fault | None = None
        for fault in self.armed:
            if not fault.matches(method, path):
                continue
            if fault.kind == "delay" and delay is None:
                delay = fault
            elif fault.kind != "delay" and failure is None:
                failure = fault
        struck = [f for f in (delay, failure) if f is not None]
        for fault in struck:
            fault.fired += 1
            self.fired.append(FiredFault(fault.kind, method, path, fault.status))
        return struck
