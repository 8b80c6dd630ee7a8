"""Routing analysis: where a message goes, and which messages a plan re-routes.

* `model`: the message, its path and destinations, and the `Router` seam each broker family
  implements in `topoctl/providers/<type>/routing.py` (RabbitMQ, SNS, NATS JetStream).
* `query`: `topoctl route`, on the manifest's topology or (`--live`) on what the drivers read.
* `changes`: the plan's "Routing changes", representative messages routed before and after.

Everything but the `--live` read is pure. See docs/routing.md for the exact semantics.
"""
