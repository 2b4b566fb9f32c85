"""Choi et al. (2019), "On Empirical Comparisons of Optimizers for Deep Learning", on digits.

An MLP 64 → 32 (tanh) → 10 trained on scikit-learn's digits with minibatches of 32 by SGD,
momentum and Adam, each searched two ways:

* **wide** (``choi2019.toml``, ``choi2019_momentum.toml``): α over seven decades; Adam's ε
  over [1e-10, 1e2] and β₁ together with α (β₂ = 0.999); momentum's β₁ (torch's μ) and
  Adam's in {0, 0.5, 0.9, 0.95, 0.99};
* **narrow**: what many comparisons do — ε fixed at 1e-8, β₁ at 0.9, and α over one decade
  around the value commonly used: 0.1 for SGD, 0.01 for momentum with μ = 0.9 (the same
  effective step α/(1 − μ)), 1e-3 for Adam (its paper's and torch's default). Each
  decade is [α₀/√10, α₀·√10], five of the wide grid's α. The narrow search is a subset of
  the wide grids' cells, so it costs no extra run and sees the same bits.

For each search: the best test error per optimizer (and the α, β₁, ε that gave it), and
``sweep.tuning.expected_best`` — the expected best test error of k cells drawn at random
from the search space, Choi et al.'s random-search protocol read off the grid. A diverged
cell (NaN) counts as chance, test error 0.9.

With one seed, one test image is 1/450 = 0.0022 of test error, and the best cells differ
by a few images. ``reseed`` reruns each optimizer's best wide cell with more seeds (a new
initialisation and minibatch order each), as Choi et al. rerun their best trials.

    python examples/choi2019.py            # the full size: 2 059 cells computed × 2000 steps, ~2½ min on 2 cores
    python examples/choi2019.py --small    # 200 steps, a few cells (tests/test_published.py)
    python examples/choi2019.py --figure /tmp/choi2019.png
"""
from __future__ import annotations

import argparse
import copy
import math
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import sweep
from sweep.tuning import expected_best

HERE = Path(__file__).resolve().parent
GRIDS = {"sgd, adam": HERE / "choi2019.toml", "momentum": HERE / "choi2019_momentum.toml"}
# The centre α₀ of each optimizer's narrow decade, and what the narrow search fixes.
NARROW_CENTRE = {"sgd": 0.1, "momentum": 0.01, "adam": 1e-3}
NARROW_FIXED = {"eps": 1e-8, "beta1": 0.9}
CHANCE = 0.9  # the test error of a diverged network: guessing among 10 classes
METRIC = "test_error"
# The small size: 200 steps, α only on the grid's values 10^(k/4) around the narrow decades.
SMALL_STEPS = 200
SMALL_ALPHA = [1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5, 1e-1]
SMALL_EPS = [1e-8, 1e-2, 1e2]
SMALL_BETA1 = [0.5, 0.9]


def grids(small: bool = False) -> dict[str, dict]:
    """The two grid files as tables; ``small`` cuts steps and cells (a few seconds)."""
    tables = {}
    for name, path in GRIDS.items():
        with path.open("rb") as file:
            table = copy.deepcopy(tomllib.load(file))
        if small:
            table["sweep"]["steps"] = SMALL_STEPS
            table["grid"]["alpha"] = list(SMALL_ALPHA)
            if "eps" in table["grid"]:
                table["grid"]["eps"] = list(SMALL_EPS)
            if "beta1" in table["grid"]:
                table["grid"]["beta1"] = list(SMALL_BETA1)
        tables[name] = table
    return tables


def run(small: bool = False, n_jobs: int | None = None) -> tuple[dict, dict]:
    """Both wide sweeps: ({name: ds}, {name: wall seconds})."""
    results, seconds = {}, {}
    for name, table in grids(small).items():
        started = time.perf_counter()
        results[name] = sweep.run(table, n_jobs=n_jobs)
        seconds[name] = time.perf_counter() - started
    return results, seconds


