"""What topoctl costs without any broker (issue 10): validate, render, and how cost grows.

    python bench/bench_offline.py [--runs 5] [--sizes 1000,5000,10000,20000]

Uses the estate of bench/estate.py (four brokers, a file each). In one run:

* `validate` of 10,000 objects: `topoctl validate` as a process, minus `python -c pass` (the
  interpreter's own start), against PyYAML's C loader (`yaml.load(..., CSafeLoader)`) parsing
  the same files in-process. Target: <= 3 x the loader.
* rendering a plan that creates the 10,000 objects, as text, JSON and Markdown. Target: each
  under 1 s; the Markdown must fit a GitHub comment (65,536 characters).
* the growth table: for each size, the time per object of each step (parse + merge, schema,
  compile, diff of a no-change plan, diff of a create-everything plan, ordering into waves,
  rendering text / JSON / Markdown). Target: no step's time per object grows by more than half
  from one size to the next (a quadratic step doubles it at each doubling).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from estate import write  # bench/estate.py
from timing import RUNS, cli, interleaved, process, target  # bench/timing.py

from topoctl.engine.diff import diff
from topoctl.engine.order import waves
from topoctl.engine.planner import Session
from topoctl.manifest.loader import load_manifest, read_documents
from topoctl.manifest.schema import validate_document
from topoctl.model import Plan
from topoctl.render import render

GITHUB_COMMENT_MAX = 65_536
GROWTH_STEP_MAX = 1.5  # per-object time may grow by this factor from one size to the next


def validate_row(paths: list[Path], runs: int) -> bool:
    texts = [p.read_text(encoding="utf-8") for p in paths]
    files = [a for p in paths for a in ("-f", str(p))]
    medians = interleaved(
        {
            "pass": process(sys.executable, "-c", "pass"),
            "validate": cli("validate", *files),
            "loader": lambda: [yaml.load(t, Loader=yaml.CSafeLoader) for t in texts],
        },
        runs,
    )
    measured = medians["validate"].wall - medians["pass"].wall
    loader = medians["loader"].wall
    cpu = f"{medians['validate'].cpu - medians['pass'].cpu:.3f} s vs {medians['loader'].cpu:.3f} s"
    return target("validate, 10,000 objects (process - start-up)", measured, loader, 3 * loader, "3 x C loader", cpu)


def create_plan(session: Session, desired: list[Any]) -> Plan:
    return diff(desired, [], session.spec_of)


def render_rows(paths: list[Path], runs: int) -> bool:
    manifest = load_manifest([str(p) for p in paths])
    session = Session(manifest)
    plan = create_plan(session, manifest.resources)
    texts: dict[str, str] = {}

    def rendered(fmt: str) -> Callable[[], object]:
        return lambda: texts.__setitem__(fmt, render(plan, fmt))

    medians = interleaved({fmt: rendered(fmt) for fmt in ("text", "json", "markdown")}, runs)
    ok = True
    for fmt, sample in medians.items():
        ok &= target(f"render {len(plan.changes):,}-create plan as {fmt}", sample.wall, 0.0, 1.0, "1 s")
    size = len(texts["markdown"])
    fits = size <= GITHUB_COMMENT_MAX
    print(
        f"TARGET {'Markdown of it fits a PR comment':<44} | {size:8d} ch | limit {GITHUB_COMMENT_MAX} ch | "
        f"{'OK' if fits else 'MISSED'}"
    )
    return ok and fits


def steps(paths: list[Path]) -> dict[str, Callable[[], object]]:
    names = [str(p) for p in paths]
    manifest = load_manifest(names)
    document, sources = read_documents(names)
    session = Session(manifest)
    desired = manifest.resources
    creating = create_plan(session, desired)
    return {
        "parse + merge": lambda: read_documents(names),
        "schema": lambda: validate_document(document, sources),
        "load + compile": lambda: load_manifest(names),
        "diff, no change": lambda: diff(desired, desired, session.spec_of),
        "diff, all create": lambda: create_plan(session, desired),
        "order into waves": lambda: waves(creating),
        "render text": lambda: render(creating, "text"),
        "render json": lambda: render(creating, "json"),
        "render markdown": lambda: render(creating, "markdown"),
    }


def growth(sizes: list[int], runs: int, tmp: Path) -> bool:
    table: dict[str, dict[int, float]] = {}
    objects: dict[int, int] = {}
    for size in sizes:
        paths = write(size, tmp / f"growth-{size}")
        objects[size] = len(load_manifest([str(p) for p in paths]).resources)
        for step, sample in interleaved(steps(paths), runs).items():
            table.setdefault(step, {})[size] = sample.wall / objects[size]
    print(
        f"growth: microseconds per object (median of {runs}); objects: " + ", ".join(f"{objects[s]:,}" for s in sizes)
    )
    print(f"  {'step':<20}" + "".join(f"{s:>10,}" for s in sizes) + "   worst step")
    ok = True
    for step, per in table.items():
        worst = max(per[b] / per[a] for a, b in itertools.pairwise(sizes)) if len(sizes) > 1 else 1.0
        ok &= worst <= GROWTH_STEP_MAX
        print(f"  {step:<20}" + "".join(f"{per[s] * 1e6:10.1f}" for s in sizes) + f"   x{worst:.2f}")
    label = f"growth {sizes[0]:,}..{sizes[-1]:,}: worst step per object"
    worst_all = (
        max(max(per[b] / per[a] for a, b in itertools.pairwise(sizes)) for per in table.values())
        if len(sizes) > 1
        else 1.0
    )
    print(f"TARGET {label:<44} | {worst_all:8.2f} x | limit {GROWTH_STEP_MAX} x | {'OK' if ok else 'MISSED'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--sizes", default="1000,5000,10000,20000")
    parser.add_argument("--only", choices=("validate", "render", "growth"), help="run one part")
    opts = parser.parse_args(argv)
    sizes = [int(s) for s in opts.sizes.split(",")]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        estate = write(10_000, Path(tmp) / "estate")
        if opts.only in (None, "validate"):
            ok &= validate_row(estate, opts.runs)
        if opts.only in (None, "render"):
            ok &= render_rows(estate, opts.runs)
        if opts.only in (None, "growth"):
            ok &= growth(sizes, opts.runs, Path(tmp))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
