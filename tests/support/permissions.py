"""File permissions that apply even to root, for tests of folders the ingester may not read.

Tests run as root, and root reads a `chmod 000` folder anyway: its capabilities CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH bypass permission checks. Dropping just those two makes the kernel check permissions as it
does for any user, so a listing fails with a real EACCES ("Permission denied"), as it would for the bot's user.
As another user, the permissions already apply and nothing is changed.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

_CAPABILITY_VERSION_3 = 0x20080522
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2
_BYPASS = (1 << _CAP_DAC_OVERRIDE) | (1 << _CAP_DAC_READ_SEARCH)
_PR_CAPBSET_DROP = 24


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


@contextmanager
def permissions_enforced() -> Iterator[None]:
    """Within the block, the calling thread is refused what its file permissions refuse (capabilities are
    per thread: run the code under test in this thread)."""
    if os.geteuid() != 0:
        yield
        return
    libc = _libc()
    header = _Header(_CAPABILITY_VERSION_3, 0)  # pid 0: the calling thread
    saved = (_Data * 2)()
    if libc.capget(ctypes.byref(header), saved) != 0:
        pytest.skip(f"cannot read this thread's capabilities: {os.strerror(ctypes.get_errno())}")
    lowered = (_Data * 2)(*(_Data(data.effective, data.permitted, data.inheritable) for data in saved))
    lowered[0].effective &= ~_BYPASS
    if libc.capset(ctypes.byref(header), lowered) != 0:
        pytest.skip(f"cannot drop capabilities: {os.strerror(ctypes.get_errno())}")
    try:
        yield
    finally:
        # Still permitted (only the effective set was lowered), so they can be raised again.
        if libc.capset(ctypes.byref(_Header(_CAPABILITY_VERSION_3, 0)), saved) != 0:
            raise OSError(ctypes.get_errno(), "cannot restore this thread's capabilities")


def enforce_permissions_in_child() -> None:
    """A subprocess `preexec_fn`: the child (and whatever it execs) is refused what file permissions refuse.

    An exec as root regains every capability in the bounding set, so the two are dropped from that set."""
    if os.geteuid() != 0:
        return
    libc = _libc()
    for capability in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "cannot drop a capability from the bounding set")


@contextmanager
def locked(folder: os.PathLike[str] | str) -> Iterator[None]:
    """`folder` with no permissions at all within the block; its permissions are restored afterwards."""
    mode = os.stat(folder).st_mode & 0o7777
    os.chmod(folder, 0)
    try:
        yield
    finally:
        os.chmod(folder, mode)
