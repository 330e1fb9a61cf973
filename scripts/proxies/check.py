"""The proxy's own checker, run on a new configuration before `proxy-config --output`
replaces the live one: ``nginx -t``, ``haproxy -c``, ``caddy validate``, where installed.

Each runs on a copy in a private temporary directory, never on the live configuration: an
nginx snippet (the http{} context) is included from a minimal nginx.conf there, whose pid,
error log and temp paths are in that directory too.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..switch import proxy as switch

TIMEOUT = 60  # seconds; a checker resolves the names in the file, which may take a while
PROGRAMS = {"nginx": "nginx", "haproxy": "haproxy", "caddy": "caddy"}

NGINX_WRAPPER = """\
pid {dir}/nginx.pid;
events {{}}
http {{
    client_body_temp_path {dir}/client_body_temp;
    proxy_temp_path {dir}/proxy_temp;
    fastcgi_temp_path {dir}/fastcgi_temp;
    uwsgi_temp_path {dir}/uwsgi_temp;
    scgi_temp_path {dir}/scgi_temp;
    access_log off;
    include {dir}/new.conf;
}}
"""


def find_program(name: str) -> str | None:
    """The installed program, also in the sbin directories a user's PATH may lack."""
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/local/sbin/{name}") if os.access(p, os.X_OK)), None)


def installed(kind: str) -> bool:
    return kind in PROGRAMS and find_program(PROGRAMS[kind]) is not None


def checker_name(kind: str) -> str:
    return {"nginx": "nginx -t", "haproxy": "haproxy -c", "caddy": "caddy validate"}.get(kind, "")


def command(kind: str, program: str, work: Path, *, standalone: bool) -> list[str]:
    """The checker's command line for the copy ``work/new.conf``."""
    new = str(work / "new.conf")
    if kind == "nginx":
        main = new
        if not standalone:
            main = str(work / "nginx.conf")
            Path(main).write_text(NGINX_WRAPPER.format(dir=work))
        return [program, "-t", "-q", "-e", "stderr", "-p", f"{work}/", "-c", main]
    if kind == "haproxy":
        return [program, "-c", "-q", "-f", new]
    return [program, "validate", "--adapter", "caddyfile", "--config", new]


def complaint(kind: str, text: str, *, standalone: bool = False) -> str | None:
    """What the proxy's checker says against ``text``, in one line; None when it accepts it
    or is not installed (or ``kind`` has none)."""
    program = find_program(PROGRAMS[kind]) if kind in PROGRAMS else None
    if program is None:
        return None
    with tempfile.TemporaryDirectory(prefix="maintenance-endpoint-check-") as tmp:
        work = Path(tmp)
        (work / "new.conf").write_text(with_shipped_service(text, work) if kind == "haproxy" else text)
        env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=tmp, XDG_DATA_HOME=tmp)
        try:
            result = subprocess.run(command(kind, program, work, standalone=standalone), cwd=tmp, env=env,
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"it did not finish within {TIMEOUT} s"
        if result.returncode == 0:
            return None
        return first_complaint(result.stdout + "\n" + result.stderr).replace(f"{tmp}/new.conf", "the new file")


def with_shipped_service(text: str, work: Path) -> str:
    """HAProxy loads the Lua service at start: check against the copy this package ships (what
    `switch install` writes), wherever the configuration loads it from."""
    shutil.copy(switch.SERVICE_SOURCE, work / "service.lua")
    return re.sub(r"^(\s*lua-load-per-thread )\S+$", lambda m: m.group(1) + str(work / "service.lua"),
                  text, flags=re.M)


def first_complaint(output: str) -> str:
    """The line of a checker's output that says what is wrong."""
    lines = [" ".join(line.split()) for line in output.splitlines() if line.strip()]
    for marker in ("[emerg]", "[ALERT]", "Error:", "[alert]"):
        found = next((line for line in lines if marker in line), None)
        if found:
            return found.removeprefix("Error: ")
    return lines[-1] if lines else "it failed without saying why"
