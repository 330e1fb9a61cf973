"""Talking to the user: diagnostics on stderr, results on stdout, confirmation, Ctrl-C
handling. (The command-line options the commands share are in commands/_args.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import TextIO

from .errors import ExitCode, UserError


def in_ci(env=None) -> bool:
    """True when running in CI (CI=true, 1 or yes): prompts refuse, and tests that need a
    tool fail instead of skipping when it is missing."""
    return (os.environ if env is None else env).get("CI", "").lower() in ("1", "true", "yes")


def info(message: str = "", *, file: TextIO | None = None) -> None:
    """A diagnostic line on stderr."""
    print(message, file=file or sys.stderr, flush=True)


def emit_result(result: dict, as_json: bool, human_lines: Iterable[str]) -> None:
    """The result on stdout: JSON with ``--json``, else the human lines."""
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True, default=str))
    else:
        for line in human_lines:
            print(line)
    sys.stdout.flush()


@contextlib.contextmanager
def ctrl_c_deferred():
    """Within the block Ctrl-C (SIGINT) only takes note; it interrupts once the block is
    done. For clean-ups that must not be cut in half. Main thread only (elsewhere a
    no-op: Python delivers signals to the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught:
        raise KeyboardInterrupt


def format_elapsed(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:d}:{seconds % 60:02d}"


def confirm(question: str, *, yes: bool, what: str, stdin: TextIO | None = None,
            env: Mapping[str, str] | None = None, out: TextIO | None = None) -> None:
    """Return if confirmed (or ``yes``); raise ``UserError`` (ABORTED) otherwise.

    Never blocks on a prompt that nobody can answer: without a terminal on stdin, or
    with CI=true, it refuses with a sentence that names ``--yes``."""
    if yes:
        return
    stdin = stdin or sys.stdin
    env = os.environ if env is None else env
    if in_ci(env) or not _isatty(stdin):
        raise UserError(f"Refusing to {what} without confirmation: no terminal to ask on "
                        "(or CI=true); re-run with --yes to proceed.", ExitCode.ABORTED)
    out = out or sys.stderr
    out.write(f"{question} [y/N] ")
    out.flush()
    answer = stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise UserError(f"Aborted: did not {what}.", ExitCode.ABORTED)


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
