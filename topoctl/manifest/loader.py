"""Manifest files -> a validated, compiled `Manifest`: desired resources per broker.

Steps: expand `-f` paths, parse each file (line numbers kept), deep-merge in order (later wins),
validate against the JSON Schema, then let each broker's provider compile its section. Every
failure is a ManifestError naming file and line. No broker is contacted here.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from topoctl.collector import collector_paused
from topoctl.errors import ManifestError
from topoctl.manifest.schema import validate_document
from topoctl.manifest.source import Context, SourceMap
from topoctl.manifest.source import Path as DocPath
from topoctl.manifest.yaml_source import load_yaml
from topoctl.model import Address, Resource
from topoctl.providers import provider
from topoctl.providers.base import Compiled
from topoctl.units import NON_FINITE, non_finite, non_string_key, non_string_key_message

MANIFEST_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class BrokerSpec:
    name: str
    type: str
    connection: Mapping[str, Any]
    compiled: Compiled
    where: str | None = None

    @property
    def resources(self) -> list[Resource]:
        return self.compiled.resources


@dataclass(frozen=True)
class Manifest:
    brokers: Mapping[str, BrokerSpec]
    paths: tuple[str, ...] = ()
    document: Mapping[str, Any] = field(default_factory=dict)

    @property
    def resources(self) -> list[Resource]:
        return [r for b in self.brokers.values() for r in b.resources]

    @property
    def warnings(self) -> list[str]:
        return [w for b in self.brokers.values() for w in b.compiled.warnings]


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files as given; a directory means its `*.yaml`/`*.yml` files, in name order."""
    if not paths:
        raise ManifestError("no manifest given (use -f FILE_OR_DIR)")
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists() and any(c in raw for c in "*?["):  # a glob the shell did not expand (quoted, CI)
            matched = sorted(Path(p) for p in glob.glob(raw) if Path(p).is_file())
            if not matched:
                raise ManifestError(f"{raw}: matches no file")
            files.extend(matched)
            continue
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in MANIFEST_SUFFIXES and p.is_file())
            if not found:
                raise ManifestError(f"{raw}: directory holds no *.yaml or *.yml file")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ManifestError(f"{raw}: no such file or directory")
    return files


def read_documents(paths: Sequence[str], env: Mapping[str, str] | None = None) -> tuple[dict[str, Any], SourceMap]:
    """Parse and deep-merge the files; no validation."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = {}
    sources = SourceMap()
    files = expand_paths(paths)
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ManifestError(f"not UTF-8 text (byte {exc.start}: {exc.reason})", str(path)) from None
        except OSError as exc:
            raise ManifestError(f"cannot read: {exc.strerror or exc}", str(path)) from None
        doc, doc_sources = load_yaml(text, str(path), env)
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise ManifestError("a manifest must be a mapping (version: 1, brokers: ...)", f"{path}:1")
        _merge_located(merged, doc, sources, doc_sources)
    if not sources.locations:
        names = ", ".join(str(f) for f in files)
        raise ManifestError(f"{names}: no manifest content (a manifest starts with `version: 1`)")
    return merged, sources


def _merge_located(base: dict[str, Any], over: Mapping[str, Any], sources: SourceMap, over_sources: SourceMap) -> None:
    """Merge `over` into `base` and say where each value now comes from: a mapping that both files
    have keeps the line of its first declaration, everything else the later file's line."""
    mappings: set[DocPath] = set()
    _merge(base, over, (), sources, mappings)
    sources.shared.update(path[:2] for path in mappings if len(path) >= 2)
    sources.json_unsafe |= over_sources.json_unsafe
    # One pass over the later file's locations (not one walk per merged value): linear in the file.
    locations = sources.locations
    for path, where in over_sources.locations.items():
        if path not in mappings or path not in locations:
            locations[path] = where


def _merge(
    base: dict[str, Any], over: Mapping[str, Any], path: DocPath, sources: SourceMap, mappings: set[DocPath]
) -> None:
    """Deep merge of mappings, later wins; lists and scalars are replaced whole. Records in
    `mappings` the paths of the mappings merged key by key."""
    mappings.add(path)
    for key, value in over.items():
        sub = (*path, key)
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, sub, sources, mappings)
            continue
        replaced = base.get(key)
        base[key] = value
        if isinstance(replaced, (dict, list)):  # a scalar has nothing located below it
            _drop_locations(replaced, sub, sources)


