"""Shell completion values that depend on the command line: the formats of each command, and the
broker names and resource addresses of the manifests given with `-f` (read offline, like
`validate`; a manifest that does not load completes nothing rather than printing an error into
the user's prompt). Commands and options themselves are completed by typer/click."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# `--format` of each command (the CLI checks the same lists).
FORMATS = {
    "plan": ("text", "json", "markdown"),
    "show": ("text", "json", "markdown"),
    "graph": ("mermaid", "dot"),
    "route": ("text", "json"),
    "lint": ("text", "json", "sarif"),
    "asyncapi": ("yaml", "json"),
}


def _matching(values: Iterable[str], incomplete: str) -> list[str]:
    return sorted({v for v in values if v.startswith(incomplete)})


def formats(ctx: Any, incomplete: str) -> list[str]:
    return _matching(FORMATS.get(getattr(ctx, "info_name", None) or "", ()), incomplete)


def _manifest(ctx: Any) -> Any:
    files = (getattr(ctx, "params", None) or {}).get("files")
    if not files:
        return None
    try:
        from topoctl.manifest.loader import load_manifest

        return load_manifest(list(files))
    except Exception:  # completion must never fail loudly, nor print into the prompt
        return None


def brokers(ctx: Any, incomplete: str) -> list[str]:
    manifest = _manifest(ctx)
    return _matching(manifest.brokers if manifest is not None else (), incomplete)


def addresses(ctx: Any, incomplete: str) -> list[str]:
    """Addresses and their prefixes of whole segments (`shop-rabbit/`, `shop-rabbit/queue/`), so a
    `--target` can be completed a segment at a time as well as whole."""
    manifest = _manifest(ctx)
    if manifest is None:
        return []
    values: set[str] = set()
    for resource in manifest.resources:
        text = str(resource.address)
        values.add(text)
        parts = text.split("/")
        for n in range(1, len(parts)):
            values.add("/".join(parts[:n]) + "/")
    return _matching(values, incomplete)


def sources(ctx: Any, incomplete: str) -> list[str]:
    """Where `route --from` publishes: exchanges, SNS topics, and NATS brokers by name."""
    manifest = _manifest(ctx)
    if manifest is None:
        return []
    values = {str(r.address) for r in manifest.resources if r.kind in ("exchange", "sns_topic")}
    values |= {name for name, spec in manifest.brokers.items() if spec.type == "nats"}
    return _matching(values, incomplete)


def queues(ctx: Any, incomplete: str) -> list[str]:
    manifest = _manifest(ctx)
    if manifest is None:
        return []
    values = {str(r.address) for r in manifest.resources if r.kind == "queue" and r.address.broker in _rabbit(manifest)}
    return _matching(values, incomplete)


def _rabbit(manifest: Any) -> set[str]:
    return {name for name, spec in manifest.brokers.items() if spec.type == "rabbitmq"}
