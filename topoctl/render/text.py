"""The human plan: Terraform's symbols, field-level `old -> new`, destructive changes called out."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from topoctl.model import JSON, Action, Change, FieldChange, Plan, Summary
from topoctl.units import readable

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.REPLACE: "-/+", Action.DELETE: "-"}
VERB = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "must be replaced",
    Action.DELETE: "will be destroyed",
}
NO_CHANGES = "No changes. The brokers match the manifest."


def value(v: JSON) -> str:
    # Plain strings, integers and flags are most values of a big plan: skip the JSON encoder for them.
    if isinstance(v, str) and v.isprintable() and '"' not in v and "\\" not in v:
        return f'"{v}"'
    if v is True or v is False or v is None:
        return _JSON_CONSTANTS[v]
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)


_JSON_CONSTANTS = {True: "true", False: "false", None: "null"}


def shown(v: JSON, path: str, units: Mapping[str, str]) -> str:
    """`value`, with durations and sizes the way a manifest writes them (`"30d"`, not nanoseconds)."""
    unit = units.get(path)
    return value(readable(v, unit) if unit else v)


def summary_line(summary: Summary) -> str:
    return f"Plan: {summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."


def flatten(prefix: str, before: JSON, after: JSON) -> Iterator[tuple[str, JSON, JSON]]:
    """Maps are shown key by key, so a one-argument change reads as one line."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        for key in sorted(set(before) | set(after), key=str):
            if before.get(key) != after.get(key):
                yield from flatten(f"{prefix}.{key}", before.get(key), after.get(key))
    else:
        yield prefix, before, after


def _attr_lines(attrs: Mapping[str, JSON] | None, sign: str, units: Mapping[str, str]) -> list[str]:
    if not attrs:
        return []
    rows: list[tuple[str, str]] = []
    for name in sorted(attrs):
        v = attrs[name]
        if isinstance(v, Mapping) and v:
            rows += [(path, shown(after, path, units)) for path, _, after in flatten(name, {}, v)]
        else:
            rows.append((name, shown(v, name, units)))
    width = max(len(p) for p, _ in rows)
    return [f"      {sign} {p.ljust(width)} = {v}" for p, v in rows]


def _field_lines(fields: tuple[FieldChange, ...], units: Mapping[str, str]) -> list[str]:
    rows: list[tuple[str, str, bool]] = []
    for f in fields:
        for path, before, after in flatten(f.field, f.before, f.after):
            old, new = shown(before, path, units), shown(after, path, units)
            if after is None and f.unmanaged:
                text = f"{old} (not in the manifest, kept)"
            elif after is None:
                text = f"{old} -> (removed)"
            elif before is None:
                text = f"(unset) -> {new}"
            else:
                text = f"{old} -> {new}"
            rows.append((path, text, f.forces_replacement))
    if not rows:
        return []
    width = max(len(p) for p, _, _ in rows)
    return [f"      ~ {p.ljust(width)} = {t}" + ("   # forces replacement" if forced else "") for p, t, forced in rows]


def render_change(change: Change) -> list[str]:
    lines = [f"  # {change.address} {VERB[change.action]}" + (" (destructive)" if change.destructive else "")]
    if change.source:
        lines.append(f"  #   declared at {change.source}")
    lines.append(f"{SYMBOL[change.action].rjust(3)} {change.kind} {value(change.address.display_name)}")
    if change.action is Action.CREATE:
        lines += _attr_lines(change.after, "+", change.units)
    elif change.action is Action.DELETE:
        lines += _attr_lines(change.before, "-", change.units)
    else:
        lines += _field_lines(change.fields, change.units)
    lines += [f"      ! {r}" for r in change.reasons]
    lines += [f"      # {n}" for n in change.notes]
    return lines


def render_text(plan: Plan) -> str:
    if plan.empty:
        out = [NO_CHANGES]
        if plan.notes:
            out += ["", "Notes (nothing to apply):"]
            for note in plan.notes:
                out += [f"  # {note.address}"] + [f"      # {n}" for n in note.notes]
        return "\n".join(out) + "\n"
    out = ["topoctl will perform the following actions:", ""]
    for change in plan.changes:
        out += render_change(change)
        out.append("")
    for note in plan.notes:
        out += [f"  # {note.address} (unchanged)"] + [f"      # {n}" for n in note.notes]
        out.append("")
    if plan.routing:
        from topoctl.render.routing import text_lines

        out += text_lines(plan.routing)
    destructive = plan.destructive
    if destructive:
        out.append(
            f"Warning: {len(destructive)} destructive change(s): {', '.join(str(c.address) for c in destructive[:10])}"
            + (" ..." if len(destructive) > 10 else "")
        )
        out.append("         `topoctl apply` refuses them unless --allow-destructive is given.")
        out.append("")
    out.append(summary_line(plan.summary))
    return "\n".join(out) + "\n"
