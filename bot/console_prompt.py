"""Where the console playground reads lines and writes text: a line-editing prompt on a terminal, plain lines
from a pipe.

On a terminal (stdin and stdout both ttys) prompt_toolkit reads the line: arrow keys edit it, Up/Down walk the
history (kept in a file between runs), Tab completes command and option names, Ctrl-C clears the line and Ctrl-D on
an empty line leaves. Text that arrives while a line is being typed (an alert, a log warning) is printed above the
prompt, which is then drawn again with the half-typed line intact.

Anything else (tests, `heatwave run < script`, a pipe) is read line by line on a thread, as plain text.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TextIO

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import ANSI
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.input import create_input
from prompt_toolkit.output import create_output

log = logging.getLogger(__name__)

PROMPT = "heatwave> "


class Terminal(Protocol):
    """What the console needs from its terminal."""

    def write(self, text: str) -> None:
        """Print a block of text (a newline is added when it lacks one)."""

    async def read_line(self) -> str | None:
        """The next line the person entered; None at the end of input (Ctrl-D, a closed pipe)."""

    def complete(self, words: Mapping[str, Iterable[str]]) -> None:
        """Command names to complete, each with the option names (without the colon) it takes."""

    def close(self) -> None:
        """Stop reading; restore whatever the terminal changed."""


def open_terminal(stdin: TextIO, stdout: TextIO, *, history_file: Path | None = None) -> Terminal:
    """A line-editing prompt when both streams are a terminal, else plain line-by-line reading."""
    if _isatty(stdin) and _isatty(stdout):
        return PromptTerminal(stdin, stdout, history_file=history_file)
    return LineTerminal(stdin, stdout)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class LineTerminal:
    """Lines read on a daemon thread, so the event loop (and the alert jobs on it) keep running while we wait.

    A daemon thread never keeps the process alive: the end of the program does not wait for a person to press
    Enter. A prompt is shown only when stdin is a terminal (stdout is then a pipe or a file).
    """

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self._stdin = stdin
        self._out = stdout
        self._show_prompt = _isatty(stdin)
        self._queue: asyncio.Queue[str | None] | None = None

    def write(self, text: str) -> None:
        self._out.write(text if text.endswith("\n") else text + "\n")
        self._out.flush()

    def complete(self, words: Mapping[str, Iterable[str]]) -> None:
        """Plain lines have no completion."""

    async def read_line(self) -> str | None:
        if self._queue is None:
            self._queue = self._start_reader(asyncio.get_running_loop())
        if self._show_prompt:
            self._out.write(PROMPT)
            self._out.flush()
        line = await self._queue.get()
        if line is None and self._show_prompt:
            self._out.write("\n")
        return line

    def close(self) -> None:
        """The reader thread ends with its input; nothing to restore."""

    def _start_reader(self, loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        stdin = self._stdin

        def pump() -> None:
            try:
                for line in iter(stdin.readline, ""):
                    loop.call_soon_threadsafe(queue.put_nowait, line)
            except (OSError, ValueError) as exc:  # stdin closed under us
                log.debug("console input stopped: %s", exc)
            finally:
                with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is listening
                    loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=pump, name="console-input", daemon=True).start()
        return queue


class PromptTerminal:
    """prompt_toolkit's prompt: line editing, history, completion, and output that never tramples the prompt."""

    def __init__(self, stdin: TextIO, stdout: TextIO, *, history_file: Path | None = None) -> None:
        self._output = create_output(stdout)
        self._completer = CommandCompleter()
        self._session: PromptSession[str] = PromptSession(
            input=create_input(stdin),
            output=self._output,
            history=_history(history_file),
            completer=self._completer,
            complete_while_typing=False,  # Tab asks; a menu popping up at every key would hide the replies
            mouse_support=False,
        )
        self._logs = _LogsAbovePrompt(self)

    def write(self, text: str) -> None:
        """Print above the prompt when one is showing (it is drawn again below), else straight to the terminal.

        Story text is untrusted: prompt_toolkit prints escape characters as "?", so a story cannot move the cursor
        or recolour the terminal.
        """
        print_formatted_text(text.removesuffix("\n"), output=self._output)

    def write_log(self, text: str) -> None:
        """A log line: its colour codes (from the log formatter) are kept, other escape sequences dropped."""
        print_formatted_text(ANSI(text.removesuffix("\n")), output=self._output)

    def complete(self, words: Mapping[str, Iterable[str]]) -> None:
        self._completer.words = {name: tuple(options) for name, options in words.items()}

    async def read_line(self) -> str | None:
        self._logs.redirect()
        while True:
            try:
                # Ctrl-C reaches us as a key (the terminal is in raw mode) and clears the line: SIGINT handling is
                # left to the runner. Unhandled loop errors go to the log, not to a "Press ENTER" screen.
                return await self._session.prompt_async(PROMPT, handle_sigint=False, set_exception_handler=False)
            except KeyboardInterrupt:
                continue
            except EOFError:  # Ctrl-D on an empty line
                return None

    def close(self) -> None:
        self._logs.restore()


def _history(history_file: Path | None) -> History:
    if history_file is None:
        return InMemoryHistory()
    try:
        history_file.parent.mkdir(parents=True, exist_ok=True)
        history_file.touch(exist_ok=True)
    except OSError as exc:
        log.warning("console history is not kept: cannot write %s (%s)", history_file, exc)
        return InMemoryHistory()
    return FileHistory(history_file)


class _LogsAbovePrompt:
    """While the prompt runs, log handlers that write to the terminal write above the prompt instead."""

    def __init__(self, terminal: PromptTerminal) -> None:
        self._terminal = terminal
        self._moved: list[tuple[logging.StreamHandler[Any], Any]] = []

    def redirect(self) -> None:
        if self._moved:
            return
        for handler in _terminal_handlers():
            previous = handler.setStream(_LineWriter(self._terminal.write_log))
            if previous is not None:
                self._moved.append((handler, previous))

    def restore(self) -> None:
        for handler, stream in self._moved:
            handler.setStream(stream)
        self._moved.clear()


def _terminal_handlers() -> Iterator[logging.StreamHandler[Any]]:
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            stream = handler.stream
            if _isatty(stream):
                yield handler


class _LineWriter(io.TextIOBase):
    """A text stream for a log handler: each write (a whole record) goes to `emit`."""

    def __init__(self, emit: Callable[[str], None]) -> None:
        super().__init__()
        self._emit = emit

    def write(self, text: str) -> int:
        if text.strip():
            self._emit(text)
        return len(text)

    def isatty(self) -> bool:
        return True


class CommandCompleter(Completer):
    """Tab completion: the command name first, then the names of its options (`sort:`, `min_heat:` …)."""

    def __init__(self) -> None:
        self.words: dict[str, tuple[str, ...]] = {}

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        before = document.text_before_cursor.lstrip()
        word = document.get_word_before_cursor(WORD=True)
        folded = word.casefold()
        if " " not in before:
            # A command name is followed by a space, ready for its arguments.
            candidates: Iterable[tuple[str, str]] = ((name, f"{name} ") for name in self.words)
        elif ":" in word:  # typing a value: nothing to suggest
            return
        else:
            command = before.split(maxsplit=1)[0].casefold()
            candidates = ((f"{option}:", f"{option}:") for option in self.words.get(command, ()))
        for shown, text in candidates:
            if shown.casefold().startswith(folded):
                yield Completion(text, start_position=-len(word), display=shown)
