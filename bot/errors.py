"""Domain errors. Services raise these; the one app-command error handler (and the console) shows
`user_message` to the person, ephemerally, and logs nothing alarming: they are expected outcomes."""

from __future__ import annotations


class HeatwaveError(Exception):
    """An expected, user-facing failure. `user_message` is safe to show as-is."""

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class NotFound(HeatwaveError):
    """Nothing matched (an unknown topic, story, ...); the message suggests what to try instead."""


class InvalidArgument(HeatwaveError):
    """An argument is out of range or malformed; the message says what is accepted."""


class PermissionDenied(HeatwaveError):
    """The invoking member (or the bot) lacks a permission; the message names it."""
