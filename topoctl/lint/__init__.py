"""`topoctl lint`: rules that platform teams enforce in review, checked offline on the manifests.

The shipped rules (rules.py) and a team's own (custom.py, from the lint config, config.py) run on the
compiled manifest; findings carry `file:line`, a rule id and a severity; `# topoctl:ignore RULE
reason` comments suppress them (suppress.py); output.py writes text, JSON or SARIF 2.1.0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from topoctl.lint.model import Finding, Location, RuleInfo, Severity, Subject
from topoctl.lint.suppress import NO_REASON, UNUSED


@dataclass(frozen=True)
class Report:
    findings: list[Finding]  # sorted by file and line; suppressed ones included (their reason set)
    rules: list[RuleInfo]  # the rules in force
    config: str | None = None

    @property
    def active(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed is None]

    @property
    def failed(self) -> bool:
        return any(f.severity is Severity.ERROR for f in self.active)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.active if f.severity is severity)


def run(paths: Sequence[str], config: str | None = None) -> Report:
    """Load and validate the manifests (a bad one is the usual ManifestError), then lint them."""
    from topoctl.graph import graph_of
    from topoctl.lint.config import find_config, load_rules
    from topoctl.lint.rules import all_findings
    from topoctl.lint.suppress import apply, scan_files
    from topoctl.manifest.loader import expand_paths, load_manifest, read_documents

    config_path = find_config(config)
    rules = load_rules(config_path)
    manifest = load_manifest(paths)
    document, sources = read_documents(paths)
    subject = Subject(manifest, document, sources, graph_of(manifest).flows)
    found = list(all_findings(rules, subject))
    entry_of = {r.address: Location.parse(r.source) for r in manifest.resources}
    entries = [entry_of.get(f.address) if f.address else None for f in found]
    findings = apply(found, entries, scan_files(expand_paths(paths)))
    severity = {r.info.id: r.info.severity for r in rules}
    out = []
    for finding in findings:
        if finding.rule in (NO_REASON, UNUSED):
            if finding.rule not in severity:
                continue  # turned off in the config
            finding = replace(finding, severity=severity[finding.rule])
        out.append(finding)
    out.sort(key=lambda f: f.sort_key)
    return Report(out, [r.info for r in rules], str(config_path) if config_path else None)
