"""Start-up (issue 10): `topoctl --version` and `topoctl --help` against the interpreter's own start.

    python bench/bench_startup.py [--runs 5]

Each command runs as a new process, in turns with `python -c pass` (the floor), and the medians
are compared: the target is floor + 0.15 s. No broker is contacted.
"""

from __future__ import annotations

import argparse
import sys

from timing import RUNS, cli, interleaved, process, target  # bench/timing.py

ALLOWANCE_S = 0.15


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=RUNS)
    opts = parser.parse_args(argv)

    medians = interleaved(
        {
            "pass": process(sys.executable, "-c", "pass"),
            "version": cli("--version"),
            "help": cli("--help"),
            "plan help": cli("plan", "--help"),
        },
        opts.runs,
    )
    floor = medians["pass"]
    ok = True
    commands = {"version": "`topoctl --version`", "help": "`topoctl --help`", "plan help": "`topoctl plan --help`"}
    for name, what in commands.items():
        cpu = f"{medians[name].cpu:.3f} s vs {floor.cpu:.3f} s"
        ok &= target(what, medians[name].wall, floor.wall, floor.wall + ALLOWANCE_S, "python -c pass + 0.15 s", cpu)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
