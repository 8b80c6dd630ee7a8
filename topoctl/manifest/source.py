"""Where each value of the merged manifest came from, so every error can name file and line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from topoctl.errors import ManifestError
from topoctl.units import parse_duration, parse_size

Path = tuple[Any, ...]  # keys and list indexes from the document root


@dataclass
class SourceMap:
    """Path in the merged document -> "file:line" of the value that won the merge."""

    locations: dict[Path, str] = field(default_factory=dict)
    # The broker sections (`brokers.<name>`) that more than one file writes to: only there can a
    # later file override what an earlier one declared.
    shared: set[Path] = field(default_factory=set)
    # Whether the YAML held a value JSON cannot (NaN, infinity, a key that is not a string): only
    # then is the document walked to say where (the walk costs more than the schema check).
    json_unsafe: bool = False

    def where(self, path: Path) -> str | None:
        # The longest known prefix: a value without its own mark is located by its parent.
        for n in range(len(path), -1, -1):
            loc = self.locations.get(tuple(path[:n]))
            if loc is not None:
                return loc
        return None

    def update(self, other: SourceMap) -> None:
        self.locations.update(other.locations)
        self.shared.update(other.shared)
        self.json_unsafe |= other.json_unsafe


@dataclass(frozen=True, init=False)
class Context:
    """A position in the manifest: providers use it to locate their errors while compiling."""

    sources: SourceMap
    path: Path = ()

    def __init__(self, sources: SourceMap, path: Path = ()) -> None:
        # Compilers make several a declared object: straight into the instance dict, as a frozen
        # dataclass's own __init__ (object.__setattr__ per field) is three times slower.
        fields = self.__dict__
        fields["sources"], fields["path"] = sources, path

    def at(self, *keys: Any) -> Context:
        return Context(self.sources, self.path + keys)

    def where(self) -> str | None:
        return self.sources.where(self.path)

    def error(self, message: str) -> ManifestError:
        return ManifestError(message, self.where())

    def label(self) -> str:
        """The field being read, as a user wrote it: `max_age`, `backoff[1]`."""
        keys = [k for k in self.path if isinstance(k, str)]
        name = keys[-1] if keys else ""
        index = "".join(f"[{k}]" for k in self.path[len(self.path) - self._trailing_indexes() :])
        return name + index

    def _trailing_indexes(self) -> int:
        n = 0
        for key in reversed(self.path):
            if not isinstance(key, int):
                break
            n += 1
        return n

    def _value_error(self, exc: ValueError) -> ManifestError:
        # The value alone ("not a duration: '1 hour'") does not say which field holds it.
        label = self.label()
        message = str(exc)
        return self.error(message if not label or message.startswith(label) else f"{label}: {message}")

    # Helpers for the common conversions, so each provider reports bad values alike.
    def duration(self, value: object, unit: str = "ms") -> int:
        try:
            return parse_duration(value, unit)
        except ValueError as exc:
            raise self._value_error(exc) from None

    def size(self, value: object) -> int:
        try:
            return parse_size(value)
        except ValueError as exc:
            raise self._value_error(exc) from None

    def mapping(self, value: object) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(f"expected a mapping, got {type(value).__name__}")
        return value
