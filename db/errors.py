"""The one error type the store raises to its callers."""

from __future__ import annotations


class DatabaseError(RuntimeError):
    """The store cannot be opened, read or written (a fatal, user-facing problem).

    Messages name the store by its masked location (never a password) and say what failed.
    """


class StoreUnavailable(DatabaseError):
    """The store could not be reached for one operation (a dropped connection, a server restart).

    Raised only after the store's own reconnect attempts failed; the caller may try the operation again later.
    """
