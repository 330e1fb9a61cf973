"""What the proxy recipes share: filling ``{{name}}`` placeholders, the checks of values that
go into a configuration file, and reading the switch back out of a generated configuration
(for ``switch status --config``).

Every value written into a configuration passes a strict grammar (``core/inputs.py``) first.
"""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

from ..core import files, inputs
from ..switch import proxy as switch

# Where the common Linux distributions keep the system CA bundle (nginx needs a file path;
# HAProxy has `@system-ca`). Debian/Ubuntu first, then RHEL/Fedora, openSUSE, Alpine.
SYSTEM_CA_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


def render(template: str, **values: str) -> str:
    """Fill {{name}} placeholders; every placeholder must have a value and vice versa."""
    used = set(re.findall(r"\{\{(\w+)\}\}", template))
    missing, extra = used - values.keys(), values.keys() - used
    if missing or extra:
        raise KeyError(f"template placeholders: missing {sorted(missing)}, unused {sorted(extra)}")
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], template)


# --------------------------------------------------------------------------------------------
# Option parsing and validation (values end up inside config files: allow no surprises).
# --------------------------------------------------------------------------------------------

def parse_listen(value: str) -> str:
    """'80', '127.0.0.1:8080', '[::]:80' -> 'addr:port' or 'port' (both proxies accept these)."""
    return inputs.listen(value, "--listen")


def system_nameservers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    try:
        text = Path(resolv_conf).read_text()
    except OSError:
        return []
    servers = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            if inputs.ip_address(parts[1]):
                servers.append(parts[1])
    return servers


def system_ca_bundle() -> str | None:
    return next((p for p in SYSTEM_CA_BUNDLES if os.path.isfile(p)), None)


def check_path(value: str, what: str) -> str:
    """An absolute file path of plain characters (it is written into the config file); if
    this host has it, it must be a regular file (the proxy may run elsewhere)."""
    return files.check_if_present(inputs.absolute_path(value, what), what)


def comment_lines(text: str, indent: str = "") -> str:
    return "\n".join(f"{indent}# {line}" for line in textwrap.wrap(text, 92))


def switch_in_config(kind: str, config: str) -> tuple[str, list[str]] | None:
    """(state directory, allowlist) of the switch in an nginx or HAProxy configuration
    generated with --state-dir, or None when it has no switch. The allowlist is the entries of
    nginx's `geo $maintenance_allowed` block, or of HAProxy's `maintenance_allowed` ACL; each
    must pass the CIDR grammar, and the directory the directory grammar."""
    if kind == "nginx":
        state = re.search(rf'^\s*if \(-f "(.+)/{re.escape(switch.STATE_FILE)}"\) \{{$', config, re.M)
        block = re.search(r"geo \$maintenance_allowed(?:_\w+)? \{\n(.*?)\n\s*\}", config, re.S)
        entries = re.findall(r"^\s*(\S+) 1;$", block.group(1), re.M) if block else []
    else:
        state = re.search(rf"^\s*acl maintenance_on str\(maintenance\),map\((.+)/{re.escape(switch.HAPROXY_MAP)},off\)",
                          config, re.M)
        entries = [c for found in re.findall(r"^\s*acl maintenance_allowed(?:_ipv6)? src (.+)$", config, re.M)
                   for c in found.split()]
    return switch_found(state and state.group(1), entries)


def haproxy_service_in_config(config: str) -> str | None:
    """The path HAProxy loads the switch's Lua service from, in a configuration generated with
    --state-dir (None without one)."""
    found = re.search(r"^\s*lua-load-per-thread (\S+)$", config, re.M)
    return inputs.absolute_path(found.group(1), "Lua service in --config") if found else None


def switch_found(state_dir: str | None, allow: list[str]) -> tuple[str, list[str]] | None:
    """What a configuration says of its switch, each value checked by its grammar."""
    if state_dir is None:
        return None
    return (inputs.directory_path(state_dir, "state directory in --config"),
            [inputs.cidr(e, "allowlist in --config") for e in allow])
