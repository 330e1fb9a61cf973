"""Opt-in end-to-end test against a real AWS account: deploy, run `maintenance-endpoint
verify --stack-name` (every method and path answers 503 + Retry-After + the page, then a
load probe), redeploy as a no-op, then destroy.

Nothing local emulates CloudFront (custom error responses, OAC, functions, response
headers policies), so this is the only test that proves the endpoint itself. It
creates billable resources for ~15-25 minutes (a CloudFront distribution takes a
while to deploy and to delete) and is skipped unless enabled:

    MAINTENANCE_LIVE_TEST=1 AWS_PROFILE=... AWS_REGION=us-east-1 \\
        .venv/bin/python -m pytest tests/test_live_aws.py -v -s

Optional: MAINTENANCE_LIVE_STACK (stack name; default maint-live-<random>),
MAINTENANCE_LIVE_KEEP=1 (do not destroy afterwards, e.g. to inspect it),
MAINTENANCE_LIVE_APP_ORIGIN=app.example.com (also test the front door before that HTTPS app;
needs the [frontdoor] extra for the switch).
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import pytest

from scripts.aws.clients import Clients, session
from scripts.cli import main as cli_main
from scripts.core.errors import ExitCode, UserError

ENABLED = os.environ.get("MAINTENANCE_LIVE_TEST") == "1"
pytestmark = pytest.mark.skipif(
    not ENABLED, reason="live AWS test: set MAINTENANCE_LIVE_TEST=1 and AWS credentials "
    "(AWS_PROFILE or keys, AWS_REGION) to run it; it creates billable resources")

# After CREATE_COMPLETE the distribution is deployed, but a new *.cloudfront.net name
# can take a moment to resolve everywhere: poll with a deadline.
REACHABLE_DEADLINE = 600


@pytest.fixture(scope="module")
def live():
    try:
        sess = session()
    except UserError as exc:  # enabled but not configured: say why, do not fail obscurely
        pytest.skip(f"live AWS test enabled but AWS is not configured: {exc}")
    clients = Clients.from_session(sess)
    name = os.environ.get("MAINTENANCE_LIVE_STACK") or f"maint-live-{uuid.uuid4().hex[:8]}"
    yield clients, name
    if os.environ.get("MAINTENANCE_LIVE_KEEP") != "1":
        from scripts.aws.teardown import destroy
        try:
            destroy(clients, name, yes=True, timeout=45 * 60, poll_interval=15)
        except UserError as exc:  # only the front-door test ran: it destroys its own stack
            if exc.exit_code != ExitCode.NOT_FOUND:
                raise


def _get(requests, method, url):
    return requests.request(method, url, timeout=30, allow_redirects=False,
                            headers={"User-Agent": "maintenance-endpoint-live-test"})


def test_deploy_serve_503_everywhere_and_destroy(live):
    import requests

    from scripts.aws.deployer import deploy
    from scripts.aws.page import DEFAULT_CONTENT

    clients, name = live
    result = deploy(clients, name, content=DEFAULT_CONTENT, yes=True, timeout=45 * 60,
                    poll_interval=15, out=sys.stderr)
    assert result["action"] in ("created", "updated", "unchanged")
    base = result["endpoint_url"].rstrip("/")

    deadline = time.monotonic() + REACHABLE_DEADLINE
    while True:
        try:
            first = _get(requests, "GET", base + "/no/such/page")
            if first.status_code == 503:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, f"{base} never answered 503"
        time.sleep(10)

    # The same conformance check users run: every method and path, then a load probe.
    code = cli_main(["verify", "--stack-name", name, "--region", clients.cfn.meta.region_name,
                     "--content", str(DEFAULT_CONTENT), "--requests", "200"])
    assert code == 0, "maintenance-endpoint verify failed against the live endpoint"

    # A redeploy with nothing changed is a no-op: no change set, no upload.
    again = deploy(clients, name, content=DEFAULT_CONTENT, yes=True, out=sys.stderr)
    assert again["action"] == "unchanged"
    assert again["change_set"] is None and again["upload"]["uploaded"] is False


# --- the front door ------------------------------------------------------------------------
#
# Needs an HTTPS app to stand in front of: MAINTENANCE_LIVE_APP_ORIGIN=app.example.com (a
# host name whose certificate covers it and that answers GET / with something other than
# 502/503/504). It proves what nothing local can (docs/front-door.md, "What only a live AWS
# check proves"): the KeyValueStore association and reads, the origin switch to S3 with OAC,
# the viewer-response 503, the generated 503 for other methods, the allowlist, and how long
# a switch takes to reach the edge (printed, from this machine's nearest edge).

APP_ORIGIN = os.environ.get("MAINTENANCE_LIVE_APP_ORIGIN", "")
SWITCH_DEADLINE = 600


def _until(requests, url, method, want, deadline):
    """Seconds until ``method url`` answers a status ``want`` accepts (polling every 2 s)."""
    started = time.monotonic()
    while True:
        try:
            if want(_get(requests, method, url).status_code):
                return time.monotonic() - started
        except requests.RequestException:
            pass
        assert time.monotonic() - started < deadline, f"{method} {url} never answered as expected"
        time.sleep(2)


def _switch(name, region, *args):
    assert cli_main(["switch", *args, "--stack-name", name, "--region", region]) == 0


@pytest.mark.skipif(not APP_ORIGIN, reason="front door live test: set MAINTENANCE_LIVE_APP_ORIGIN to "
                    "an HTTPS app's host name")
def test_front_door_switch_on_allowlist_and_off(live):
    import requests

    from scripts.aws.deployer import deploy
    from scripts.aws.page import DEFAULT_CONTENT

    clients, name = live
    name += "-door"
    region = clients.cfn.meta.region_name
    try:
        result = deploy(clients, name, content=DEFAULT_CONTENT, yes=True, timeout=45 * 60,
                        poll_interval=15, out=sys.stderr,
                        overrides={"AppOriginDomainName": APP_ORIGIN})
        base = result["endpoint_url"].rstrip("/")
        app_answers = lambda status: status not in (502, 503, 504)  # noqa: E731
        _until(requests, base + "/", "GET", app_answers, REACHABLE_DEADLINE)
        assert cli_main(["verify", "--stack-name", name, "--region", region, "--requests", "0"]) == 0

        _switch(name, region, "on")
        print(f"\nswitch on reached this edge after {_until(requests, base + '/', 'GET', lambda s: s == 503, SWITCH_DEADLINE):.0f} s")
        assert cli_main(["verify", "--stack-name", name, "--region", region, "--requests", "0",
                         "--content", str(DEFAULT_CONTENT)]) == 0
        post = _get(requests, "POST", base + "/api")
        assert post.status_code == 503 and post.headers["Cache-Control"] == "no-store"

        _switch(name, region, "on", "--allow", "0.0.0.0/0", "--allow", "::/0")
        print(f"allowlist reached this edge after {_until(requests, base + '/', 'GET', app_answers, SWITCH_DEADLINE):.0f} s")

        _switch(name, region, "off")
        _until(requests, base + "/", "POST", app_answers, SWITCH_DEADLINE)
        assert cli_main(["verify", "--stack-name", name, "--region", region, "--requests", "0"]) == 0
    finally:
        if os.environ.get("MAINTENANCE_LIVE_KEEP") != "1":
            from scripts.aws.teardown import destroy
            destroy(clients, name, yes=True, timeout=45 * 60, poll_interval=15)
