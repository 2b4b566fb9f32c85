"""The default grid's kernels compiled in one process: seconds in all, and in LLVM.

    NUMBA_CACHE_DIR=$(mktemp -d) PYTHONPATH=TREE python docs/trials/compile_split.py TREE

Compiles TREE's ``sweep/grids/default.toml`` kernels (``sweep.execute.compile_kernels``)
with numba's event timers listening: the seconds under numba's compiler lock (all of
it) and under its LLVM lock (LLVM's optimisation and code generation); the rest is
numba's front end (typing, inlining, lowering). Give it an empty cache, as above, and
alternate trees to compare them.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from numba.core import event

from sweep.api import load_config
from sweep.execute import compile_kernels
from sweep.plan import make_plan


class Timer(event.Listener):
    """Seconds between the outermost start and end of one kind of event, added up."""

    def __init__(self):
        self.total, self.depth, self.started = 0.0, 0, 0.0

    def on_start(self, event_):
        if self.depth == 0:
            self.started = time.perf_counter()
        self.depth += 1

    def on_end(self, event_):
        self.depth -= 1
        if self.depth == 0:
            self.total += time.perf_counter() - self.started


def main(tree: Path) -> None:
    plan = make_plan(load_config(tree / "sweep" / "grids" / "default.toml"))
    llvm, compiler = Timer(), Timer()
    event.register("numba:llvm_lock", llvm)
    event.register("numba:compiler_lock", compiler)
    started = time.perf_counter()
    compile_kernels(plan)
    print(f"total {time.perf_counter() - started:.1f} s; under the compiler lock "
          f"{compiler.total:.1f} s, of which LLVM {llvm.total:.1f} s")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