def per_optimizer(results: dict) -> dict[str, xr.Dataset]:
    """Each optimizer's wide search: its own dataset (with its own grid)."""
    found = {str(o): ds.sel(optimizer=[o]) for ds in results.values()
             for o in ds["optimizer"].values}
    return {name: found[name] for name in sorted(found, key=list(NARROW_CENTRE).index)}


def narrow(searches: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """The narrow searches: ε = 1e-8, β₁ = 0.9 and α in [α₀/√10, α₀·√10] per optimizer."""
    out = {}
    for name, ds in searches.items():
        centre = NARROW_CENTRE[name]
        alpha = ds["alpha"].values
        inside = (alpha >= centre / math.sqrt(10) * (1 - 1e-9)) & \
            (alpha <= centre * math.sqrt(10) * (1 + 1e-9))
        fixed = {axis: [value] for axis, value in NARROW_FIXED.items()}
        out[name] = ds.sel(fixed, method="nearest").isel(alpha=np.flatnonzero(inside))
        for axis, value in NARROW_FIXED.items():  # nearest must have found the value itself
            assert np.isclose(float(out[name][axis].values[0]), value), (name, axis)
    return out


def _read_axes(ds, name) -> list[str]:
    """The axes the optimizer's rule reads, from the dataset's ``uses_axis``."""
    uses = ds["uses_axis"].sel(optimizer=name)
    return [str(a) for a in uses["axis"].values if bool(uses.sel(axis=a))]


def best_cells(searches: dict[str, xr.Dataset]) -> pd.DataFrame:
    """Per optimizer: the lowest test error of its search and the cell that gave it (the
    first in grid order among ties), with the axes it reads and its number of cells."""
    rows = []
    for name, ds in searches.items():
        error = ds[METRIC].sel(optimizer=name)
        values = np.where(np.isfinite(error.values), error.values, CHANCE)
        index = np.unravel_index(int(np.argmin(values)), values.shape)
        cell = error.isel(dict(zip(error.dims, index)))
        read = _read_axes(ds, name)
        row = {"optimizer": name, "best test error": float(values[index]),
               "test images wrong": int(round(float(values[index]) * _n_test(ds)))}
        for axis in ("alpha", "beta1", "eps"):
            row[axis] = float(cell[axis]) if axis in read else np.nan
        row["cells"] = int(np.prod([ds.sizes[a] for a in read if a in ds.sizes]))
        rows.append(row)
    return pd.DataFrame(rows)


def _n_test(ds) -> int:
    """The number of test images of the grid's data (digits: 450)."""
    import json

    from sweep import datasets

    params = json.loads(ds.attrs["objective_params"])
    return datasets.load(params["data"], test_fraction=params["test_fraction"],
                         data_seed=params["data_seed"]).n_test


def expected(searches: dict[str, xr.Dataset], budgets) -> xr.DataArray:
    """The expected best test error of k random cells, (optimizer, budget), every search on
    its own grid (``missing`` = chance)."""
    parts = [expected_best(ds, METRIC, budgets, missing=CHANCE) for ds in searches.values()]
    return xr.concat(parts, dim="optimizer")


def budgets_for(searches: dict[str, xr.Dataset]) -> list[int]:
    """1, 2, 4, … up to the largest search, and its size."""
    from sweep.plot.tuning import default_budgets

    most = max(int(expected_best(ds, METRIC, [1], missing=CHANCE)["cells"].max())
               for ds in searches.values())
    return default_budgets(most)


def figure(wide: dict, tight: dict):
    """Two panels: the tuning curves of the wide and of the narrow searches, one y scale."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FormatStrFormatter, LogLocator

    from sweep.plot import tuning_curves

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True, layout="constrained")
    for ax, searches, title in ((axes[0], wide, "wide search"),
                                (axes[1], tight, "narrow: ε = 1e-8, β₁ = 0.9, α over a decade")):
        budgets = budgets_for(searches)
        for ds in searches.values():  # one optimizer each, drawn into the same axes
            tuning_curves(ds, METRIC, budgets, ax=ax, missing=CHANCE, yscale="log")
        ax.set_title(f"{title}\n(a diverged cell counts as test error {CHANCE})",
                     fontsize="medium")
        # Momentum dashed: at μ = 0.9 its narrow cells equal SGD's with 10× the α, so the
        # two lines lie on top of each other there.
        for line in ax.lines:
            if line.get_gid() == "momentum":
                line.set_linestyle("--")
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color="#555555", linestyle=":", linewidth=1.0))
        labels.append("best cell (k → ∞)")
        ax.legend(handles, labels, fontsize="small", frameon=False)
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.3g"))
        ax.yaxis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.3g"))
        if ax is not axes[0]:
            ax.set_ylabel("")
    fig.suptitle("MLP on digits: expected best test error of k random cells (Choi et al. 2019)")
    return fig


def reseed(table: pd.DataFrame, seeds: int = 5, small: bool = False,
           n_jobs: int | None = None) -> pd.DataFrame:
    """Each optimizer's best cell (a row of :func:`best_cells`) rerun with seeds 0 …
    seeds−1 (initialisation and minibatch order): mean, smallest and largest test error."""
    tables = grids(small)
    rows = []
    for _, best in table.iterrows():
        name = best["optimizer"]
        grid_table = next(copy.deepcopy(t) for t in tables.values()
                          if name in t["sweep"]["optimizers"])
        grid_table["sweep"]["optimizers"] = [name]
        grid_table["objective"]["seeds"] = int(seeds)
        grid_table["grid"] = {axis: [float(best[axis])] for axis in ("alpha", "beta1", "eps")
                              if not np.isnan(best[axis])}
        result = sweep.run(grid_table, n_jobs=n_jobs)[METRIC].values.ravel()
        result = np.where(np.isfinite(result), result, CHANCE)
        rows.append({"optimizer": name, "seeds": int(seeds), "mean": result.mean(),
                     "min": result.min(), "max": result.max()})
    return pd.DataFrame(rows)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="200 steps, a few cells")
    parser.add_argument("--seeds", type=int, default=5, help="reruns of each best cell (0: none)")
    parser.add_argument("--figure", help="write the tuning curves to this file")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results, seconds = run(args.small, args.n_jobs)
    wide = per_optimizer(results)
    tight = narrow(wide)
    pd.set_option("display.width", 140)
    for title, searches in (("wide", wide), ("narrow", tight)):
        table = best_cells(searches)
        print(f"{title} search: best test error per optimizer")
        print(table.to_string(index=False, float_format="{:.4g}".format))
        ranked = table.sort_values("best test error", kind="stable")["optimizer"].tolist()
        print("ranking (best first):", " < ".join(ranked))
        budgets = [k for k in (1, 4, 16, 64) if k <= max(table["cells"])]
        curves = expected(searches, budgets).to_pandas()
        print("expected best test error of k random cells:")
        print(curves.to_string(float_format="{:.4f}".format), "\n")
    if args.seeds:
        reseeded = reseed(best_cells(wide), args.seeds, args.small, args.n_jobs)
        print(f"the wide search's best cells rerun with {args.seeds} seeds (test error):")
        print(reseeded.to_string(index=False, float_format="{:.4f}".format), "\n")
    for name, ds in results.items():
        print(f"{name}: {ds.attrs['cells']} cells ({ds.attrs['computed_cells']} computed) × "
              f"{ds.attrs['steps']} steps, {seconds[name]:.1f} s "
              f"({ds.attrs['compile_time_s']:.1f} s compiling)")
    if args.figure:
        figure(wide, tight).savefig(args.figure, dpi=110)
        print(f"figure: {args.figure}")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
