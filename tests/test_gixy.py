"""A third-party judge of the nginx recipe: gixy (PyPI `gixy-ng`, in the `test` extra), an
nginx configuration security analyser, finds nothing of medium or high severity in any
variant `proxy-config --kind nginx` generates. It runs offline, on files only."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import proxies
from scripts.core.console import in_ci

ENDPOINT = "d111111abcdef8.cloudfront.net"
BASE = dict(app="127.0.0.1:8080", resolvers=["127.0.0.53"], ca_file="/etc/ssl/certs/ca-certificates.crt",
            standalone=True)
# Each axis of the recipe: the values that change what it generates.
AXES = {
    "listen": (["80"], ["127.0.0.1:8080", "[::1]:8080"]),
    "server_names": (None, ["www.example.com", "*.example.com"]),
    "state_dir": (None, "/srv/maintenance"),
    "allow": (None, ["203.0.113.0/24", "2001:db8::/32"]),
    "trusted_proxies": (None, ["10.0.0.0/8"]),
    "proxy_protocol": (False, True),
    "endpoint_address": (None, "127.0.0.1:8443"),
    # Quoting: the grammar lets ' $ ( ) * through (behaviour.exempt_regex).
    "exempt": (None, ["/healthz", "/o'k$(x)*/a,b=c"]),
}


def gixy() -> str:
    found = shutil.which("gixy", path=str(Path(sys.executable).parent)) or shutil.which("gixy")
    if found is None:
        reason = "gixy is not installed (pip install gixy-ng; it is in the test extra)"
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return found


def variants() -> list[str]:
    """Every combination of AXES that the command accepts."""
    out = []
    for values in itertools.product(*AXES.values()):
        options = dict(zip(AXES, values, strict=True))
        if (options["allow"] or options["trusted_proxies"] or options["exempt"]) and not options["state_dir"]:
            continue
        if options["proxy_protocol"] and not options["trusted_proxies"]:
            continue
        out.append(proxies.generate("nginx", ENDPOINT, **BASE, **{k: v for k, v in options.items() if v}))
    return out


def findings(program: str, paths: list[Path]) -> list[dict]:
    """gixy's findings of medium or high severity in ``paths``."""
    out = subprocess.run([program, "-ll", "-f", "json", *map(str, paths)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout or "[]")


def test_gixy_finds_nothing_of_medium_or_high_severity_in_any_nginx_variant(tmp_path):
    program = gixy()
    texts = variants()
    # Two recipes in one http{} context, as composed on a server with several sites.
    two = proxies.generate("nginx", ENDPOINT, **{**BASE, "standalone": False, "server_names": ["a.example.com"]})
    two += proxies.generate("nginx", ENDPOINT, **{**BASE, "standalone": False, "server_names": ["b.example.com"],
                                                  "app": "127.0.0.1:8081"})
    texts.append(proxies.render(proxies.NGINX_STANDALONE_TEMPLATE, body="\n".join(
        ("    " + line) if line else "" for line in two.splitlines())))
    paths = []
    for i, text in enumerate(texts):
        paths.append(tmp_path / f"variant-{i}.conf")
        paths[-1].write_text(text)
    found = findings(program, paths)
    assert found == [], json.dumps(found, indent=2)[:4000]
    print(f"\ngixy: {len(paths)} nginx variants, no finding of medium or high severity")


def test_gixy_can_fail(tmp_path):
    """The judge is awake: the recipe with nginx's version in its answers is a finding."""
    program = gixy()
    bad = tmp_path / "bad.conf"
    bad.write_text(variants()[0].replace("server_tokens off;", "server_tokens on;"))
    assert [f["plugin"] for f in findings(program, [bad])] == ["version_disclosure"]
