"""Wilson, Roelofs, Stern, Srebro & Recht (2017), section 3.3, through ``sweep.run``.

Least squares without bias from θ = 0 on the built-in ``wilson2017`` data: n training
points, d = 6n features, labels +1 with probability p = 3/4. GD and SGD stay in the span
of the training rows and reach the minimum-norm interpolant, which classifies every test
point correctly. AdaGrad, RMSProp and Adam move along sign(Xᵀy) and predict +1 for every
test point, so their test error is the share of negative test labels.

For each optimizer the table keeps the **best-fitting α**: the lowest final training loss
among the cells that did not diverge (ties, which happen when several α reach the
training loss to machine precision, go to the smallest α). It also gives the smallest and
largest test error over every α that did not diverge: the claim holds for all of them,
not only for the chosen one.

    python examples/wilson2017.py            # the full grids (125 + 25 cells, 2000 steps)
    python examples/wilson2017.py --small    # a few α and 300 steps (tests/test_published.py)
    python examples/wilson2017.py --steps 20000   # a longer run

Prints the table and how long each sweep took (the first run also compiles the kernels,
~25 s, cached on disk afterwards).
"""
from __future__ import annotations

import argparse
import copy
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

import sweep
from sweep import datasets

HERE = Path(__file__).resolve().parent
GRIDS = {"full batch": HERE / "wilson2017.toml", "minibatch": HERE / "wilson2017_sgd.toml"}
SMALL = {"steps": 300, "alpha": {"min": 1e-3, "max": 0.1, "num": 3, "scale": "log"}}
# The paper's names for the rows (sgd on the full batch is gradient descent).
LABELS = {("sgd", "full batch"): "GD", ("sgd", "minibatch"): "SGD"}


def grids(small: bool = False, steps: int | None = None) -> dict[str, dict]:
    """The two grid files as tables, shrunk with ``small`` or with their steps replaced."""
    tables = {}
    for name, path in GRIDS.items():
        with path.open("rb") as file:
            table = tomllib.load(file)
        table = copy.deepcopy(table)
        if small:
            table["sweep"]["steps"] = SMALL["steps"]
            table["grid"]["alpha"] = dict(SMALL["alpha"])
        if steps is not None:
            table["sweep"]["steps"] = int(steps)
        tables[name] = table
    return tables


def run(small: bool = False, steps: int | None = None, n_jobs: int | None = None
        ) -> tuple[dict, dict]:
    """Both sweeps: ({"full batch": ds, "minibatch": ds}, {name: wall seconds})."""
    results, seconds = {}, {}
    for name, table in grids(small, steps).items():
        started = time.perf_counter()
        results[name] = sweep.run(table, n_jobs=n_jobs)
        seconds[name] = time.perf_counter() - started
    return results, seconds


def negative_share(table: dict) -> float:
    """The share of negative labels in the test set the grid's data produce."""
    data = dict(table["objective"]["data"])
    name = data.pop("name")
    return float((datasets.load(name, params=data).y_test < 0).mean())


def best_fitting(ds) -> pd.DataFrame:
    """One row per optimizer: the α of the lowest final training loss among the cells that
    did not diverge, its metrics, and the range of test error over every such α."""
    rows = []
    for optimizer in ds["optimizer"].values:
        one = ds.sel(optimizer=optimizer)
        loss = one["final_loss"].values.ravel()
        ok = ~one["diverged"].values.ravel() & np.isfinite(loss)
        if not ok.any():
            rows.append({"optimizer": str(optimizer), "alpha": np.nan, "diverged": int(loss.size)})
            continue
        best = int(np.flatnonzero(ok)[np.argmin(loss[ok])])  # the first (smallest α) of ties
        test = one["test_error"].values.ravel()[ok]
        rows.append({
            "optimizer": str(optimizer),
            "alpha": float(one["alpha"].broadcast_like(one["final_loss"]).values.ravel()[best]),
            "final train loss": float(loss[best]),
            "train error": float(one["train_error"].values.ravel()[best]),
            "test error": float(one["test_error"].values.ravel()[best]),
            "test error, all α": f"{test.min():.2f}–{test.max():.2f}",
            "diverged": int((~ok).sum()),
        })
    return pd.DataFrame(rows)


def table(results: dict) -> pd.DataFrame:
    """The paper's table: GD, SGD, then the other rules, with the batch size of each row."""
    parts = []
    for name, ds in results.items():
        frame = best_fitting(ds)
        frame["optimizer"] = [LABELS.get((o, name), o) for o in frame["optimizer"]]
        frame.insert(1, "batch", name)
        parts.append(frame)
    frame = pd.concat(parts, ignore_index=True)
    order = ["GD", "SGD", "momentum", "adagrad", "rmsprop", "adam"]
    frame["order"] = [order.index(o) if o in order else len(order) for o in frame["optimizer"]]
    return frame.sort_values("order", kind="stable").drop(columns="order").reset_index(drop=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="3 α and 300 steps")
    parser.add_argument("--steps", type=int, help="replace both grids' steps")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results, seconds = run(args.small, args.steps, args.n_jobs)
    frame = table(results)
    share = negative_share(grids()["full batch"])
    with pd.option_context("display.width", 140, "display.float_format", "{:.3g}".format):
        print(frame.to_string(index=False))
    print(f"\nshare of negative test labels: {share:.2f}")
    for name, ds in results.items():
        print(f"{name}: {ds.attrs['cells']} cells × {ds.attrs['steps']} steps, "
              f"{seconds[name]:.1f} s ({ds.attrs['compile_time_s']:.1f} s compiling)")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
