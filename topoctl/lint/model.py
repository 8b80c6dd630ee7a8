"""What lint works with: rules, findings, and the manifest as rules see it (resources with lines)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from topoctl.manifest.loader import Manifest
from topoctl.manifest.source import Path as DocPath
from topoctl.manifest.source import SourceMap
from topoctl.model import Address, Resource
from topoctl.providers.base import Flow


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"  # SARIF's word for "info": shown, never fails the run

    @property
    def rank(self) -> int:
        return {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}[self]


SEVERITY_WORDS = tuple(s.value for s in Severity)
OFF = "off"


@dataclass(frozen=True)
class RuleInfo:
    """A rule as the outputs describe it (SARIF's `reportingDescriptor`, docs/lint.md)."""

    id: str
    summary: str  # one line, what the rule wants
    severity: Severity
    help: str = ""  # how to satisfy it; docs/lint.md says more
    default: bool = True  # one of the shipped rules (False: a team's rule from the config)


@dataclass(frozen=True)
class Location:
    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"

    @classmethod
    def parse(cls, text: str | None) -> Location | None:
        """`file:line`, or `file:line, overridden at other:line` (the override is where to look)."""
        if not text:
            return None
        where = text.rsplit(", overridden at ", 1)[-1]
        file, _, line = where.rpartition(":")
        if not file or not line.isdigit():
            return None
        return cls(file, int(line))


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    location: Location | None
    address: Address | None = None
    suppressed: str | None = None  # the reason given in `# topoctl:ignore RULE reason`

    @property
    def sort_key(self) -> tuple[str, int, str, str]:
        loc = self.location
        return (loc.file if loc else "", loc.line if loc else 0, self.rule, self.message)


@dataclass
class Subject:
    """The manifest as rules see it: compiled resources (normalised values, generated dead-letter
    objects included), the message flows between them, and where each resource and field was written."""

    manifest: Manifest
    document: Mapping[str, Any]
    sources: SourceMap
    flows: list[Flow]
    _entries: dict[str, DocPath] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # "file:line" of a resource entry -> its path in the document: the shortest path at that
        # line (`billing: {type: quorum}` puts the entry and its fields on one line).
        for path, loc in self.sources.locations.items():
            if len(path) < 2 or path[0] != "brokers":
                continue
            known = self._entries.get(loc)
            if known is None or len(path) < len(known):
                self._entries[loc] = path

    def broker_type(self, resource: Resource) -> str:
        return self.manifest.brokers[resource.broker].type

    def resources(self, broker_type: str | None = None, kinds: Iterable[str] = ()) -> Iterator[Resource]:
        wanted = set(kinds)
        for spec in self.manifest.brokers.values():
            if broker_type is not None and spec.type != broker_type:
                continue
            for resource in spec.resources:
                if resource.absent or (wanted and resource.kind not in wanted):
                    continue
                yield resource

    def location(self, resource: Resource, field_path: Sequence[str] = ()) -> Location | None:
        """The line of `field_path` in the resource's entry when it is written there, else the entry's."""
        entry = Location.parse(resource.source)
        if entry is None or not field_path:
            return entry
        doc_path = self._entries.get(str(entry))
        if doc_path is None:
            return entry
        found = _locate(self.document, doc_path, list(field_path))
        return Location.parse(self.sources.locations.get(found)) or entry if found else entry

    def at(self, path: DocPath) -> Location | None:
        return Location.parse(self.sources.where(path))


def _locate(document: Mapping[str, Any], entry: DocPath, field_path: list[str]) -> DocPath | None:
    """The document path of a dotted field below an entry, matching keys that contain dots themselves
    (`config.retention.ms` is `config` -> `retention.ms`); None when the field is not written there."""
    node: Any = document
    for key in entry:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    path: list[Any] = list(entry)
    parts = field_path
    while parts:
        if not isinstance(node, Mapping):
            return None
        for n in range(len(parts), 0, -1):
            key = ".".join(parts[:n])
            if key in node:
                node, path, parts = node[key], [*path, key], parts[n:]
                break
        else:
            return None
    return tuple(path)


Check = Callable[[Subject, Mapping[str, Any]], Iterable[Finding]]
"""A rule's check: (the manifest, the rule's options) -> its findings (severity filled in later)."""


@dataclass(frozen=True)
class Rule:
    info: RuleInfo
    check: Check
    options: Mapping[str, Any] = field(default_factory=dict)
