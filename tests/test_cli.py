"""The one console command (scripts/cli.py): its help, its subcommands, and what a
subcommand loads. A switch at a proxy is timed by whoever flips it, so it must not load the
AWS SDK (about 0.4 s of start-up on an idle machine, over a second on a busy one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts import cli

ROOT = Path(__file__).resolve().parent.parent


def command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scripts", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("args", [["--help"], ["--help", "switch"], ["-h"]])
def test_the_top_level_help_lists_every_subcommand_and_the_exit_codes(args):
    out = command(*args)
    assert out.returncode == 0, out.stderr
    for name, (_module, help_text) in cli.COMMANDS.items():
        assert f"    {name}" in out.stdout, name
        assert " ".join(help_text.split()[:4]) in " ".join(out.stdout.split()), name
    assert "Exit codes:" in out.stdout and "130" in out.stdout
    assert "Each AWS call gives up after" in " ".join(out.stdout.split())


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_each_subcommand_has_its_own_help(name):
    out = command(name, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: maintenance-endpoint {name} ")
    assert "Exit codes:\n" not in out.stdout.partition("options:")[0]  # not the top level's


@pytest.mark.parametrize("args, words", [
    ([], "the following arguments are required: COMMAND"),
    (["deploi"], "invalid choice: 'deploi'"),
    (["switch", "status", "--kind", "nginx", "--state-dir", "/tmp/x", "--bogus"],
     "unrecognized arguments: --bogus"),
])
def test_a_missing_or_unknown_subcommand_is_one_sentence(args, words):
    out = command(*args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: maintenance-endpoint: ") and out.stderr.count("\n") == 1, out.stderr
    assert words in out.stderr, out.stderr


@pytest.mark.parametrize("args", [
    ["switch", "status", "--kind", "nginx", "--state-dir", "{tmp}"],
    ["switch", "on", "--kind", "haproxy", "--state-dir", "{tmp}"],
    ["proxy-config", "--kind", "haproxy", "--endpoint", "d111111abcdef8.cloudfront.net",
     "--resolver", "127.0.0.1", "--state-dir", "{tmp}"],
])
def test_work_at_a_proxy_does_not_load_the_aws_sdk(tmp_path, args):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    probe = ("import sys; from scripts import cli; code = cli.main(sys.argv[1:]); "
             "print(code, sorted(m for m in ('boto3', 'botocore.session', 'botocore.config') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.stdout.splitlines()[-1] == "0 []", (out.stdout, out.stderr)


# A good value of each option that applies to some kinds only (None: a flag).
KIND_OPTION_VALUES = {
    "listen": "8080", "endpoint_address": "127.0.0.1:8443", "ca_file": "/etc/ssl/certs/x.pem",
    "connect_timeout": "3s", "state_dir": "/srv/maintenance", "trusted_proxy": "10.0.0.0/8",
    "resolver": "127.0.0.1", "proxy_protocol": None, "standalone": None, "server_name": "www.example.com",
    "app_host": "www.example.com", "health_path": "/", "lua_file": "/etc/haproxy/switch.lua",
    "admin": "off", "retry_after": "30",
}


def test_an_option_that_does_not_apply_to_the_kind_is_refused(capsys):
    """Every option, given to every kind it does not apply to (even with its default value),
    is refused with exit 2 in one sentence naming the kinds it applies to."""
    from scripts.commands.proxy_config import APPLIES, KINDS

    assert set(KIND_OPTION_VALUES) == set(APPLIES)
    tried = 0
    for dest, kinds in APPLIES.items():
        flag = "--" + dest.replace("_", "-")
        value = KIND_OPTION_VALUES[dest]
        for kind in set(KINDS) - set(kinds):
            code = cli.main(["proxy-config", "--kind", kind, "--endpoint", "d111111abcdef8.cloudfront.net",
                             flag, *([value] if value is not None else [])])
            err = capsys.readouterr().err
            assert code == 2, (flag, kind, err)
            assert err == f"error: {flag} does not apply to --kind {kind} (only to {' and '.join(kinds)}).\n"
            tried += 1
    assert tried >= 30
