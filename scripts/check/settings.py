"""What `verify` takes: ``VerifyOptions``, one field per command-line option."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerifyOptions:
    """The endpoint by ``url`` or by ``stack_name`` (with ``profile`` and ``region``); what it
    must answer (``content``, ``retry_after``, ``page_path``, ``template``, ``strict``); the
    load probe (``requests``, ``concurrency``, ``max_time``); the connection (``timeout``,
    ``ca_bundle``, ``connect_to``)."""

    url: str | None = None
    stack_name: str | None = None
    profile: str | None = None
    region: str | None = None
    content: str | None = None
    retry_after: str | None = None
    page_path: str | None = None
    template: str | None = None
    strict: bool = False
    requests: int = 100
    concurrency: int = 4
    max_time: float = 60.0
    timeout: float = 10.0
    ca_bundle: str | None = None
    connect_to: tuple[str, int] | None = None
