"""Every failure a user can cause or meet is a `TopoctlError`; the CLI maps them to exit codes.

Nothing below the CLI prints or exits: code raises one of these with a message that is complete on
its own (file:line for manifests, broker name and address for connections) and free of secrets.
"""

from __future__ import annotations


class TopoctlError(Exception):
    exit_code = 1


class ManifestError(TopoctlError):
    """A manifest problem; `location` is "file:line" when known."""

    def __init__(self, message: str, location: str | None = None) -> None:
        self.location = location
        self.detail = message
        super().__init__(f"{location}: {message}" if location else message)


class BrokerError(TopoctlError):
    """A broker could not be reached or refused a request."""

    def __init__(self, broker: str, address: str, message: str) -> None:
        self.broker = broker
        self.address = address
        super().__init__(f"broker {broker!r} ({address}): {message}")


class PartlyApplied(BrokerError):
    """A change failed after it had taken effect in part (a queue created, its attributes not yet
    set): the apply reports it as done, so the summary is true, and raises this as its failure."""


class PlanError(TopoctlError):
    """The plan cannot be made: a change no broker can perform, a conflict with live state."""


class StalePlanError(TopoctlError):
    pass


class DestructiveRefused(TopoctlError):
    pass


class ApplyError(TopoctlError):
    pass


class RouteError(TopoctlError):
    """A `route` question that cannot be asked: no such exchange, an internal one, options that do not
    fit the broker. (An unroutable message is an answer, not an error: `route` exits UNROUTABLE.)"""


# `topoctl route`: the message reaches no destination (documented in docs/routing.md).
UNROUTABLE = 3


class Interrupted(TopoctlError):
    """Ctrl-C (exit 130) or SIGTERM (143) during apply: nothing new was started after it."""

    exit_code = 130

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
