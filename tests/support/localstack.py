"""LocalStack's CloudFormation engine and S3, run offline, for tests and the benchmark.

Not a test file: ``tests/test_localstack_deploy.py`` and ``tests/bench_deploy.py``
import it (``tests/`` is on ``sys.path`` in both cases).

Isolation and reachability
--------------------------
LocalStack runs in its own network namespace (``unshare --net``, loopback brought
up with ``ip link set lo up``), so it can reach nothing but its own loopback: no
analytics, no certificate download, no DNS, whatever its configuration says. It
also gets its own mount namespace (``--mount``) with a private tmpfs on
/tmp/localstack-s3-storage, where its S3 store is hard-wired: concurrent instances
(other test runs, the benchmark) stay apart, and no objects are left behind. Its other
directories live in a per-instance temporary directory that is removed afterwards.
(Only that one directory is covered: a tmpfs over all of /tmp would hide a checkout or
a virtualenv that lives under /tmp.)

A process in its own network namespace is reachable on 127.0.0.1 only from inside
that namespace. Rather than moving the clients into the namespace (``nsenter`` for
subprocesses, per-thread ``setns`` for in-process boto3), the harness hands the
namespace a listening socket that was created *outside* it:

1. this process binds a TCP socket on the host's 127.0.0.1, port 0 (the kernel
   picks a free port: no race between choosing and binding a port);
2. ``unshare --net --mount python tests/support/localstack.py --inside FD 4566 LS_PYTHON``
   inherits that socket's file descriptor (``pass_fds``). This small supervisor
   (stdlib only) brings loopback up, mounts the private S3 store, starts LocalStack as
   its child on 127.0.0.1:4566 *inside* the namespace (a fixed port is fine: the
   namespace is private), and runs a bridge thread. A socket stays in the namespace
   it was created in, so the bridge accepts connections from the host's loopback,
   while every connection it *opens* (to LocalStack) is inside the namespace.

So boto3 in-process, the AWS CLI as a subprocess and ``python -m scripts`` all use a
plain ``http://127.0.0.1:PORT`` endpoint, and LocalStack itself still has no route
anywhere. (Alternatives considered: running the clients through ``nsenter
--net=/proc/PID/ns/net`` covers subprocesses but not in-process boto3, which the
content-change test and the benchmark's event hooks need; running LocalStack
without a namespace relies on every outbound feature being switched off by
configuration, which nothing enforces.) The bridge costs well under a millisecond:
measured HeadObject medians of 3.4-3.7 ms through it versus 2.8-3.6 ms from a client
put inside the namespace with nsenter.

Readiness is ``GET /_localstack/health`` polled with a deadline; shutdown is
SIGTERM to the process group we started (supervisor and LocalStack), then
SIGKILL after a deadline.

What LocalStack can and cannot play: see tests/README.md.
It has no CloudFront (the CloudFront resources are accepted and their attributes
read "unknown") and it does not enforce bucket policies.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

try:
    from support.envs import LOCALSTACK_PYTHON
except ImportError:  # run as a script, with tests/support/ (not tests/) on sys.path
    from envs import LOCALSTACK_PYTHON  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = LOCALSTACK_PYTHON
INNER_PORT = 4566
REGION = "us-east-1"
# LocalStack derives account 000000000000 from the access key "test".
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
SETUP_HINT = (
    "bash tests/run.sh creates it with a Python 3.13 (python3.13 on the PATH, or pyenv's), "
    "from tests/requirements/localstack.txt"
)


def unavailable_reason() -> str | None:
    """Why LocalStack cannot run here, or None when it can."""
    if not VENV_PYTHON.exists():
        return f"LocalStack virtualenv missing ({VENV_PYTHON}); {SETUP_HINT}"
    venv = VENV_PYTHON.parent.parent
    if not list(venv.glob("lib/python3*/site-packages/localstack/runtime/main.py")):
        return (f"{venv} exists but has no localstack-core in it (interrupted install?); "
                f"{SETUP_HINT}")
    for tool in ("unshare", "ip", "mount"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: needed to run LocalStack in its own network namespace"
    with tempfile.TemporaryDirectory(prefix="localstack-probe-") as where:
        probe = subprocess.run(
            ["unshare", "--net", "--mount", "sh", "-c",
             f"ip link set lo up && mount -t tmpfs tmpfs {where}"], capture_output=True, text=True
        )
    if probe.returncode != 0:
        return (
            "cannot create network and mount namespaces for LocalStack (`unshare --net "
            f"--mount` needs CAP_SYS_ADMIN): {probe.stderr.strip() or probe.returncode}"
        )
    return None


def require_or_skip() -> None:
    """In pytest: skip with a clear reason locally, but FAIL in CI (CI=true).

    CI must never silently lose this tier.
    """
    reason = unavailable_reason()
    if reason is None:
        return
    from support import skip_or_fail

    skip_or_fail(f"the LocalStack tier cannot run: {reason}")


class LocalStackError(RuntimeError):
    pass


class LocalStack:
    """Context manager: a LocalStack (s3, cloudformation, sts) reachable at ``.endpoint_url``.

    >>> with LocalStack() as ls:
    ...     ls.client("cloudformation").list_stacks()
    """

    def __init__(self, startup_timeout: float = 90.0, stop_timeout: float = 20.0):
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.endpoint_url: str | None = None
        self.startup_seconds: float | None = None
        self.stop_seconds: float | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._log = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> LocalStack:
        reason = unavailable_reason()
        if reason:
            raise LocalStackError(reason)
        t0 = time.monotonic()
        self._tmp = tempfile.TemporaryDirectory(prefix="localstack-")
        tmp = Path(self._tmp.name)  # the log, LocalStack's HOME and its directories
        env = _localstack_env(tmp)
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        fd = listener.fileno()
        self.log_path = tmp / "localstack.log"
        self._log = open(self.log_path, "wb")
        try:
            # unshare (without --fork) execs the supervisor in the new namespace, so
            # self.proc.pid is the supervisor, which starts LocalStack as its child.
            self.proc = subprocess.Popen(
                ["unshare", "--net", "--mount", sys.executable, str(Path(__file__).resolve()),
                 "--inside", str(fd), str(INNER_PORT), str(VENV_PYTHON)],
                env=env, cwd=tmp, stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, pass_fds=(fd,), start_new_session=True,
            )
        finally:
            listener.close()  # the supervisor holds its own copy
        try:
            self._wait_healthy(t0 + self.startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_healthy(self, deadline: float) -> None:
        url = f"{self.endpoint_url}/_localstack/health"
        last = "no answer yet"
        while True:
            if self.proc.poll() is not None:
                raise LocalStackError(
                    f"LocalStack exited with {self.proc.returncode} before becoming healthy; "
                    f"log tail:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    services = json.load(r).get("services", {})
                if all(services.get(s) in ("available", "running")
                       for s in ("s3", "cloudformation", "sts")):
                    return
                last = f"services not ready: {services}"
            except (OSError, urllib.error.URLError, ValueError) as e:
                last = repr(e)
            if time.monotonic() > deadline:
                raise LocalStackError(
                    f"LocalStack not healthy within {self.startup_timeout:.0f}s ({last}); "
                    f"log tail:\n{self.log_tail()}"
                )
            # a poll interval, not synchronisation: the loop ends on the health answer
            time.sleep(0.1)

    def stop(self) -> None:
        t0 = time.monotonic()
        if self.proc is not None and self.proc.poll() is None:
            pgid = self.proc.pid  # start_new_session: our child leads its own group
            try:
                os.killpg(pgid, signal.SIGTERM)
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(pgid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
            # anything left in the group we started (should be nothing)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None
        self.stop_seconds = time.monotonic() - t0
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the server's own record of the calls it received ------------------------------
    def log_offset(self) -> int:
        """A mark in LocalStack's log; pass it to ``calls_since``."""
        return self.log_path.stat().st_size

    def calls_since(self, offset: int, deadline_s: float = 10.0) -> list[str]:
        """AWS calls LocalStack answered since ``offset``, as "service.Operation", in order.

        LocalStack logs one line per AWS request (``localstack.request.aws: AWS
        s3.PutObject => 200``), so this counts what arrived over the wire from any
        client: boto3 in-process, ``python -m scripts ...``, the AWS CLI. To know that
        every line is written, it ends with a fence call (sts.GetCallerIdentity) and
        reads up to the fence's own line, polling with a deadline.
        """
        self.client("sts").get_caller_identity()
        deadline = time.monotonic() + deadline_s
        while True:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode(errors="replace")
            calls = [line.split("localstack.request.aws", 1)[1].split("AWS ", 1)[1]
                     .split(" =>", 1)[0].strip()
                     for line in text.splitlines() if "localstack.request.aws" in line]
            if calls and calls[-1] == "sts.GetCallerIdentity":
                return calls[:-1]
            if time.monotonic() > deadline:
                raise LocalStackError(f"fence call not in the LocalStack log: {calls}")
            time.sleep(0.05)

    # -- helpers for clients -------------------------------------------------------
    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def client_env(self, base: dict | None = None) -> dict:
        """Environment for AWS clients (AWS CLI, boto3, ``python -m scripts ...``).

        Dummy credentials, us-east-1, ``AWS_ENDPOINT_URL`` (honoured by boto3 and the
        AWS CLI alike), and no user config/credential files or profile leaking in.
        """
        env = dict(os.environ if base is None else base)
        for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN",
                  "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"):
            env.pop(k, None)
        env.update(DUMMY_CREDENTIALS)
        env.update({
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        })
        return env

    def session(self):
        import boto3

        return boto3.Session(region_name=REGION, aws_access_key_id="test",
                             aws_secret_access_key="test")

    def client(self, service: str, **kwargs):
        return self.session().client(service, endpoint_url=self.endpoint_url, **kwargs)


