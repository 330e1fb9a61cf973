"""The options of an nginx or HAProxy recipe (``ProxyOptions``), and the same options
checked, each by its grammar (``Settings``), which the renderers (``nginx.py``,
``haproxy.py``) take.

The endpoint is reached by its CloudFront domain: CloudFront answers 403 to a request whose
Host is not the distribution's domain (or one of its alternate domain names), so the proxy
must send `Host: <domain>` and SNI for that name, and must verify the certificate for it.
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/http-403-permission-denied.html
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core import inputs
from ..core.errors import UserError
from ..core.inputs import join_host_port
from .common import check_path, parse_listen


@dataclass(frozen=True)
class ProxyOptions:
    """What `proxy-config --kind nginx|haproxy` takes. With ``state_dir``: the maintenance
    switch, its allowlist ``allow`` and the ``trusted_proxies`` whose X-Forwarded-For (or, with
    ``proxy_protocol``, PROXY header) names the client. ``lua_file``: where HAProxy loads the
    switch's Lua service from (default switch.DEFAULT_HAPROXY_SERVICE)."""

    endpoint: str
    app: str = "127.0.0.1:8080"
    listen: str | list[str] = "80"
    endpoint_address: str | None = None
    ca_file: str | None = None
    resolvers: list[str] | None = None
    app_host: str | None = None
    health_path: str = "/"
    connect_timeout: str = "3s"
    read_timeout: str = "60s"
    standalone: bool = False
    server_names: list[str] | None = None
    state_dir: str | None = None
    allow: list[str] | None = None
    trusted_proxies: list[str] | None = None
    proxy_protocol: bool = False
    lua_file: str | None = None
    exempt: list[str] | None = None


@dataclass
class Settings:
    """The options, checked: every value here may go into a configuration file."""

    endpoint: str
    app_host_name: str  # the host part of --app
    app: str  # host:port
    endpoint_address: str
    listens: list[str]
    state_dir: str | None
    allow: list[str]
    trusted_proxies: list[str]
    proxy_protocol: bool
    lua_file: str | None
    connect_timeout: str
    read_timeout: str
    health_path: str
    ca_file: str | None
    app_host: str | None
    standalone: bool
    server_names: list[str] = field(default_factory=list)
    # Paths kept open while the switch is on (behaviour.exempt_regex), in the order given.
    exempt: list[str] = field(default_factory=list)
    resolvers: list[str] = field(default_factory=list)
    resolver_origin: str = ""


def check_options(kind: str, o: ProxyOptions) -> Settings:
    """Every option checked by its grammar, and the combinations that make no sense refused."""
    endpoint = inputs.hostname(o.endpoint.rstrip("."), "--endpoint")
    app_h, app_p = inputs.host_port(o.app, "--app")
    ep_addr = inputs.address(endpoint if o.endpoint_address is None else o.endpoint_address,
                             "--endpoint-address", default_port=443)
    listens = [parse_listen(v) for v in ([o.listen] if isinstance(o.listen, str) else o.listen or ["80"])]
    # A bare port listens on every IPv4 address: "80" and "0.0.0.0:80" are the same socket.
    same = [f"0.0.0.0:{v}" if v.isdigit() else v for v in listens]
    if len(set(same)) < len(same):
        raise UserError(f"--listen: an address is given twice ({', '.join(listens)}; a bare port "
                        "means 0.0.0.0:PORT).")
    state_dir, lua_file = check_switch_options(kind, o)
    if o.proxy_protocol and not o.trusted_proxies:
        raise UserError("--proxy-protocol says how the --trusted-proxy names the client: add --trusted-proxy CIDR.")
    settings = Settings(
        endpoint=endpoint, app_host_name=app_h, app=join_host_port(app_h, app_p), endpoint_address=ep_addr,
        listens=listens, state_dir=state_dir, lua_file=lua_file,
        allow=[inputs.cidr(c, "--allow") for c in o.allow or []],
        trusted_proxies=[inputs.cidr(c, "--trusted-proxy") for c in o.trusted_proxies or []],
        proxy_protocol=o.proxy_protocol,
        connect_timeout=inputs.duration(o.connect_timeout, "--connect-timeout"),
        read_timeout=inputs.duration(o.read_timeout, "--read-timeout"),
        health_path=inputs.http_path(o.health_path, "--health-path"),
        ca_file=o.ca_file, app_host=o.app_host, standalone=o.standalone,
        server_names=[server_name(n) for n in o.server_names or []],
        exempt=inputs.exempt_paths(o.exempt),
    )
    if len(set(settings.server_names)) < len(settings.server_names):
        raise UserError(f"--server-name: a name is given twice ({', '.join(settings.server_names)}).")
    if o.resolvers is not None:
        if not o.resolvers:
            raise UserError("--resolver: no address given.")
        settings.resolvers = [inputs.address(r, "--resolver", default_port=53, names=False)
                              for r in o.resolvers]
        settings.resolver_origin = "given with --resolver"
    return settings


def server_name(value: str) -> str:
    """A name for nginx's server_name: a DNS name, or one with a leading "*." wildcard."""
    if not inputs.is_hostname(value, wildcard=True):
        raise UserError(f"--server-name: {value!r} is not a DNS name such as www.example.com or *.example.com.")
    return value.lower()


def check_switch_options(kind: str, o: ProxyOptions) -> tuple[str | None, str | None]:
    """(state directory, Lua file): the switch's options, which need each other."""
    state_dir = None
    if o.state_dir is not None:
        state_dir = inputs.directory_path(o.state_dir, "--state-dir")
    elif o.allow or o.trusted_proxies or o.exempt:
        raise UserError("--allow, --trusted-proxy and --exempt belong to the maintenance switch: add --state-dir DIR.")
    lua_file = None
    if o.lua_file is not None:
        if kind != "haproxy":
            raise UserError("--lua-file applies to --kind haproxy only.")
        lua_file = check_path(o.lua_file, "--lua-file")
    return state_dir, lua_file

