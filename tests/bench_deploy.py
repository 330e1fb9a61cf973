"""Benchmark: the no-op redeploy and the page-update path, against LocalStack.

    .venv/bin/python tests/bench_deploy.py [--reps 5]

Not a test (pytest does not collect it: no ``test_`` prefix) and it asserts nothing
about time: it prints figures. It starts its own LocalStack (tests/support/localstack.py:
own network namespace, loopback only) and a moto server, and stops both.

What it measures, several repetitions each, medians:

1. No-op redeploy of one stack (same template, same parameters), three ways, in
   turn within each repetition so they see the same machine load:
   - ``scripts.aws.deployer.deploy()`` in-process (the Python API);
   - ``python -m scripts deploy --stack-name S`` (what a user runs as
     ``maintenance-endpoint deploy``);
   - ``aws cloudformation deploy --template-file template.json --stack-name S
     --no-fail-on-empty-changeset`` (AWS CLI v1, the same template).
   Wall time of each; API calls and write calls of each, counted on the server side
   from LocalStack's request log (one line per AWS request it answers), which works
   the same for any client. For the in-process run they are also counted with
   botocore ``before-send`` event hooks (every HTTP request, retries included), as
   a cross-check of the server-side count.
2. The page-update path: only the page changed (two page variants, alternating).
   Calls per service and writes. LocalStack has no CloudFront (its stack outputs say
   DistributionId "unknown"), so the cloudfront client of this in-process run talks
   to a moto server holding one distribution, and a botocore
   ``before-parameter-build`` hook on that client maps the id "unknown" to it; the
   CloudFront calls are counted with hooks on that client. moto completes an
   invalidation at once, so no GetInvalidation poll appears here; on AWS
   deploy polls GetInvalidation until Completed (``--no-wait`` skips it).
3. The no-op right after a page change (deploy then checks, with one
   ListInvalidations and one GetInvalidation, that an invalidation covering the page
   path was made after the recent upload).

What carries over to AWS: the call counts. Wall times here exclude CloudFormation's
real latency: LocalStack computes a change set before answering CreateChangeSet, so
the CLI's first DescribeChangeSet already sees FAILED "no changes"; on AWS a change
set takes seconds to compute and the CLI's change-set waiter polls every 5 s
(awscli/customizations/cloudformation/deployer.py), so its no-op is slower there than
shown, while deploy's three reads cost the same. On LocalStack both commands'
wall times are mostly process start-up (printed for context).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]


from support import localstack as ls_harness
from support.envs import AWS_CLI

from scripts.aws.clients import Clients
from scripts.aws.deployer import deploy
from scripts.aws.page import DEFAULT_CONTENT
from scripts.template import build_template

AWS = AWS_CLI
STACK = "bench-maint"
READ_PREFIXES = ("Describe", "Get", "List", "Head", "Validate", "Estimate")


def is_write(call: str) -> bool:
    return not call.split(".", 1)[-1].startswith(READ_PREFIXES)


class HookCounter:
    """Counts every HTTP request a set of boto3 clients sends (botocore ``before-send``)."""

    def __init__(self, *clients):
        self.calls: list[str] = []
        for c in clients:
            service = c.meta.service_model.service_name
            c.meta.events.register(
                "before-call", lambda model, _s=service, **_: self._op(_s, model.name))
            c.meta.events.register("before-send", self._send)
        self._pending: list[str] = []

    def _op(self, service, name):
        self._pending.append(f"{service}.{name}")

    def _send(self, request, **_):
        # one entry per HTTP request (a retried call counts each attempt)
        self.calls.append(self._pending[-1] if self._pending else "?")

    def take(self) -> list[str]:
        calls, self.calls, self._pending = self.calls, [], []
        return calls


def median(xs):
    return statistics.median(xs)


def run(cmd, env):
    t0 = time.monotonic()
    proc = subprocess.run([str(c) for c in cmd], env=env, cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=300)
    seconds = time.monotonic() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc


def moto_cloudfront():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    cf, dist_id = ls_harness.cloudfront_stand_in(f"http://{host}:{port}")
    return server, cf, dist_id


def fmt_calls(calls):
    counts: dict[str, int] = {}
    for c in calls:
        counts[c] = counts.get(c, 0) + 1
    return ", ".join(f"{c}" + (f" x{n}" if n > 1 else "") for c, n in counts.items()) or "-"


def main(argv=None):
    started = time.monotonic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request lines
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    args = parser.parse_args(argv)

    reason = ls_harness.unavailable_reason()
    if reason:
        raise SystemExit(f"cannot run the benchmark: {reason}")

    workdir = tempfile.TemporaryDirectory(prefix="bench-deploy-")
    tmp = Path(workdir.name)
    template_file = tmp / "template.json"
    template_file.write_text(build_template().to_json())
    pages = [tmp / "a" / "maintenance.html", tmp / "b" / "maintenance.html"]
    for i, p in enumerate(pages):
        p.parent.mkdir()
        p.write_bytes(DEFAULT_CONTENT.read_bytes().replace(
            b"</body>", f"<!-- variant {i} -->\n</body>".encode()))
    quiet = open(tmp / "deploy.log", "w")

    moto, cloudfront, dist_id = moto_cloudfront()
    ls = ls_harness.LocalStack()
    try:
        with ls:
            print(f"LocalStack at {ls.endpoint_url} (own network namespace), healthy in "
                  f"{ls.startup_seconds:.1f}s; moto (CloudFront stand-in) distribution "
                  f"{dist_id}; {args.reps} repetitions, medians.\n")
            cfn, s3 = ls.client("cloudformation"), ls.client("s3")
            hooks = HookCounter(cfn, s3, cloudfront)
            clients = Clients(cfn=cfn, s3=s3, cloudfront=cloudfront)
            env = ls.client_env()
            env["PYTHONPATH"] = str(ROOT)

            def ours_inproc(content=DEFAULT_CONTENT):
                hooks.take()
                mark = ls.log_offset()
                t0 = time.monotonic()
                result = deploy(clients, STACK, content=content, yes=True,
                                poll_interval=0.5, timeout=300, out=quiet)
                seconds = time.monotonic() - t0
                return seconds, ls.calls_since(mark), hooks.take(), result

            t0 = time.monotonic()
            ours_inproc()  # create (default parameters, default page)
            print(f"created stack {STACK} with scripts.deploy in {time.monotonic() - t0:.1f}s\n")

            rows = {"inproc": [], "subproc": [], "cli": []}
            startup = {"subproc": [], "cli": []}
            sample = {}
            for _ in range(args.reps):
                # Process start-up with no AWS call, for context (not subtracted: the two
                # commands do different amounts of work before their first call).
                startup["subproc"].append(
                    run([sys.executable, "-m", "scripts", "deploy", "--help"], env)[0])
                startup["cli"].append(run([AWS, "--version"], env)[0])

                seconds, server, hooked, result = ours_inproc()
                assert result["action"] == "unchanged", result["action"]
                assert server == [c for c in hooked if not c.startswith("cloudfront.")], \
                    (server, hooked)
                rows["inproc"].append((seconds, server))
                sample["inproc"] = server

                mark = ls.log_offset()
                seconds, _ = run([sys.executable, "-m", "scripts", "deploy", "--stack-name", STACK],
                                 env)
                rows["subproc"].append((seconds, ls.calls_since(mark)))
                sample["subproc"] = rows["subproc"][-1][1]

                mark = ls.log_offset()
                seconds, proc = run([AWS, "cloudformation", "deploy", "--template-file",
                                     template_file, "--stack-name", STACK,
                                     "--no-fail-on-empty-changeset"], env)
                assert "No changes to deploy" in proc.stdout + proc.stderr
                rows["cli"].append((seconds, ls.calls_since(mark)))
                sample["cli"] = rows["cli"][-1][1]

            def figures(key):
                runs = rows[key]
                return (median([s for s, _ in runs]), median([len(c) for _, c in runs]),
                        median([sum(map(is_write, c)) for _, c in runs]))

            labels = {
                "inproc": "scripts.deploy, Python API (in-process)",
                "subproc": "python -m scripts.deploy --stack-name S",
                "cli": "aws cloudformation deploy --no-fail-on-empty-changeset",
            }
            print(f"1. No-op redeploy (same template, same parameters) of stack {STACK}")
            print(f"   {'':56} {'wall s':>7} {'calls':>6} {'writes':>7}")
            for key in ("inproc", "subproc", "cli"):
                s, n, w = figures(key)
                print(f"   {labels[key]:56} {s:7.2f} {n:6g} {w:7g}")
            for key in ("inproc", "subproc", "cli"):
                short = labels[key].split(",")[0].split(" --")[0]
                print(f"   calls, {short}: {fmt_calls(sample[key])}")
            (s_ours, n_ours, w_ours), (s_cli, n_cli, w_cli) = figures("subproc"), figures("cli")
            print(f"   ratio AWS CLI / python -m scripts.deploy: wall {s_cli / s_ours:.2f}x, "
                  f"calls {n_cli / n_ours:.2f}x, writes {w_cli:g} vs {w_ours:g}")
            st_ours, st_cli = median(startup["subproc"]), median(startup["cli"])
            print(f"   process start-up, no AWS call: `python -m scripts.deploy --help` "
                  f"{st_ours:.2f}s, `aws --version` {st_cli:.2f}s (so on LocalStack both "
                  "no-ops are mostly start-up; the AWS work itself is the in-process line)")
            print("   in-process call counts: LocalStack's request log and botocore hooks agree "
                  "on every repetition")
            print()

            page_runs = []
            for i in range(args.reps):
                seconds, server, hooked, result = ours_inproc(pages[i % 2])
                assert result["action"] == "unchanged" and result["upload"]["uploaded"]
                cf = [c for c in hooked if c.startswith("cloudfront.")]
                page_runs.append((seconds, server + cf))
            calls = page_runs[-1][1]
            print("2. Page update only (page bytes changed; template and parameters unchanged), "
                  "scripts.deploy in-process")
            print(f"   wall {median([s for s, _ in page_runs]):.2f}s, "
                  f"calls {median([len(c) for _, c in page_runs]):g}, "
                  f"writes {median([sum(map(is_write, c)) for _, c in page_runs]):g}: "
                  f"{fmt_calls(calls)}")
            stack_writes = [c for _, cs in page_runs for c in cs
                            if c.startswith("cloudformation.") and is_write(c)]
            puts = median([c.count("s3.PutObject") for _, c in page_runs])
            invs = median([c.count("cloudfront.CreateInvalidation") for _, c in page_runs])
            print(f"   PutObject {puts:g}, CreateInvalidation {invs:g}, CloudFormation writes "
                  f"{len(stack_writes)} (stack updates: none)")
            made = cloudfront.list_invalidations(DistributionId=dist_id)["InvalidationList"]
            print(f"   (invalidations on the moto distribution: {made.get('Quantity', 0)}; "
                  "moto completes them at once, so no GetInvalidation poll here)\n")
            hooks.take()

            seconds, server, hooked, result = ours_inproc(pages[(args.reps - 1) % 2])
            calls = server + [c for c in hooked if c.startswith("cloudfront.")]
            print("3. No-op right after a page change (less than a day old), scripts.deploy "
                  "in-process")
            print(f"   wall {seconds:.2f}s, calls {len(calls)}, writes "
                  f"{sum(map(is_write, calls))}: {fmt_calls(calls)}")

            from scripts.aws.teardown import destroy
            t0 = time.monotonic()
            destroy(Clients(cfn=cfn, s3=s3, cloudfront=cloudfront), STACK, yes=True,
                    poll_interval=0.5, out=quiet)
            print(f"\ndestroyed stack {STACK} with scripts.destroy in {time.monotonic() - t0:.1f}s")
    finally:
        moto.stop()
        quiet.close()
        workdir.cleanup()
    print(f"LocalStack stopped in {ls.stop_seconds:.1f}s; benchmark took "
          f"{time.monotonic() - started:.0f}s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
