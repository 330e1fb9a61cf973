"""The definition of the proxies' behaviour (scripts/proxies/behaviour.py) is the one source of
every recipe's header lists, and of the table in docs/proxies.md.

The table: `UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_behaviour.py` writes the current
rendering into docs/proxies.md (review the diff); without it, a stale table fails here.
The runtime checks of the same definition are the conformance matrix (test_conformance.py).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from scripts import proxies
from scripts.proxies import behaviour, caddy, cloudflare

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "proxies.md"
ENDPOINT = "d111111abcdef8.cloudfront.net"


def test_docs_hold_the_current_table():
    text = DOC.read_text()
    assert text.count(behaviour.MARK_START) == 1 and text.count(behaviour.MARK_END) == 1
    current = behaviour.replace_table(text)
    if os.environ.get("UPDATE_DOCS") == "1":
        DOC.write_text(current)
    assert text == current, ("docs/proxies.md does not hold the current behaviour table: run "
                             "`UPDATE_DOCS=1 .venv/bin/python -m pytest tests/test_behaviour.py`")


def every_recipe() -> dict[str, str]:
    return {
        "nginx": proxies.generate("nginx", ENDPOINT, resolvers=["127.0.0.1"]),
        "haproxy": proxies.generate("haproxy", ENDPOINT, resolvers=["127.0.0.1"]),
        "caddy": caddy.generate(ENDPOINT),
        "cloudflare": cloudflare.generate(ENDPOINT),
    }


def worker_config(source: str) -> dict:
    config = source[source.index("const CONFIG = ") + 15:]
    return json.loads(config[:config.index("};") + 1])


@pytest.fixture
def changed_definition(monkeypatch):
    """The definition with other lists: each recipe must follow."""
    monkeypatch.setattr(behaviour, "FORWARDED_REQUEST_HEADERS", ("Accept", "X-Test-Forwarded"))
    monkeypatch.setattr(behaviour, "DROPPED_RESPONSE_HEADERS", ("Strict-Transport-Security", "X-Test-Dropped"))
    monkeypatch.setattr(behaviour, "IDENTIFYING_REQUEST_HEADERS", ("Cookie", "X-Test-Identifying"))


def test_every_recipe_renders_the_definition(changed_definition):
    """The header lists are data, rendered into each configuration, not restated by hand."""
    if not proxies.system_ca_bundle():
        pytest.skip("no system CA bundle for the nginx recipe")
    recipes = every_recipe()
    nginx = recipes["nginx"]
    assert "proxy_pass_request_headers off;" in nginx
    assert "proxy_set_header X-Test-Forwarded $http_x_test_forwarded;" in nginx
    assert "proxy_set_header Accept-Language" not in nginx
    assert "proxy_hide_header X-Test-Dropped;" in nginx
    haproxy = recipes["haproxy"]
    assert "http-request del-header ^(?!(?:accept|x-test-forwarded)$) -m reg" in haproxy
    assert "http-request set-var(txn.maintenance_fwd_x_test_forwarded) req.fhdr(x-test-forwarded)" in haproxy
    assert "http-request set-var(txn.maintenance_forward) str(accept/x-test-forwarded)" in haproxy
    assert "http-response del-header X-Test-Dropped" in haproxy
    caddyfile = recipes["caddy"]
    assert caddyfile.count("\theader_up -X-Test-Identifying\n") == 2  # the HEAD and the GET branch
    assert caddyfile.count("\theader_down -X-Test-Dropped\n") == 2
    worker = worker_config(recipes["cloudflare"])
    assert worker["forwardHeaders"] == ["Accept", "X-Test-Forwarded"]
    assert worker["dropResponseHeaders"] == ["Strict-Transport-Security", "X-Test-Dropped"]


def test_the_definition():
    """What the issue asks: an allowlist of four headers; never a credential, never the
    endpoint's HSTS; HEAD for HEAD, GET for the rest."""
    assert behaviour.FORWARDED_REQUEST_HEADERS == ("Accept", "Accept-Encoding", "Accept-Language", "User-Agent")
    allowed = behaviour.allowed_at_endpoint()
    assert not {h.lower() for h in behaviour.CREDENTIAL_HEADERS} & allowed
    assert {"x-forwarded-for", "forwarded", "content-length", "transfer-encoding"}.isdisjoint(allowed)
    assert "Strict-Transport-Security" in behaviour.DROPPED_RESPONSE_HEADERS
    assert [behaviour.endpoint_method(m) for m in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")] == \
        ["GET", "HEAD", "GET", "GET", "GET", "GET", "GET"]
    # Every limit names a proxy and a case of the matrix.
    triggers = {t.name for t in behaviour.FAILOVER_TRIGGERS}
    for proxy, case in behaviour.LIMITS:
        assert proxy in behaviour.PROXIES
        trigger, _, group = case.partition("/")
        assert (trigger in triggers and group in behaviour.GROUP_METHODS) or case == "unlisted-header", case