S3_STORE = "/tmp/localstack-s3-storage"  # hard-wired in LocalStack: a tmpfs of its own
LOCALSTACK_DIRS = ("LOCALSTACK_VOLUME_DIR", "FILESYSTEM_ROOT", "TMP_FOLDER")


def _localstack_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "LOCALSTACK_")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    for name in LOCALSTACK_DIRS:
        env[name] = str(home / name.lower())
    env.update({
        "GATEWAY_SERVER": "hypercorn",
        "GATEWAY_LISTEN": f"127.0.0.1:{INNER_PORT}",
        "DISABLE_EVENTS": "1",             # no analytics
        "SKIP_SSL_CERT_DOWNLOAD": "1",     # no certificate download
        "DNS_ADDRESS": "0",                # no DNS server
        "SERVICES": "s3,cloudformation,sts",
        "EAGER_SERVICE_LOADING": "0",
        "PERSISTENCE": "0",
        "TMPDIR": str(home / "tmp_folder"),
        "HOME": str(home),
    })
    return env


NO_CLOUDFRONT = "unknown"  # what LocalStack returns for CloudFront attributes


def cloudfront_stand_in(endpoint_url: str):
    """A cloudfront client on a moto server, for the deployer against LocalStack.

    LocalStack has no CloudFront: its DistributionId output reads "unknown". This makes
    one moto distribution (moto needs one to accept an invalidation) and a botocore hook
    on the client maps "unknown" to it. Returns (client, distribution id)."""
    import boto3

    client = boto3.Session(region_name=REGION, aws_access_key_id="test",
                           aws_secret_access_key="test").client(
        "cloudfront", endpoint_url=endpoint_url)
    distribution_id = client.create_distribution(DistributionConfig={
        "CallerReference": f"localstack-{time.monotonic_ns()}", "Comment": "stand-in",
        "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{
            "Id": "o", "DomainName": "bucket.s3.us-east-1.amazonaws.com",
            "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all"},
    })["Distribution"]["Id"]

    def map_unknown(params, **_):
        if params.get("DistributionId") == NO_CLOUDFRONT:
            params["DistributionId"] = distribution_id
    client.meta.events.register("before-parameter-build.cloudfront", map_unknown)
    return client, distribution_id


