"""A pseudo-terminal and the screen a person would see on it, for driving the console playground by keyboard.

The program side gets the pty's slave end as stdin/stdout (a real terminal to prompt_toolkit); the test side
types into the master end and `pyte` renders what comes back, answering the terminal queries (cursor position)
the way a terminal emulator does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import struct
import termios
from typing import IO, Any

import pyte

from tests.support.polling import until

# Keys as a terminal sends them.
ENTER = "\r"
TAB = "\t"
LEFT = "\x1b[D"
UP = "\x1b[A"
CTRL_C = "\x03"
CTRL_D = "\x04"


class _AnsweringScreen(pyte.Screen):  # type: ignore[misc]
    """A screen that answers the program's queries (prompt_toolkit asks where the cursor is) on the master end."""

    def __init__(self, columns: int, lines: int, master: int) -> None:
        super().__init__(columns, lines)
        self._master = master

    def write_process_input(self, data: str) -> None:
        os.write(self._master, data.encode())


class PtyScreen:
    """A `columns` x `rows` terminal. Call `attach()` inside the test's event loop to start rendering."""

    def __init__(self, columns: int = 100, rows: int = 60) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        self.screen = _AnsweringScreen(columns, rows, self.master)
        self._stream = pyte.ByteStream(self.screen)
        self._loop: asyncio.AbstractEventLoop | None = None

    def program_streams(self) -> tuple[IO[str], IO[str]]:
        """stdin and stdout for a program run in this process (the pty's slave end, as text)."""
        stdin = open(self.slave, encoding="utf-8", closefd=False)  # noqa: SIM115 - closed with the pty
        stdout = open(self.slave, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        return stdin, stdout

    def attach(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._read)

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # the program side is gone (EIO): nothing more will come
            data = b""
        if not data:
            assert self._loop is not None
            self._loop.remove_reader(self.master)
            return
        self._stream.feed(data)

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    @property
    def lines(self) -> list[str]:
        """The screen's rows, trailing blanks removed."""
        return [row.rstrip() for row in self.screen.display]

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip("\n")

    @property
    def cursor_line(self) -> str:
        """The row the cursor is on: the prompt and what is typed at it."""
        return self.lines[self.screen.cursor.y]

    @property
    def before_cursor(self) -> str:
        """The cursor's row up to the cursor: exactly what has been typed at the prompt so far."""
        return self.screen.display[self.screen.cursor.y][: self.screen.cursor.x]

    async def wait_for(self, condition: Any, within: float = 10.0, what: str = "") -> None:
        """Wait until `condition` (a text that appears on screen, or a callable) holds."""
        if isinstance(condition, str):
            expected = condition

            def check() -> bool:
                return expected in self.text

            label = what or f"{expected!r} on screen"
        else:
            check = condition
            label = what or "the screen"
        try:
            await until(check, within, label)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen shows:\n{self.text}") from None

    def close(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.master)
        for fd in (self.master, self.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
