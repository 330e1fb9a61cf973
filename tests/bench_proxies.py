"""Figures for the proxy recipes, with the real proxies (bounded in count and time):

- first answers: the app is SIGKILLed (its port then refuses connections) and one GET is sent
  at once, TRIALS times per proxy (nginx, HAProxy, Caddy, the Worker in workerd; HAProxy also
  with --connect-timeout HAPROXY_CONNECT_TIMEOUT, see docs/proxies.md#haproxy): how long that
  first request takes to get its answer, median and max, and what the answers were;
- crash load: CLIENTS clients send GET and POST (with a form body) to each of those proxies
  while the app is SIGKILLed and restarted CYCLES times; answers by method, the bad ones
  (neither the app's 200 nor the endpoint's 503: another status, or a connection error)
  counted by what they were;
- failovers (nginx, HAProxy): CLIENTS clients send all 7 methods with a form body while the app is SIGKILLed
  and restarted CYCLES times; bad answers (neither the app's 200 nor the endpoint's 503) by
  method;
- flips: the maintenance switch flips FLIPS times under the same kind of load, from a public
  and an allowlisted client address; time from `switch on` to the first 503, bad answers by
  method.

    .venv/bin/python tests/bench_proxies.py [--parts first crash failovers flips] [--trials 5]
        [--proxies nginx haproxy caddy cloudflare] [--haproxy-connect-timeout 100ms]
        [--kinds nginx haproxy] [--clients 16] [--cycles 5] [--flips 6]
"""

from __future__ import annotations

import argparse
import collections
import itertools
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pytest  # noqa: E402
from support.conformance import RIGS, HAProxyRig, started  # noqa: E402
from support.proxy_harness import (  # noqa: E402
    KINDS,
    PAGE,
    Load,
    Preview,
    Rig,
    classify,
    find_program,
    searchable_tmpdir,
    send,
    wait_until,
)
from support.runtime_harness import running_preview  # noqa: E402
from test_switch import OFFICE, PUBLIC, SwitchRig  # noqa: E402

PARTS = ("first", "crash", "failovers", "flips")
# What the Worker's visitors send on Cloudflare (conformance.WorkerRig.request does the same).
WORKER_HEADERS = {"Host": "www.example.com", "CF-Connecting-IP": "192.0.2.1"}


def seen(load: Load, label: str, since: float, count: int):
    return lambda: load.count(label, since=since) >= count


def kill_cycles(load, rig, cycles: int) -> None:
    """Kill and restart the app `cycles` times under `load`, each step once the load saw its effect."""
    for _ in range(cycles):
        wait_until(seen(load, "app-200", time.monotonic(), 100), 20, "app answers")
        wait_until(seen(load, "maintenance-503", rig.app.kill(), 200), 20, "the page")
        wait_until(seen(load, "app-200", rig.app.start(), 200), 30, "app answers again")


def failovers(kind: str, preview: Preview, clients: int, cycles: int) -> None:
    workdir = searchable_tmpdir()
    rig = Rig(kind, preview, workdir)
    rig.app.start()
    rig.proxy.start()
    load = Load(rig.url, PAGE, workers=clients, max_seconds=30 * cycles, max_requests=200_000).start()
    try:
        kill_cycles(load, rig, cycles)
    finally:
        result = load.stop()
        rig.close()
        shutil.rmtree(workdir)
    bad = result.bad()
    print(f"[{kind}] failovers: {cycles} kills under {clients} clients, {len(result.samples)} requests "
          f"{result.histogram()}; bad answers {len(bad)}, by method {result.bad_by_method()}", flush=True)


def haproxy_with(connect_timeout: str) -> type[HAProxyRig]:
    """The matrix's HAProxy rig, its recipe generated with --connect-timeout `connect_timeout`."""
    class WithConnectTimeout(HAProxyRig):
        def generate(self, kind: str, *extra: str) -> str:
            return super().generate(kind, *extra, "--connect-timeout", connect_timeout)
    return WithConnectTimeout


def rig_or_skip(name: str, preview, rig_class=None):
    """The matrix's rig for `name`, started and settled; None (printed) when its runtime is missing."""
    try:
        if rig_class is None:
            return started(name, preview)
        rig = rig_class(preview)
        rig.start()
        rig.settle()
        return rig
    except pytest.skip.Exception as e:
        print(f"[{name}] skipped: {e}", flush=True)
        return None


def first_answers(name: str, preview, trials: int, rig_class=None, label: str = "") -> None:
    """Kill the app, send one GET at once: how long until it is answered, TRIALS times."""
    rig = rig_or_skip(name, preview, rig_class)
    if rig is None:
        return
    times, answers = [], collections.Counter()
    try:
        for _ in range(trials):
            rig.app.kill()  # returns once the app is gone: its port refuses connections
            started_at = time.monotonic()
            resp = exc = None
            try:
                resp = rig.request("GET", "/first-after-crash")
            except Exception as e:  # noqa: BLE001 (a connection error is one of the answers counted)
                exc = e
            times.append(time.monotonic() - started_at)
            answers[classify(resp, exc, PAGE)] += 1
            rig.app_up()  # restarted, and answering through the proxy again
    finally:
        rig.close()
    print(f"[{name}{label}] first answer after the app dies: median {1000 * statistics.median(times):.0f} ms, "
          f"max {1000 * max(times):.0f} ms over {trials} trials; answers {dict(answers)}", flush=True)