# -- the bridge: runs INSIDE the namespace, accepts on a socket from OUTSIDE -------------
def _pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def _serve_connection(client: socket.socket, port: int) -> None:
    try:
        upstream = socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        client.close()  # LocalStack not listening yet: the caller's poll retries
        return
    upstream.settimeout(None)
    t = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
    t.start()
    _pipe(client, upstream)
    t.join()
    client.close()
    upstream.close()


def bridge(listener: socket.socket, port: int) -> None:
    while True:
        client, _ = listener.accept()
        threading.Thread(target=_serve_connection, args=(client, port), daemon=True).start()


def inside(fd: int, port: int, localstack_python: str) -> int:
    """Supervisor, run by ``unshare --net --mount``: loopback up, private S3 store,
    LocalStack as a child, bridge.

    SIGTERM to the process group reaches LocalStack and this supervisor; the supervisor
    waits for LocalStack (so nothing is left unreaped) and exits with its status.
    """
    listener = socket.socket(fileno=fd)  # created outside: lives in the host namespace
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    # A private S3 store: LocalStack's is hard-wired to /tmp/localstack-s3-storage; a
    # tmpfs there keeps concurrent instances apart and leaves no objects behind (the
    # tmpfs goes with the namespace; only the empty mount point stays). unshare -m makes
    # mounts private, so the host never sees it.
    os.makedirs(S3_STORE, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777,size=512m", "tmpfs", S3_STORE],
                   check=True)
    for name in LOCALSTACK_DIRS:
        os.makedirs(os.environ[name], exist_ok=True)
    ls = subprocess.Popen([localstack_python, "-m", "localstack.runtime.main"])
    signal.signal(signal.SIGTERM, lambda *_: None)  # LocalStack got it too; wait for it
    threading.Thread(target=bridge, args=(listener, port), daemon=True).start()
    while True:
        try:
            return ls.wait()
        except InterruptedError:
            continue


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--inside":
        sys.exit(inside(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
    else:  # manual use: start LocalStack and keep it up until Ctrl-C
        with LocalStack() as ls:
            print(f"LocalStack ready at {ls.endpoint_url} in {ls.startup_seconds:.1f}s; "
                  f"use AWS_ENDPOINT_URL={ls.endpoint_url} AWS_ACCESS_KEY_ID=test "
                  "AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1; Ctrl-C stops it", flush=True)
            try:
                signal.pause()
            except KeyboardInterrupt:
                pass
