"""Wall time and memory of each phase of one `seats lottery run`, in process.

    python benchmarks/lottery_phases.py lottery run --schools S --applicants A --seed X \
        --out OUT --force [--policy P]

The arguments are the CLI's. Each phase (a function of seats.lottery the run calls) is wrapped
to print, on stderr, when it ended since the start, its own wall time and the resident memory
before -> after it and the peak so far (VmRSS, VmHWM of /proc/self/status). Phases nest:
`allocate` holds `priorities`. The same names exist in older commits, so that
``PYTHONPATH=<old checkout> python benchmarks/lottery_phases.py ...`` measures the same phases
of the code before a change.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time

START = time.perf_counter()
# (module, function): where the run looks each phase up
PHASES = [
    *[
        ("seats.lottery.problem", name)
        for name in ("read_table", "read_applicants", "_check_rules", "units_of", "expand_groups")
    ],
    ("seats.lottery.allocation", "priorities"),
    ("seats.lottery.kernels", "_deferred_acceptance_units"),  # called as kernels.<name>
    *[
        ("seats.lottery.run", name)
        for name in ("allocate", "waitlists", "school_results", "write_results")
    ],
]


def memory_mb() -> tuple[float, float]:
    """(resident, peak resident) MiB of this process."""
    with open("/proc/self/status") as handle:
        fields = dict(line.split(":", 1) for line in handle)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def timed(module, name: str) -> None:
    """Replace module.name by a wrapper that reports each call."""
    func = getattr(module, name)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        begin, before = time.perf_counter(), memory_mb()[0]
        try:
            return func(*args, **kwargs)
        finally:
            now, (after, peak) = time.perf_counter(), memory_mb()
            print(
                f"{now - START:6.2f} s  {name:28s} {now - begin:6.3f} s  "
                f"RSS {before:5.0f} -> {after:5.0f} MiB, peak {peak:5.0f} MiB",
                file=sys.stderr,
            )

    setattr(module, name, wrapper)


def main() -> None:
    for module_name, name in PHASES:
        timed(importlib.import_module(module_name), name)
    from seats.cli import main as cli

    sys.argv = ["seats", *sys.argv[1:]]
    try:
        cli()
    finally:
        print(
            f"{time.perf_counter() - START:6.2f} s  end, peak {memory_mb()[1]:.0f} MiB",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
