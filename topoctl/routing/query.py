"""`topoctl route`: one message, routed on the manifest's topology or on the live one."""

from __future__ import annotations

from urllib.parse import unquote

from topoctl.errors import RouteError
from topoctl.manifest.loader import Manifest
from topoctl.providers import router_of
from topoctl.routing.model import Request, Route


def broker_of(manifest: Manifest, request: Request) -> str:
    """The broker a request is about: the first part of its address, or the only NATS broker."""
    names = list(manifest.brokers)
    given = request.source if request.source is not None else request.dead_letter_of
    if given is None:
        nats = [n for n, spec in manifest.brokers.items() if spec.type == "nats"]
        if request.subject is not None and len(nats) == 1:
            return nats[0]
        raise RouteError(
            "--from is needed: an exchange (<broker>/exchange/<vhost>/<name>), an SNS topic"
            " (<broker>/sns_topic/<name>) or, with --subject, a NATS broker's name"
        )
    broker = unquote(given.split("/", 1)[0])
    if broker not in manifest.brokers:
        raise RouteError(f"{given}: no broker {broker!r} in the manifest (have: {', '.join(names) or 'none'})")
    return broker


def route(manifest: Manifest, request: Request, live: bool = False) -> Route:
    broker = broker_of(manifest, request)
    spec = manifest.brokers[broker]
    router = router_of(spec.type)
    if router is None:
        raise RouteError(f"topoctl route does not model {spec.type} brokers yet (broker {broker!r})")
    message = router.message(broker, request)  # options checked before any broker is contacted
    if live:
        from topoctl.engine.planner import Session

        with Session(manifest) as session:
            resources = session.read([broker])
    else:
        resources = [r for r in spec.resources if not r.absent]
    found: Route = router.topology(broker, resources).route(message)
    return found
