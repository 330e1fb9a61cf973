"""The proxy recipes that fail over to the maintenance endpoint: one module per proxy
(``nginx``, ``haproxy``, ``caddy``, ``cloudflare``, with their ``.js`` asset), the options of
nginx and HAProxy (``options``), and what they share (``common``)."""

from __future__ import annotations

from typing import Any

from ..core.errors import UserError
from . import haproxy, nginx
from .common import SYSTEM_CA_BUNDLES, haproxy_service_in_config, render, switch_in_config, system_ca_bundle
from .nginx import NGINX_STANDALONE_TEMPLATE, NGINX_TEMPLATE
from .options import ProxyOptions, Settings, check_options

RENDERERS = {"nginx": nginx.config, "haproxy": haproxy.config}


def generate_config(kind: str, options: ProxyOptions) -> str:
    """The configuration text for ``kind`` ("nginx" or "haproxy")."""
    settings = check_options(kind, options)
    if kind not in RENDERERS:
        raise UserError(f"--kind must be nginx or haproxy, not {kind!r}")
    return RENDERERS[kind](settings)


def generate(kind: str, endpoint: str, **options: Any) -> str:
    """``generate_config`` with the options as keywords (those of ``ProxyOptions``)."""
    return generate_config(kind, ProxyOptions(endpoint=endpoint, **options))


__all__ = ["NGINX_STANDALONE_TEMPLATE", "NGINX_TEMPLATE", "SYSTEM_CA_BUNDLES", "ProxyOptions", "Settings",
           "check_options", "generate", "generate_config", "haproxy_service_in_config", "render",
           "switch_in_config", "system_ca_bundle"]