class CrashLoad(Load):
    """proxy_harness.Load with GET and POST only (each with the form body), and extra headers."""

    def __init__(self, url: str, workers: int, max_seconds: float, headers: dict[str, str]):
        super().__init__(url, PAGE, workers=workers, max_seconds=max_seconds, methods=("GET", "POST"))
        self.headers = headers

    def request(self, s, method: str, url: str):
        return send(s, method, url, headers=self.headers)


def crash_load(name: str, preview, clients: int, cycles: int) -> None:
    """GET and POST from CLIENTS clients while the app is killed and restarted CYCLES times."""
    rig = rig_or_skip(name, preview)
    if rig is None:
        return
    load = CrashLoad(rig.url, clients, 30 * cycles, WORKER_HEADERS if name == "cloudflare" else {}).start()
    try:
        kill_cycles(load, rig, cycles)
    finally:
        result = load.stop()
        rig.close()
    answers = {m: dict(collections.Counter(label for _, _, method, label in result.samples if method == m))
               for m in load.methods}
    bad = {m: sum(n for label, n in answers[m].items() if label not in ("app-200", "maintenance-503"))
           for m in load.methods}
    print(f"[{name}] crash load: {cycles} kills under {clients} clients, {len(result.samples)} requests; "
          f"bad answers by method {bad}; answers by method {answers}", flush=True)


def flips(kind: str, preview: Preview, clients: int, count: int) -> None:
    rig = SwitchRig(kind, preview)
    assert rig.switch("install").returncode == 0
    rig.app.start()
    rig.proxy.start()
    public = Load(rig.url, PAGE, workers=clients, max_seconds=60, max_requests=200_000, source=PUBLIC).start()
    office = Load(rig.url, PAGE, workers=max(1, clients // 4), max_seconds=60, max_requests=200_000,
                  source=OFFICE).start()
    to_first, command, after_write = [], [], []
    wall = time.time() - time.monotonic()  # monotonic + wall = wall-clock time (file mtimes)
    try:
        for _, action in zip(range(count), itertools.cycle(("on", "off"))):
            label = "maintenance-503" if action == "on" else "app-200"
            started = time.monotonic()
            assert rig.switch(action).returncode == 0
            returned = time.monotonic()
            wait_until(seen(public, label, returned, 20), 10, "the flip")
            first = min(end for start, end, _, lab in list(public.result.samples) if lab == label and start >= returned)
            command.append(returned - started)
            if action == "on":
                to_first.append(first - started)
                written = (rig.state_dir / "maintenance.on").stat().st_mtime - wall
                after_write.append(min(end for _, end, _, lab in list(public.result.samples)
                                       if lab == label and end >= written) - written)
    finally:
        pub, off = public.stop(), office.stop()
        rig.close()
    print(f"[{kind}] flips: {count} under {clients}+{max(1, clients // 4)} clients; `switch` command "
          f"median {1000 * statistics.median(command):.0f} ms; `switch on` started -> first 503 median "
          f"{1000 * statistics.median(to_first):.0f} ms, max {1000 * max(to_first):.0f} ms; state file written "
          f"-> first 503 median {1000 * statistics.median(after_write):.0f} ms, max {1000 * max(after_write):.0f} ms; public "
          f"{len(pub.samples)} requests {pub.histogram()}, bad by method {pub.bad_by_method()}; allowlisted "
          f"{len(off.samples)} requests {off.histogram()}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--proxies", nargs="+", choices=sorted(RIGS), default=sorted(RIGS),
                        help="for the first answers and the crash load")
    parser.add_argument("--trials", type=int, default=5, help="first answers per proxy (at most 20)")
    parser.add_argument("--haproxy-connect-timeout", default="100ms",
                        help="HAProxy's first answers again with this --connect-timeout ('' for none)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="for failovers and flips")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--flips", type=int, default=6)
    args = parser.parse_args()
    args.trials = max(1, min(args.trials, 20))
    matrix(args)
    preview_dir = searchable_tmpdir()
    preview = Preview(preview_dir)
    try:
        for kind in args.kinds:
            if find_program(kind) is None:
                print(f"[{kind}] not installed: skipped")
                continue
            if "failovers" in args.parts:
                failovers(kind, preview, args.clients, args.cycles)
            if "flips" in args.parts:
                flips(kind, preview, args.clients, args.flips)
    finally:
        preview.close()
        shutil.rmtree(preview_dir)
    return 0


def matrix(args: argparse.Namespace) -> None:
    """The first answers and the crash load, with the conformance matrix's rigs."""
    if "first" not in args.parts and "crash" not in args.parts:
        return
    preview_dir = searchable_tmpdir()
    try:
        with running_preview(preview_dir) as preview:
            for name in args.proxies:
                if "first" in args.parts:
                    first_answers(name, preview, args.trials)
                    if name == "haproxy" and args.haproxy_connect_timeout:
                        first_answers(name, preview, args.trials, haproxy_with(args.haproxy_connect_timeout),
                                      f" --connect-timeout {args.haproxy_connect_timeout}")
                if "crash" in args.parts:
                    crash_load(name, preview, args.clients, args.cycles)
    finally:
        shutil.rmtree(preview_dir)


if __name__ == "__main__":
    sys.exit(main())
