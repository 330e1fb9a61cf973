"""Figures for the proxy recipes, with the real nginx and HAProxy (bounded in count and time):

- failovers: CLIENTS clients send all 7 methods with a form body while the app is SIGKILLed
  and restarted CYCLES times; bad answers (neither the app's 200 nor the endpoint's 503) by
  method;
- flips: the maintenance switch flips FLIPS times under the same kind of load, from a public
  and an allowlisted client address; time from `switch on` to the first 503, bad answers by
  method.

    .venv/bin/python tests/bench_proxies.py [--kinds nginx haproxy] [--clients 16] [--cycles 5] [--flips 6]
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from support.proxy_harness import KINDS, PAGE, Load, Preview, Rig, find_program, searchable_tmpdir, wait_until  # noqa: E402
from test_switch import OFFICE, PUBLIC, SwitchRig  # noqa: E402


def seen(load: Load, label: str, since: float, count: int):
    return lambda: load.count(label, since=since) >= count


def failovers(kind: str, preview: Preview, clients: int, cycles: int) -> None:
    workdir = searchable_tmpdir()
    rig = Rig(kind, preview, workdir)
    rig.app.start()
    rig.proxy.start()
    load = Load(rig.url, PAGE, workers=clients, max_seconds=30 * cycles, max_requests=200_000).start()
    try:
        for _ in range(cycles):
            wait_until(seen(load, "app-200", time.monotonic(), 100), 20, "app answers")
            wait_until(seen(load, "maintenance-503", rig.app.kill(), 200), 20, "the page")
            wait_until(seen(load, "app-200", rig.app.start(), 200), 30, "app answers again")
    finally:
        result = load.stop()
        rig.close()
        shutil.rmtree(workdir)
    bad = result.bad()
    print(f"[{kind}] failovers: {cycles} kills under {clients} clients, {len(result.samples)} requests "
          f"{result.histogram()}; bad answers {len(bad)}, by method {result.bad_by_method()}", flush=True)


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
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--flips", type=int, default=6)
    args = parser.parse_args()
    preview_dir = searchable_tmpdir()
    preview = Preview(preview_dir)
    try:
        for kind in args.kinds:
            if find_program(kind) is None:
                print(f"[{kind}] not installed: skipped")
                continue
            failovers(kind, preview, args.clients, args.cycles)
            flips(kind, preview, args.clients, args.flips)
    finally:
        preview.close()
        shutil.rmtree(preview_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