def _drop_locations(value: Any, path: DocPath, sources: SourceMap) -> None:
    """Forget where the parts of a replaced value were: walks the value, not the whole map, so an
    override file of thousands of keys merges in linear time."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for k, v in items:
        sub = (*path, k)
        sources.locations.pop(sub, None)
        if isinstance(v, (dict, list)):
            _drop_locations(v, sub, sources)


def load_manifest(
    paths: Sequence[str],
    env: Mapping[str, str] | None = None,
    parsed: Callable[[Mapping[str, Any]], object] | None = None,
    compiled: Callable[[str, Compiled], object] | None = None,
) -> Manifest:
    """`parsed` is shown the merged document as soon as it is read, before it is validated and
    compiled: a plan starts reading its broker from it (see `engine.ahead`). `compiled` is shown
    each broker's section once it is compiled (valid), while the rest of the manifest is not yet."""
    with collector_paused():
        return _load_manifest(paths, env, parsed, compiled)


def _load_manifest(
    paths: Sequence[str],
    env: Mapping[str, str] | None,
    parsed: Callable[[Mapping[str, Any]], object] | None,
    compiled_hook: Callable[[str, Compiled], object] | None,
) -> Manifest:
    document, sources = read_documents(paths, env)
    if parsed is not None:
        parsed(document)
    validate_document(document, sources)
    brokers: dict[str, BrokerSpec] = {}
    for name, section in (document.get("brokers") or {}).items():
        ctx = Context(sources, ("brokers", name))
        if sources.json_unsafe:
            _check_json_values(section, ctx)
        info = provider(section["type"])
        compiled = info.compile(name, section, ctx)
        _check_unique(compiled, ctx)
        if compiled_hook is not None:
            compiled_hook(name, compiled)
        brokers[name] = BrokerSpec(
            name=name,
            type=section["type"],
            connection=section.get("connection") or {},
            compiled=compiled,
            where=ctx.where(),
        )
    _name_overrides(brokers, sources)
    return Manifest(brokers=brokers, paths=tuple(str(p) for p in paths), document=document)


def _check_json_values(section: Mapping[str, Any], ctx: Context) -> None:
    """What YAML can say and no broker API (JSON) can: NaN and infinity, keys that are numbers,
    booleans or null. Refused for every broker type at once, before its compiler runs."""
    bad = non_finite(section)
    if bad is not None:
        raise ctx.at(*bad).error(NON_FINITE)
    key_path = non_string_key(section)
    if key_path is not None:
        raise ctx.at(*key_path).error(non_string_key_message(key_path[-1]))


def _name_overrides(brokers: Mapping[str, BrokerSpec], sources: SourceMap) -> None:
    """`-f base.yaml -f prod.yaml`: a resource declared in one file and changed by a later one says
    both (`base.yaml:12, overridden at prod.yaml:4`), so the plan points at the line that changed it.
    One pass over the located values: each marks the nearest resource entry around it when that was
    declared in another file; the first line of the last file that did so is named."""
    # A value and the resource entry around it are in the same broker (`brokers.<name>`): only the
    # brokers that more than one file writes to can have an override. One file, or an estate split
    # one file per broker, has none and skips the walk.
    shared = sources.shared
    if not shared:
        return
    files = list(dict.fromkeys(_file_of(loc) for loc in sources.locations.values()))
    rank = {file: i for i, file in enumerate(files)}

    def order(location: str) -> tuple[int, int]:
        file, _, line = location.rpartition(":")
        return (-rank[file], int(line) if line.isdigit() else 0)

    entries = {r.source for spec in brokers.values() for r in spec.resources if r.source}
    overridden: dict[str, str] = {}  # location of an entry -> location of the override to name
    for path, loc in sources.locations.items():
        if path[:2] not in shared or loc in entries:
            continue  # an entry itself (a queue added by prod.yaml) overrides nothing above it
        for n in range(len(path) - 1, 1, -1):
            above = sources.locations.get(path[:n])
            if above not in entries:
                continue
            # The nearest resource around the value: changed from another file, or not at all.
            if _file_of(above) != _file_of(loc) and (above not in overridden or order(loc) < order(overridden[above])):
                overridden[above] = loc
            break
    for spec in brokers.values():
        resources = spec.compiled.resources
        for i, resource in enumerate(resources):
            if resource.source in overridden:
                where = f"{resource.source}, overridden at {overridden[resource.source]}"
                resources[i] = replace(resource, source=where)


def _file_of(location: str) -> str:
    return location.rpartition(":")[0]


def _check_unique(compiled: Compiled, ctx: Context) -> None:
    seen: dict[Address, Resource] = {}  # addresses are equal exactly when their texts are
    for resource in compiled.resources:
        key = resource.address
        if key in seen:
            raise ManifestError(
                f"{key} is declared twice (also at {seen[key].source or 'another place'})",
                resource.source or ctx.where(),
            )
        seen[key] = resource
