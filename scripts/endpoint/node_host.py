"""The template's CloudFront Functions, executed: one long-lived node child per model runs
their code (``node_host.js``, shipped beside this module). NOT the cloudfront-js-2.0
runtime: node runs the same ES 5.1 the functions use.

    host = FunctionHost({"ViewerRequestFunction": code, ...})
    request, response = host.run([("ViewerRequestFunction", request_event),
                                  ("ViewerResponseFunction", response_event_without_request)],
                                 now=time.time())
    host.close()

One ``run`` is one line to node and one line back, however many functions it chains: an
event without a ``request`` gets the request the function before it returned.

Concurrent calls are serialized: a lock orders the lines written, node handles one line at
a time and answers in that order, and a reader thread hands each answer to the oldest call
waiting. So several calls may be on their way at once, and node works through all that
have arrived each time it wakes (one round trip per call under a lock held until its answer
came was 1.5 times slower with 8 concurrent clients: tests/bench_preview.py). The child
ends when its stdin closes: ``close()``, or at interpreter exit at the latest.
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ..core.errors import ExitCode, UserError

HOST_SCRIPT = Path(__file__).with_name("node_host.js")
# A call not answered within this (a function that loops forever) stops the child; every
# later call then fails loudly. CloudFront itself stops a function after far less.
CALL_TIMEOUT_S = 5.0
NODE_MISSING = ("The preview runs the template's CloudFront Functions with node, and node is not "
                "installed (or not on PATH): install Node.js (Debian, Ubuntu: `apt-get install nodejs`).")


class _Reply:
    """One call's answer, once node has written it ("" when node is gone)."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.line = ""

    def set(self, line: str) -> None:
        self.line = line
        self.done.set()


def _read_replies(stdout: IO[str], pending: collections.deque[_Reply], lock: threading.Lock) -> None:
    """Hand each line node writes to the oldest call waiting; when node is gone, fail the rest."""
    try:
        for line in stdout:
            pending.popleft().set(line)
    except (OSError, ValueError):
        pass
    finally:
        stdout.close()
        with lock:
            while pending:
                pending.popleft().set("")


def _stop(proc: subprocess.Popen) -> None:
    """End the child: close its stdin (it exits at end of input); kill it if it will not."""
    assert proc.stdin is not None  # started with stdin=PIPE
    if proc.poll() is None:
        try:
            proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
    try:
        proc.stdin.close()
    except OSError:
        pass


class FunctionHost:
    """A node child that has loaded the function codes ``{name: code}``."""

    def __init__(self, codes: Mapping[str, str], node: str | None = None, timeout: float = CALL_TIMEOUT_S):
        node = node or shutil.which("node")
        if node is None:
            raise UserError(NODE_MISSING, ExitCode.CONFIG)
        if not HOST_SCRIPT.is_file():
            raise UserError(f"{HOST_SCRIPT} is missing: the installation is incomplete; reinstall "
                            "maintenance-endpoint.", ExitCode.ERROR)
        self._lock = threading.Lock()
        self._pending: collections.deque[_Reply] = collections.deque()
        self._timeout = timeout
        # stderr is the caller's: console.log of a function, or node's own last words.
        self._proc = subprocess.Popen([node, str(HOST_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True, encoding="utf-8")
        self._finalizer = weakref.finalize(self, _stop, self._proc)
        threading.Thread(target=_read_replies, args=(self._proc.stdout, self._pending, self._lock),
                         name="functions-replies", daemon=True).start()
        try:
            self._call({"load": dict(codes)}, "load the CloudFront Functions")
        except BaseException:
            self.close()
            raise

    def _call(self, message: dict[str, Any], what: str) -> dict[str, Any]:
        line = json.dumps(message) + "\n"
        reply = _Reply()
        with self._lock:  # lines leave in the order of self._pending, and come back in it
            self._pending.append(reply)  # before the line leaves: its answer may come at once
            assert self._proc.stdin is not None  # started with stdin=PIPE
            try:
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
            except (OSError, ValueError):  # a closed pipe: node is gone; the reader fails the call
                pass
        if not reply.done.wait(self._timeout):
            self._proc.kill()
            raise UserError(f"node took more than {self._timeout:g} s to {what} and was stopped.", ExitCode.ERROR)
        if not reply.line:
            raise UserError(f"node exited (status {self._proc.wait()}) when asked to {what}.", ExitCode.ERROR)
        answer = json.loads(reply.line)
        if "error" in answer:
            raise UserError(f"node could not {what}: {answer['error']}.", ExitCode.ERROR)
        return answer

    def run(self, steps: Sequence[tuple[str, Mapping[str, Any]]], now: float | None = None) -> list[dict[str, Any]]:
        """What each function's handler returns for its event, in one round trip; their
        Date.now() is ``now`` (seconds since the epoch; None: the real clock). The chain
        stops after a function that returns a response instead of a request."""
        names = " then ".join(name for name, _ in steps)
        message = {"run": steps, "now": None if now is None else round(now * 1000)}
        results = self._call(message, f"run {names}")["results"]
        for (name, _), result in zip(steps, results, strict=False):  # a chain may stop early
            if not isinstance(result, dict):
                raise UserError(f"{name} returned no request or response object (but {json.dumps(result)}).",
                                ExitCode.ERROR)
        return results

    def close(self) -> None:
        """Stop node (idempotent)."""
        self._finalizer()
