"""Fuzz every proxy-config option: thousands of random strings (seeded, so a failure
replays) through ``proxies.generate`` (``caddy.generate`` for Caddy), one option at a time.
For each string:

- either a one-line ``UserError`` (ExitCode.USAGE), or a configuration;
- an accepted value holds none of the characters a configuration treats specially
  (white space, line breaks, ';', '{', '}', '#', quotes, '$', backslash, control and
  non-ASCII characters), and the configuration has exactly the structure of the one made
  with a known-good value (same lines, same count of ';', '{', '}', '#' and quotes), so
  nothing from the input added a directive, a block or a comment;
- every distinct accepted configuration passes the real ``nginx -t`` / ``haproxy -c`` /
  ``caddy validate``.

To check thousands of configurations with a few proxy runs, they are checked in batches,
each batch one configuration file: every output keeps its text, except that its section
names get a number (HAProxy: frontend, backend, resolvers; nginx: the upstream, which two
outputs share when they differ only in options that do not make its name; Caddy: the site
address, and one global options block for all). A failing batch is split until the failing
outputs are found. CA files are created under a scratch directory whose path prefixes
the CA path in the configuration; host names the proxies resolve while checking (the
app's) are mapped to 127.0.0.1 in an /etc/hosts of a private mount namespace.

Adding an option (or a kind): add a row to OPTIONS (and a checker to CHECKERS).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from scripts import proxies
from scripts.core import inputs
from scripts.core.console import in_ci
from scripts.core.errors import ExitCode, UserError
from scripts.endpoint.preview_server import make_tls_material
from scripts.proxies import caddy
from scripts.switch import proxy as switch

SEED = int(os.environ.get("FUZZ_SEED", "20261122"))
STRINGS_PER_OPTION = int(os.environ.get("FUZZ_STRINGS", "3000"))
BATCH = 400
KINDS = ("nginx", "haproxy", "caddy")
ENDPOINT = "d111111abcdef8.cloudfront.net"
# What every option gets unless it is the one being fuzzed (no host lookups: the
# resolver and the CA file are given).
BASE = dict(endpoint=ENDPOINT, app="127.0.0.1:8080", listen="80", endpoint_address=None,
            ca_file="/etc/ssl/maintenance/ca.pem", resolvers=["127.0.0.53"], app_host=None,
            health_path="/", connect_timeout="3s", read_timeout="60s")
# Characters no accepted value may hold: each means something to nginx or HAProxy.
SPECIAL = set(" \t\n\r\f\v;{}#'\"$\\`")
COUNTED = (";", "{", "}", "#", "'", '"')


@dataclass(frozen=True)
class Option:
    """One proxy-config option: ``key`` is its generate() argument, ``flag`` its CLI
    name; ``seeds`` good values the generator mutates; ``resolves``: it holds a host
    name a proxy may look up while checking (mapped to 127.0.0.1 in the private
    /etc/hosts, so no lookup leaves the machine); ``many``: generate() takes a list."""

    key: str
    flag: str
    kinds: tuple[str, ...]
    seeds: tuple[str, ...]
    resolves: bool = False
    many: bool = False
    # Other options it needs (--exempt: --state-dir), and the characters of SPECIAL its grammar
    # lets through, which the recipe quotes (they are then not counted as structure either).
    needs: tuple[tuple[str, str], ...] = ()
    quoted: str = ""


# The switch's state directory, for the options that need it (HAProxy's checker makes its map).
STATE_DIR = "/srv/maintenance"

OPTIONS = [
    Option("app", "--app", KINDS, ("127.0.0.1:8080", "app.internal:80", "[::1]:8080",
                                   "10.0.0.5:65535", "app:1"), resolves=True),
    Option("listen", "--listen", ("nginx", "haproxy"), ("80", "127.0.0.1:8080", "[::]:80", "[::1]:443", "65535")),
    # Caddy keeps 443 for HTTPS (refused), and writes an address as a `bind` line.
    Option("listen", "--listen", ("caddy",), ("80", "127.0.0.1:8080", "[::]:80", "[::1]:8443", "65535")),
    Option("endpoint", "--endpoint", KINDS, (ENDPOINT, "maintenance.example.com",
                                             "a-b.c.example.org."), resolves=True),
    Option("endpoint_address", "--endpoint-address", KINDS, (
        "127.0.0.1:8443", ENDPOINT, "[::1]:443", "edge.internal", "10.1.2.3"), resolves=True),
    Option("ca_file", "--ca-file", KINDS, ("/etc/ssl/certs/ca.pem", "/opt/ca/bundle.crt",
                                           "/a/.b/c-d_e@f+g.pem")),
    Option("resolvers", "--resolver", ("nginx", "haproxy"), ("127.0.0.1", "127.0.0.53:53", "[::1]:5353",
                                              "::1", "10.0.0.2"), many=True),
    Option("app_host", "--app-host", ("haproxy",), ("app", "app.internal", "10.0.0.5", "a-1")),
    Option("health_path", "--health-path", ("haproxy",), (
        "/", "/health", "/status?full=1&x=y", "/a%20b/c~d", "/x:y@z!*+,-._")),
    Option("server_names", "--server-name", ("nginx",), ("www.example.com", "*.example.com",
                                                         "a-b.example.org"), many=True),
    Option("connect_timeout", "--connect-timeout", ("nginx", "haproxy"), ("3s", "500ms", "1m", "2h")),
    Option("read_timeout", "--read-timeout", ("nginx", "haproxy"), ("60s", "1ms", "24h", "90m")),
    # The Caddy recipe's timeouts are ms, s or m (inputs.duration_ms).
    Option("connect_timeout", "--connect-timeout", ("caddy",), ("3s", "500ms", "1m", "1440m")),
    Option("read_timeout", "--read-timeout", ("caddy",), ("60s", "1ms", "86400s", "90m")),
    Option("exempt", "--exempt", KINDS, ("/healthz", "/webhooks/stripe", "/o'k$(x)*", "/a/b~c!d@e:f=g,h+i&j",
                                         "/-/_.x"), many=True, needs=(("state_dir", STATE_DIR),), quoted="'$"),
]

# Random material: what configurations and shells treat specially, plus the grammar's
# own characters (so that a good share of strings is accepted and checked).
NASTY = list(" \t\n\r;{}#'\"$\\`|&<>()*?![]~^%=,") + ["\x00", "\x1b", "\u200b", "é", "٣", "ａ"]
PLAIN = list("abcdefghijklmnopqrstuvwxyzABCDEF0123456789.:-_/@+[]%?=&~!*,")
INJECTIONS = ["\n", ";", " #", "{", "}", "'", '"', "\n    server evil 6.6.6.6:80 backup",
              "; include /etc/passwd", "$host", "\\", "%0a", " backup", "%", "..", "//", "@"]


def fuzz_strings(option: Option, rng: random.Random, count: int) -> list[str]:
    """``count`` strings: random ones, mutated seeds, seeds with injections."""
    out: list[str] = []
    while len(out) < count:
        pick = rng.random()
        if pick < 0.25:
            alphabet = PLAIN + NASTY if rng.random() < 0.5 else PLAIN
            out.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24))))
        elif pick < 0.8:
            s = list(rng.choice(option.seeds))
            for _ in range(rng.randint(1, 3)):
                where = rng.randint(0, len(s))
                ch = rng.choice(PLAIN if rng.random() < 0.8 else NASTY)
                op = rng.random()
                if op < 0.4 or not s:
                    s.insert(where, ch)
                elif op < 0.7:
                    del s[min(where, len(s) - 1)]
                else:
                    s[min(where, len(s) - 1)] = ch
            out.append("".join(s))
        else:
            seed = rng.choice(option.seeds)
            inj = rng.choice(INJECTIONS)
            out.append(seed + inj if rng.random() < 0.7 else inj + seed)
    return out


def generate(kind: str, option: Option, value: str) -> str:
    args = dict(BASE)
    args[option.key] = [value] if option.many else value
    args.update(option.needs)
    endpoint = args.pop("endpoint")
    return make(kind, endpoint, args)


# The generate() keywords of caddy.generate (it takes one --listen, and has no resolver).
CADDY_KEYS = ("app", "listen", "endpoint_address", "ca_file", "connect_timeout", "read_timeout", "state_dir",
              "allow", "trusted_proxies", "exempt")


def make(kind: str, endpoint: str, args: dict) -> str:
    """The configuration of `kind` for these generate() keywords."""
    if kind != "caddy":
        return proxies.generate(kind, endpoint, **args)
    kw = {k: v for k, v in args.items() if k in CADDY_KEYS}
    if isinstance(kw.get("listen"), list):
        kw["listen"] = kw["listen"][0]
    return caddy.generate(endpoint, admin="off", **kw)


def structure(text: str, quoted: str = "") -> tuple:
    # Caddy writes the address of --listen as a line of its own (bind), with a blank line after.
    text = re.sub(r"^\tbind [^\n]*\n\n", "", text, flags=re.M)
    return (len(text.splitlines()),) + tuple(text.count(c) for c in COUNTED if c not in quoted)


# ---------------------------------------------------------------------------------------
# Checking configurations with the real proxies, in batches


# The proxies run their check in a network namespace of their own with only loopback
# (no lookup or packet leaves; nginx -t binds its listen addresses, which may be any
# address: non-local binds are allowed there) and with our /etc/hosts ($0).
SANDBOX = ("ip link set lo up && sysctl -q -w net.ipv4.ip_nonlocal_bind=1 "
           "net.ipv6.ip_nonlocal_bind=1 && mount --bind \"$0\" /etc/hosts && exec \"$@\"")
CA_LINE = {"nginx": re.compile(r"(proxy_ssl_trusted_certificate )(/\S*)(;)"),
           "haproxy": re.compile(r"( ca-file )(/\S*)( )"),
           "caddy": re.compile(r"(tls_trusted_ca_certs )(/\S*)()$", re.M)}


class Checker:
    """Checks configurations of one kind with the real proxy, in batches."""

    kind = ""
    program = ""

    def __init__(self, workdir: Path, ca_pem: bytes, hosts_file: Path):
        self.workdir, self.ca_pem, self.hosts_file = workdir, ca_pem, hosts_file
        self.ca_roots: dict[str, Path] = {}
        self.runs = 0

    def place_ca(self, text: str) -> str:
        """Create the CA file the configuration names, under a scratch root, and point the
        configuration there (the path's own characters stay as they are)."""
        def swap(m: re.Match) -> str:
            path = m.group(2)
            root = self.ca_roots.get(path)
            if root is None:
                root = self.workdir / "ca" / str(len(self.ca_roots))
                target = Path(str(root) + path)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(self.ca_pem)
                self.ca_roots[path] = root
            return m.group(1) + str(root) + path + m.group(3)
        return CA_LINE[self.kind].sub(swap, text)

    def run(self, cmd: list[str]) -> subprocess.CompletedProcess:
        self.runs += 1
        cmd = ["unshare", "--net", "--mount", "--", "sh", "-c", SANDBOX, str(self.hosts_file), *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def check(self, configs: list[str]) -> list[tuple[str, str]]:
        """The configurations that fail the check, each with the proxy's complaint."""
        failing: list[tuple[str, str]] = []
        for start in range(0, len(configs), BATCH):
            self._check(configs[start:start + BATCH], failing)
        return failing

    def _check(self, configs: list[str], failing: list) -> None:
        result = self.check_batch(configs)
        if result.returncode == 0:
            return
        if len(configs) == 1:
            failing.append((configs[0], (result.stdout + result.stderr)[-2000:]))
            return
        half = len(configs) // 2
        self._check(configs[:half], failing)
        self._check(configs[half:], failing)

    def check_batch(self, configs: list[str]) -> subprocess.CompletedProcess:
        raise NotImplementedError


class NginxChecker(Checker):
    kind, program = "nginx", "nginx"

    def check_batch(self, configs):
        parts = []
        for i, text in enumerate(configs):
            text = self.place_ca(text)
            # Outputs from the same listen, names, app and endpoint share their names.
            parts.append(re.sub(r"(maintenance_failover_app|maintenance_allowed)_(\w+)", rf"\1_\2_{i}", text))
        body = "\n".join(parts)
        conf = self.workdir / "nginx.conf"
        conf.write_text(proxies.render(proxies.NGINX_STANDALONE_TEMPLATE, body="\n".join(
            ("    " + ln) if ln else "" for ln in body.splitlines())))
        return self.run([self.program, "-q", "-t", "-p", str(self.workdir), "-c", str(conf)])


class HaproxyChecker(Checker):
    kind, program = "haproxy", "haproxy"

    def place_map(self, text: str) -> str:
        """The switch's map (HAProxy loads it while checking), under the scratch root."""
        target = Path(f"{self.workdir}/state{STATE_DIR}/{switch.HAPROXY_MAP}")
        if not target.exists():
            target.parent.mkdir(parents=True)
            target.write_text(f"{switch.MAP_KEY} off\n")
        return text.replace(f"map({STATE_DIR}/", f"map({self.workdir}/state{STATE_DIR}/")

    def check_batch(self, configs):
        # Every recipe loads the endpoint's Lua service: once here, from where `switch install` put it.
        lua = self.workdir / "maintenance-endpoint.lua"
        if not lua.exists():
            lua.write_bytes(switch.SERVICE_SOURCE.read_bytes())
        parts = [f"global\n    lua-load-per-thread {lua}\n"]
        for i, text in enumerate(configs):
            text = self.place_map(self.place_ca(text))
            text = re.sub(r"^\s*lua-load-per-thread \S+$", "", text, flags=re.M)
            for old in ("frontend maintenance_failover", "default_backend maintenance_failover_app",
                        "backend maintenance_failover_app", "resolvers maintenance_dns",
                        "frontend maintenance_endpoint_service", "frontend maintenance_endpoint_relay",
                        "backend maintenance_endpoint", "default_backend maintenance_endpoint"):
                text = re.sub(rf"^(\s*){re.escape(old)}$", rf"\g<1>{old}_{i}", text, flags=re.M)
            text = text.replace(" resolvers maintenance_dns ", f" resolvers maintenance_dns_{i} ")
            parts.append(text)
        cfg = self.workdir / "haproxy.cfg"
        cfg.write_text("\n".join(parts))
        return self.run([self.program, "-q", "-c", "-f", str(cfg)])


class CaddyChecker(Checker):
    kind, program = "caddy", "caddy"

    def check_batch(self, configs):
        parts = ["{\n\tadmin off\n}\n"]
        for i, text in enumerate(configs):
            text = self.place_ca(text)
            # One global options block (each output has its own, the same); each site a name.
            text = re.sub(r"\A(?:#[^\n]*\n)*\{\n(?:[^\n]*\n)*?\}\n", "", text)
            text, sites = re.subn(r"^http://:(\d+) \{$", rf"http://site{i}.test:\1 {{", text, flags=re.M)
            assert sites == 1, text[:300]
            parts.append(text)
        conf = self.workdir / "Caddyfile"
        conf.write_text("\n".join(parts))
        home = self.workdir / "caddy-home"
        return self.run(["env", f"HOME={home}", f"XDG_DATA_HOME={home}/data", f"XDG_CONFIG_HOME={home}/config",
                         self.program, "validate", "--config", str(conf), "--adapter", "caddyfile"])


CHECKERS = {"nginx": NginxChecker, "haproxy": HaproxyChecker, "caddy": CaddyChecker}


def require(tool: str) -> str:
    path = shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/usr/local/sbin/{tool}") if os.path.exists(p)), None)
    if path is None:
        reason = f"{tool} is not installed (apt-get install -y --no-install-recommends " \
                 f"{'nginx-light' if tool == 'nginx' else tool})"
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    return path


def can_map_hosts() -> str | None:
    """Why the checks cannot run in a private network with our /etc/hosts, or None."""
    if shutil.which("unshare") is None:
        return "unshare is not installed"
    with tempfile.NamedTemporaryFile("w", suffix=".hosts") as f:
        f.write("127.0.0.1 fuzz-probe.internal\n")
        f.flush()
        probe = subprocess.run(["unshare", "--net", "--mount", "--", "sh", "-c", SANDBOX, f.name,
                                "getent", "hosts", "fuzz-probe.internal"],
                               capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot make a private network and /etc/hosts (unshare --net --mount needs " \
               f"CAP_SYS_ADMIN): {probe.stderr.strip() or probe.returncode}"
    return None


# ---------------------------------------------------------------------------------------
# The test


@pytest.mark.parametrize("kind", KINDS)
def test_fuzzed_options_are_refused_or_pass_the_real_proxy(kind, tmp_path):
    program = require(kind)
    options = [o for o in OPTIONS if kind in o.kinds]
    t0 = time.monotonic()
    accepted: dict[str, list[str]] = {}
    names: set[str] = set()
    configs: dict[str, str] = {}  # config text -> the option and value that made it
    tried = 0
    for option in options:
        rng = random.Random(f"{SEED}:{kind}:{option.key}")
        baseline = structure(generate(kind, option, option.seeds[0]), option.quoted)
        accepted[option.flag] = []
        for value in fuzz_strings(option, rng, STRINGS_PER_OPTION) + list(option.seeds):
            tried += 1
            try:
                text = generate(kind, option, value)
            except UserError as err:
                assert err.exit_code == ExitCode.USAGE
                assert "\n" not in str(err), (option.flag, value, str(err))
                continue
            accepted[option.flag].append(value)
            bad = sorted(set(value) & (SPECIAL - set(option.quoted))) + [c for c in value if not " " < c < "\x7f"]
            assert not bad, f"{option.flag} accepted {value!r} holding {bad}"
            assert structure(text, option.quoted) == baseline, f"{option.flag} {value!r} changed the structure"
            if option.resolves:
                host, _ = inputs.host_port(value.rstrip("."), default_port=443)
                if not inputs.ip_address(host):
                    names.add(host)
            configs.setdefault(text, f"{option.flag} {value!r}")
        assert set(option.seeds) <= set(accepted[option.flag]), f"{option.flag}: a seed was refused"

    # Every name the proxies may look up resolves from our /etc/hosts, in a network of
    # their own: checking sends nothing anywhere.
    reason = can_map_hosts()
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(f"{reason}: host names in the configurations cannot be resolved locally")
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("127.0.0.1 localhost\n" + "".join(
        f"127.0.0.1 {n}\n" for n in sorted(names | {ENDPOINT})))
    checker = CHECKERS[kind](tmp_path, make_tls_material(ENDPOINT).ca_pem, hosts_file)
    checker.program = program
    failing = checker.check(list(configs))
    elapsed = time.monotonic() - t0
    print(f"\n{kind}: {tried} strings tried, "
          f"{sum(len(v) for v in accepted.values())} accepted, {len(configs)} distinct "
          f"configurations checked by {kind} {({'nginx': '-t', 'caddy': 'validate'}).get(kind, '-c')} in "
          f"{checker.runs} runs, {elapsed:.1f} s (seed {SEED})")
    for flag, values in accepted.items():
        print(f"  {flag:<20} {len(values):>5} accepted")
    assert not failing, "\n\n".join(f"{configs[text]}:\n{why}" for text, why in failing[:5])


@pytest.mark.parametrize("kind, breakage", [
    ("nginx", ("proxy_connect_timeout 3s;", "proxy_connect_timeout 3s 4s;")),
    ("nginx", ("server 127.0.0.1:8080;", "server app.not-in-hosts.invalid:8080;")),
    ("haproxy", ("timeout connect 3s", "timeout connect 3x")),
    ("haproxy", ("server 127.0.0.1 127.0.0.1:8080", "server 127.0.0.1 app.not-in-hosts.invalid:8080")),
    ("caddy", ("dial_timeout 3s", "dial_timeout 3x")),
])
def test_the_batch_check_finds_the_one_broken_configuration(kind, breakage, tmp_path):
    """The harness can fail: one broken output among good ones is found (by bisection),
    and so is a host name the private /etc/hosts does not map."""
    program = require(kind)
    reason = can_map_hosts()
    if reason is not None:
        pytest.skip(reason)
    option = next(o for o in OPTIONS if o.key == "read_timeout")
    good = [generate(kind, option, f"{n}s") for n in range(1, 40)]
    broken = good[17].replace(*breakage)
    assert broken != good[17]
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost {ENDPOINT}\n")
    checker = CHECKERS[kind](tmp_path, make_tls_material(ENDPOINT).ca_pem, hosts)
    checker.program = program
    failing = checker.check(good[:17] + [broken] + good[18:])
    assert [text for text, _ in failing] == [broken]


# ---------------------------------------------------------------------------------------
# Combinations of good values, and options that do not apply to a kind

COMBINATIONS = int(os.environ.get("FUZZ_COMBINATIONS", "300"))
# Good on their own, but not together with another: a bare port is 0.0.0.0:PORT; HAProxy
# names its app server after --app-host (or --app's host), and the endpoint's after its name.
CLASHING = {"listen": ("0.0.0.0:80", "80"), "app_host": (ENDPOINT,), "app": (f"{ENDPOINT}:8080",)}


def combination(kind: str, rng: random.Random) -> dict:
    """generate() keywords: each option applicable to ``kind`` given or not, from its seeds
    and the values that clash with another's; --listen one to three times."""
    args = dict(BASE)
    for option in (o for o in OPTIONS if kind in o.kinds and o.key != "endpoint"):
        if rng.random() < 0.5:
            continue
        pool = option.seeds + CLASHING.get(option.key, ())
        if option.key == "listen":
            args["listen"] = [rng.choice(pool) for _ in range(rng.randint(1, 3))]
        else:
            value = rng.choice(pool)
            args[option.key] = [value] if option.many else value
            if rng.random() < 0.7:
                args.update(option.needs)
    return args


@pytest.mark.parametrize("kind", KINDS)
def test_option_combinations_are_refused_or_pass_the_real_proxy(kind, tmp_path):
    """Every combination either makes a configuration the proxy accepts or is refused with
    one sentence (exit 2); none is accepted by us and then rejected by the proxy."""
    program = require(kind)
    reason = can_map_hosts()
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true: {reason}")
        pytest.skip(reason)
    rng = random.Random(f"{SEED}:{kind}:combinations")
    configs: dict[str, dict] = {}
    refused: list[str] = []
    for _ in range(COMBINATIONS):
        args = combination(kind, rng)
        try:
            text = make(kind, ENDPOINT, {k: v for k, v in args.items() if k != "endpoint"})
        except UserError as err:
            assert err.exit_code == ExitCode.USAGE and "\n" not in str(err)
            refused.append(str(err))
            continue
        configs.setdefault(text, args)
    assert configs and refused, "the combinations hold both good and clashing ones"
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(f"127.0.0.1 localhost {ENDPOINT} app.internal app\n")
    checker = CHECKERS[kind](tmp_path, make_tls_material(ENDPOINT).ca_pem, hosts_file)
    checker.program = program
    failing = checker.check(list(configs))
    print(f"\n{kind}: {COMBINATIONS} combinations, {len(refused)} refused, {len(configs)} distinct "
          f"configurations checked (seed {SEED})")
    assert not failing, "\n\n".join(f"{configs[text]}:\n{why}" for text, why in failing[:5])


@pytest.mark.parametrize("kind, args, says", [
    ("nginx", {"listen": ["80", "0.0.0.0:80"]}, "--listen: an address is given twice"),
    ("haproxy", {"listen": ["0.0.0.0:8080", "8080"]}, "--listen: an address is given twice"),
    ("haproxy", {"app_host": ENDPOINT}, f"--app-host {ENDPOINT} is the endpoint's name"),
    ("haproxy", {"app": f"{ENDPOINT.upper()}:8080"}, f"--app's host {ENDPOINT} is the endpoint's name"),
    ("nginx", {"server_names": ["a.example.com", "A.example.com"]}, "--server-name: a name is given twice"),
])
def test_combinations_the_proxy_would_reject_are_refused(kind, args, says):
    with pytest.raises(UserError) as err:
        proxies.generate(kind, ENDPOINT, **args)
    assert err.value.exit_code == ExitCode.USAGE and str(err.value).startswith(says)
