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
  rendering text / JSON / Markdown), in CPU time (the least of the runs: the least disturbed).
  Target: every step's time grows as n^e with e <= 1.2, fitted over all sizes (linear is 1, a
  quadratic step 2).
"""

from __future__ import annotations

import argparse
import gc
import math
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from estate import write  # bench/estate.py
from timing import RUNS, cli, interleaved, process, target  # bench/timing.py

from topoctl.collector import collector_paused
from topoctl.engine.diff import diff
from topoctl.engine.order import waves
from topoctl.engine.planner import Session
from topoctl.manifest.loader import load_manifest, read_documents
from topoctl.manifest.schema import validate_document
from topoctl.model import Plan
from topoctl.render import render

GITHUB_COMMENT_MAX = 65_536
GROWTH_EXPONENT_MAX = 1.2  # time ~ n^e: 1 is linear, 2 quadratic
GROWTH_FLOOR_US = 2.0  # steps cheaper than this per object are not judged


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
        what = f"render {len(plan.changes):,}-create plan as {fmt}"
        ok &= target(what, sample.wall, 0.0, 1.0, "1 s", f"{sample.cpu:.3f} s")
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
        "parse + merge": lambda: _paused(lambda: read_documents(names)),  # as load_manifest runs it
        "schema": lambda: validate_document(document, sources),
        "load + compile": lambda: load_manifest(names),
        "diff, no change": lambda: diff(desired, desired, session.spec_of),
        "diff, all create": lambda: create_plan(session, desired),
        "order into waves": lambda: waves(creating),
        "render text": lambda: render(creating, "text"),
        "render json": lambda: render(creating, "json"),
        "render markdown": lambda: render(creating, "markdown"),
    }


def _paused(fn: Callable[[], object]) -> object:
    with collector_paused():
        return fn()


def growth(sizes: list[int], runs: int, tmp: Path) -> bool:
    """Every step at every size, in turns (run 1: each size, each step; run 2: ...), timed in CPU
    seconds of this process: load from elsewhere lengthens CPU time little and hits no size alone."""
    objects: dict[int, int] = {}
    fns: dict[tuple[str, int], Callable[[], object]] = {}
    for size in sizes:
        paths = write(size, tmp / f"growth-{size}")
        objects[size] = len(load_manifest([str(p) for p in paths]).resources)
        fns.update({(step, size): fn for step, fn in steps(paths).items()})
    # What the steps hold (manifests and plans of every size) stays alive for the whole run: frozen,
    # the collector does not scan it again and again, as it would not in a topoctl process holding
    # one manifest. Otherwise the sizes big enough to set off full collections pay for the others'.
    gc.collect()
    gc.freeze()
    samples = interleaved({f"{step}@{size}": fn for (step, size), fn in fns.items()}, runs)
    gc.unfreeze()
    table: dict[str, dict[int, float]] = {}
    for step, size in fns:
        table.setdefault(step, {})[size] = samples[f"{step}@{size}"].cpu_min / objects[size]
    counts = ", ".join(f"{objects[s]:,}" for s in sizes)
    print(f"growth: CPU microseconds per object (least of {runs} runs); objects: {counts}")
    print(f"  {'step':<20}" + "".join(f"{s:>10,}" for s in sizes) + "   exponent")
    worst = 0.0
    for step, per in table.items():
        # The exponent e of time ~ n^e, fitted over every size (least squares on logs): 1 is
        # linear, 2 quadratic. Fitted over all sizes it shrugs off one noisy measurement, which a
        # ratio of two neighbouring sizes does not. Steps under 2 us an object are not judged.
        e = _exponent([objects[s] for s in sizes], [per[s] * objects[s] for s in sizes])
        if min(per.values()) * 1e6 >= GROWTH_FLOOR_US:
            worst = max(worst, e)
        print(f"  {step:<20}" + "".join(f"{per[s] * 1e6:10.1f}" for s in sizes) + f"   n^{e:.2f}")
    ok = worst <= GROWTH_EXPONENT_MAX
    label = f"growth {sizes[0]:,}..{sizes[-1]:,}: worst exponent"
    print(
        f"TARGET {label:<44} | {worst:8.2f}   | linear 1.00, quadratic 2.00 | <= {GROWTH_EXPONENT_MAX} | "
        f"{'OK' if ok else 'MISSED'}"
    )
    return ok


def _exponent(sizes: list[int], totals: list[float]) -> float:
    xs = [math.log(n) for n in sizes]
    ys = [math.log(max(t, 1e-9)) for t in totals]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)


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
