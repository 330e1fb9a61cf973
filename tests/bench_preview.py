"""Benchmark: requests per second through `maintenance-endpoint preview` on loopback.

    .venv/bin/python tests/bench_preview.py [--requests 4000] [--concurrency 8] [--max-time 30]

Not a test (no ``test_`` prefix) and it asserts nothing about time: it prints figures.
The proxy load tests use the preview as their endpoint, so its throughput bounds what
they can push through a proxy.

It starts ``python -m scripts preview --port 0`` (plain HTTP on 127.0.0.1, the default
page) as a child process, then, for each of GET (served through the template's
viewer-request and viewer-response functions) and POST (S3 error -> custom error
response), sends ``--requests`` requests over ``--concurrency`` keep-alive connections
from as many client processes, over five paths, and stops at ``--max-time`` seconds
whatever the count. Every answer must be a 503, or the run says so. When ``hey`` is on
PATH it also runs ``hey -n N -c C`` against a GET path as a cross-check (hey's figure
is printed as hey prints it). Then it stops the preview.
"""
from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PATHS = ["/", "/maintenance.html", "/no/such/thing", "/a/b/c/d.php?x=1", "/odd%20chars/%C3%BC"]


def _client(port: int, method: str, count: int, deadline: float, out: multiprocessing.Queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = bad = 0
    body = b"x=1" if method == "POST" else None
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    while done < count and time.monotonic() < deadline:
        conn.request(method, PATHS[done % len(PATHS)], body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        bad += resp.status != 503
        done += 1
    conn.close()
    out.put((done, bad))


def client_loop(port: int, method: str, requests: int, concurrency: int, max_time: float) -> tuple[int, int, float]:
    """(answers, non-503 answers, seconds) for ``requests`` requests over ``concurrency``
    keep-alive connections, one client process each."""
    out: multiprocessing.Queue = multiprocessing.Queue()
    per = [requests // concurrency + (1 if i < requests % concurrency else 0) for i in range(concurrency)]
    start = time.monotonic()
    deadline = start + max_time
    procs = [multiprocessing.Process(target=_client, args=(port, method, n, deadline, out)) for n in per]
    for p in procs:
        p.start()
    results = [out.get(timeout=max_time + 30) for _ in procs]
    elapsed = time.monotonic() - start
    for p in procs:
        p.join()
    return sum(r[0] for r in results), sum(r[1] for r in results), elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-time", type=float, default=30.0)
    args = parser.parse_args()
    if not (1 <= args.requests <= 100_000 and 1 <= args.concurrency <= 64 and 0 < args.max_time <= 120):
        parser.error("bounds: 1 <= --requests <= 100000, 1 <= --concurrency <= 64, 0 < --max-time <= 120")
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    proc = subprocess.Popen([sys.executable, "-m", "scripts", "preview", "--port", "0"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            print(f"preview did not start: {line!r}", file=sys.stderr)
            return 1
        port = int(m.group(1))
        print(f"preview on 127.0.0.1:{port}; {args.requests} requests per method, "
              f"{args.concurrency} keep-alive connections (client processes), at most {args.max_time:g} s")
        for method in ("GET", "POST"):
            done, bad, elapsed = client_loop(port, method, args.requests, args.concurrency, args.max_time)
            print(f"python client, {method}: {done} answers in {elapsed:.2f} s = {done / elapsed:.0f} req/s"
                  + (f"; {bad} NOT 503" if bad else "; all 503"))
        hey = shutil.which("hey")
        if hey:
            out = subprocess.run([hey, "-n", str(args.requests), "-c", str(args.concurrency), "-t", "10",
                                  f"http://127.0.0.1:{port}/no/such/thing"],
                                 capture_output=True, text=True, timeout=args.max_time + 60, env=env).stdout
            rps = re.search(r"Requests/sec:\s*([\d.]+)", out)
            codes = re.findall(r"\[(\d{3})\]\s+(\d+) responses", out)
            print(f"hey -n {args.requests} -c {args.concurrency}, GET: "
                  f"{rps.group(1) if rps else '?'} req/s; statuses {dict(codes)}")
        else:
            print("hey not on PATH: no cross-check")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
