"""Lint reports as text (people), JSON (scripts) and SARIF 2.1.0 (GitHub code scanning)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePath
from typing import Any

from topoctl import __version__
from topoctl.lint import Report
from topoctl.lint.model import Finding, Severity

LINT_FORMATS = ("text", "json", "sarif")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary(report: Report) -> str:
    counts = [_plural(report.count(s), s.value) for s in Severity if report.count(s)]
    suppressed = len(report.findings) - len(report.active)
    line = ", ".join(counts) if counts else "No findings"
    if suppressed:
        line += f" ({suppressed} suppressed)"
    return line + "."


def render_text(report: Report) -> str:
    lines = []
    for f in report.active:
        where = f"{f.location}: " if f.location else ""
        lines.append(f"{where}{f.severity.value} [{f.rule}] {f.message}")
    if lines:
        lines.append("")
    lines.append(summary(report))
    return "\n".join(lines) + "\n"


def _finding_json(f: Finding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "rule": f.rule,
        "severity": f.severity.value,
        "message": f.message,
        "file": f.location.file if f.location else None,
        "line": f.location.line if f.location else None,
        "address": str(f.address) if f.address else None,
    }
    if f.suppressed is not None:
        out["suppressed"] = f.suppressed
    return out


def render_json(report: Report) -> str:
    document = {
        "findings": [_finding_json(f) for f in report.findings],
        "summary": {
            **{s.value: report.count(s) for s in Severity},
            "suppressed": len(report.findings) - len(report.active),
        },
        "rules": [{"id": r.id, "severity": r.severity.value, "summary": r.summary} for r in report.rules],
        "config": report.config,
    }
    return json.dumps(document, indent=2) + "\n"


def _uri(file: str) -> str:
    """A path relative to the directory lint ran in (the repository root in CI), with `/`, as code
    scanning matches it against the repository's files."""
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.relative_to(Path.cwd())
        except ValueError:
            return path.as_uri()
    return PurePath(os.path.normpath(path)).as_posix()


def render_sarif(report: Report) -> str:
    rules = report.rules
    index = {r.id: i for i, r in enumerate(rules)}
    descriptors = [
        {
            "id": r.id,
            "name": "".join(part.title() for part in r.id.replace(".", "-").replace("_", "-").split("-")),
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": f"{r.summary} {r.help}".strip()},
            "help": {"text": r.help or r.summary},
            "defaultConfiguration": {"level": r.severity.value},
            "properties": {"tags": ["topoctl", "shipped" if r.default else "team"]},
        }
        for r in rules
    ]
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": f.severity.value,
            "message": {"text": f.message},
        }
        if f.rule in index:
            result["ruleIndex"] = index[f.rule]
        location: dict[str, Any] = {}
        if f.location is not None:
            location["physicalLocation"] = {
                "artifactLocation": {"uri": _uri(f.location.file), "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": f.location.line},
            }
        if f.address is not None:
            location["logicalLocations"] = [{"fullyQualifiedName": str(f.address), "kind": "resource"}]
        if location:
            result["locations"] = [location]
        # Stable across edits that move lines: what the finding is about, not where it is.
        identity = f"{f.rule}\0{f.address or (f.location.file if f.location else '')}\0{f.message}"
        result["partialFingerprints"] = {"topoctlFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]}
        if f.suppressed is not None:
            result["suppressions"] = [{"kind": "inSource", "justification": f.suppressed}]
        results.append(result)
    document = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "topoctl",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": descriptors,
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def render(report: Report, fmt: str) -> str:
    if fmt == "json":
        return render_json(report)
    if fmt == "sarif":
        return render_sarif(report)
    return render_text(report)
