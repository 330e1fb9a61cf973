"""verify on a front door: the checks follow the switch (lib/frontdoor_verify.py).

CloudFront itself is not here, so a small HTTP server on 127.0.0.1 answers the way the
front door answers in each state (the functions' answers are tested in node in
tests/test_function.py): the app's own responses, or the maintenance 503 (page for GET and
HEAD, a short body for the rest), or a mix of both, as while an edge catches up.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from scripts.check.client import Client
from scripts.check.front_door import check_front_door
from scripts.switch.edge import OFF, Switch

PAGE = b"<!doctype html><title>Down for maintenance</title>\n"
PAGE_PATH = "/.maintenance-endpoint/maintenance.html"
ON = Switch(on=True)
ON_WITH_TEAM = Switch(on=True, allow=("127.0.0.0/8",))


class Edge:
    """Answers like the front door: ``answer(method, path)`` -> 'app' | 'maintenance' | 'outage'."""

    def __init__(self, answer):
        edge = self

        class Handler(BaseHTTPRequestHandler):
            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                kind = "maintenance" if self.path == PAGE_PATH else edge.answer(self.command, self.path)
                if kind == "app":
                    status, headers, body = (404 if "verify-" in self.path else 200), \
                        {"Content-Type": "application/json", "Cache-Control": "private, max-age=60"}, b'{"ok":true}'
                elif kind == "outage":
                    status, headers, body = 502, {"Content-Type": "text/html"}, b"bad gateway"
                else:
                    page = self.command in ("GET", "HEAD")
                    status, body = 503, (PAGE if page else b"Service Unavailable: down for maintenance.\n")
                    headers = {"Content-Type": "text/html" if page else "text/plain; charset=utf-8",
                               "Retry-After": "300", "Cache-Control": "no-store"}
                    headers.update(edge.extra)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = handle_one

            def log_message(self, *args):
                pass

        self.answer, self.extra = answer, {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def edge():
    made = []

    def make(answer):
        made.append(Edge(answer))
        return made[-1]

    yield make
    for e in made:
        e.close()


def verify(edge, switch, page=PAGE):
    return check_front_door(Client(edge.url, ca_bundle=None, connect_to=None, timeout=5, pool=4),
                            PAGE_PATH, switch, page)


def test_switch_off_and_the_app_answers_passes(edge):
    result = verify(edge(lambda m, p: "app"), OFF)
    assert result["passed"], result["verdict"]
    assert result["verdict"].startswith("PASS: switch off;") and "the app answers" in result["verdict"]
    assert len(result["checks"]) == 7 * 4 + 1  # every method on four paths, and the page


def test_switch_off_but_the_app_is_down_fails(edge):
    result = verify(edge(lambda m, p: "outage" if m == "GET" else "app"), OFF)
    assert not result["passed"] and "switch off, but" in result["verdict"]


def test_switch_off_but_edges_still_answer_maintenance_fails(edge):
    result = verify(edge(lambda m, p: "maintenance"), OFF)
    assert not result["passed"] and "502/503/504" in result["verdict"]


def test_switch_on_every_request_gets_the_maintenance_503_passes(edge):
    result = verify(edge(lambda m, p: "maintenance"), ON)
    assert result["passed"], result["verdict"]
    assert result["answers"] == {"maintenance 503": 28}


def test_switch_on_but_some_edges_still_send_to_the_app_fails_with_a_hint(edge):
    result = verify(edge(lambda m, p: "app" if m == "POST" else "maintenance"), ON)
    assert not result["passed"]
    assert "answers are mixed" in result["verdict"] and "does not document" in result["verdict"]


def test_switch_on_and_this_machine_is_let_through_passes_with_a_note(edge):
    result = verify(edge(lambda m, p: "app"), ON_WITH_TEAM)
    assert result["passed"], result["verdict"]
    assert "this machine's address is in the allowlist (127.0.0.0/8)" in result["verdict"]
    # With nobody let through, the app answering is a failure.
    assert not verify(edge(lambda m, p: "app"), ON)["passed"]


def test_the_maintenance_answer_needs_retry_after_no_store_and_the_page(edge):
    e = edge(lambda m, p: "maintenance")
    e.extra = {"Cache-Control": "max-age=43200"}
    result = verify(e, ON)
    assert not result["passed"] and "Cache-Control lacks no-store" in result["verdict"]
    e.extra = {"Retry-After": "soon"}
    assert "Retry-After 'soon' is not valid" in verify(e, ON)["verdict"]
    e.extra = {}
    assert "body differs from the content file" in verify(e, ON, page=b"another page")["verdict"]
    assert verify(e, ON, page=None)["passed"]  # without --content the body is not compared


def test_the_page_path_must_answer_503_whatever_the_switch(edge):
    result = verify(edge(lambda m, p: "app"), OFF)
    assert result["checks"][-1]["path"] == PAGE_PATH and result["checks"][-1]["status"] == 503
    assert result["passed"]


def test_an_unreachable_front_door_fails(edge):
    e = edge(lambda m, p: "app")
    e.close()
    result = verify(e, OFF)
    assert not result["passed"] and "requests failed" in result["verdict"]


def test_the_result_prints_like_the_endpoints(edge, capsys, monkeypatch):
    # verify.run renders the front door's result with the endpoint's table and verdict
    # (probe.verify hands over to frontdoor_verify for a stack with AppOriginDomainName).
    import argparse

    from scripts.commands import verify as verify_cmd

    result = {"url": "x", **verify(edge(lambda m, p: "maintenance"), ON)}
    monkeypatch.setattr(verify_cmd, "verify", lambda args: result)
    code = verify_cmd.run(argparse.Namespace(json=False))
    out = capsys.readouterr().out
    assert code == 0 and "PASS: switch on" in out and "METHOD" in out


def test_the_endpoints_model_refuses_a_front_door():
    # preview (and verify by URL) play the endpoint; a front door's answers depend on the app.
    from scripts.core.errors import UserError
    from scripts.endpoint.builder import endpoint_model

    with pytest.raises(UserError, match="front door"):
        endpoint_model(parameters={"AppOriginDomainName": "app.example.com"})
    assert endpoint_model(parameters={"AppOriginDomainName": ""}).page_path == "/maintenance.html"
