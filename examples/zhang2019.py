"""Zhang et al. (2019), "Which algorithmic choices matter at which batch sizes?", on the
noisy quadratic model.

``zhang2019.toml``: the ``nqm`` objective of 100 coordinates (hᵢ = 1/i), every batch size
B = 1, 2, 4 … 4096, SGD, heavy-ball momentum and Adam over α (and β₁ ∈ {0.5, 0.9}), 8 seeds,
the loss recorded at every step.

The measure, fixed before the sweep was run (the target and the grid's ranges were chosen
with the closed form of SGD and momentum, :func:`sweep.nqm.expected_loss`):

* **S(B)**, the steps to the target for batch size B: the first step at which the mean
  over seeds of the loss curve is at most 3% of f(θ₀), for the best α (and β₁) at that B.
  The mean curve is what the closed form describes; S(B) of SGD and momentum is also
  computed from the closed form on the same grid and drawn beside the simulated one.
* **the critical batch size B\\***: the largest B of the grid whose S(B) is at most twice
  perfect scaling from B = 1, S(B) ≤ 2·S(1)/B.

The paper's findings, checked as:

1. perfect scaling, then diminishing returns: S(1)/S(4) ≥ 3 (near 4, steps halve as B
   doubles) and S(B_max/4)/S(B_max) ≤ 1.25 (quadrupling the largest batches gains less
   than a fifth);
2. momentum and preconditioning raise the critical batch size: B\\* of momentum ≥ B\\* of
   SGD, and B\\* of Adam > B\\* of SGD;
3. at small B momentum does not help: S_momentum(1)/S_sgd(1) ≥ 0.8.

    python examples/zhang2019.py                # 7 800 runs × 3 500 steps, 2¾–3½ min on 2 cores
    python examples/zhang2019.py --small        # 20 coordinates, 1 000 steps (the notebook's CI size)
    python examples/zhang2019.py --figure /tmp/zhang2019.png --output /tmp/zhang2019.zarr
    python -m sweep explore /tmp/zhang2019.zarr -o /tmp/zhang2019.html   # every cell's loss curve
"""
from __future__ import annotations

import argparse
import copy
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

import sweep
from sweep.kernels.objectives import nqm_curvatures, nqm_start
from sweep.nqm import CLOSED_FORMS, expected_loss, steps_to_target

HERE = Path(__file__).resolve().parent
GRID = HERE / "zhang2019.toml"
TARGET_SHARE = 0.03  # of f(θ₀)
# The findings' thresholds (see the module's docstring).
PERFECT_SCALING_4X = 3.0
DIMINISHING_4X = 1.25
SMALL_B_MOMENTUM = 0.8
SMALL = {"steps": 1000, "dim": 20, "seeds": 4, "batch_size": [1, 4, 16, 64, 256],
         "alpha": {"min": 1e-3, "max": 4.6416, "num": 9, "scale": "log"}}


def grid(small: bool = False) -> dict:
    """The grid file as a table; ``small`` cuts coordinates, steps, batch sizes and seeds."""
    with GRID.open("rb") as file:
        table = copy.deepcopy(tomllib.load(file))
    if small:
        table["sweep"]["steps"] = SMALL["steps"]
        table["objective"].update(dim=SMALL["dim"], seeds=SMALL["seeds"])
        table["grid"].update(batch_size=SMALL["batch_size"], alpha=SMALL["alpha"])
        table["sweep"]["tol"] = TARGET_SHARE * initial_loss(SMALL["dim"])
    return table


def initial_loss(dim: int) -> float:
    """f(θ₀) = ½ Σ hᵢ θ₀ᵢ² at the objective's customary start."""
    start = np.array(nqm_start(dim))
    return 0.5 * float(np.sum(nqm_curvatures(dim) * start * start))


def run(small: bool = False, n_jobs: int | None = None,
        output: str | None = None) -> tuple[xr.Dataset, float]:
    """The sweep: (dataset, wall seconds); written to ``output`` (.zarr or .nc) if given,
    for ``python -m sweep explore``."""
    started = time.perf_counter()
    ds = sweep.run(grid(small), n_jobs=n_jobs, output=output)
    return ds, time.perf_counter() - started


def mean_curve_steps(ds: xr.Dataset) -> xr.Dataset:
    """Per cell but over seeds: ``steps_to_tol``, the first step at which the seeds' mean
    loss is at most the target (NaN if never), and ``diverged`` (any seed diverged). A
    dataset that :func:`sweep.plot.profile` draws like a sweep's."""
    target = TARGET_SHARE * initial_loss(ds.sizes["dim"])
    mean = ds["loss"].mean("seed", skipna=False)  # a diverged seed's NaN: never reached
    reached = (mean <= target)
    first = reached.argmax("step").astype(np.float64)
    steps = first.where(reached.any("step"))
    out = xr.Dataset({"steps_to_tol": steps, "diverged": ds["diverged"].any("seed")})
    out.attrs = dict(ds.attrs, tol=target, seeds_averaged=ds.sizes["seed"],
                     coordinates=ds.sizes["dim"])
    out["steps_to_tol"].attrs["tol"] = target
    return out.squeeze("start", drop=True).compute()  # a .zarr result reads lazily


def best_steps(per_cell: xr.DataArray) -> xr.DataArray:
    """S(B): the fewest steps over every axis but optimizer and batch_size."""
    others = [d for d in per_cell.dims if d not in ("optimizer", "batch_size")]
    return per_cell.min(others, skipna=True)


def closed_form_steps(ds: xr.Dataset) -> xr.DataArray:
    """S(B) of SGD and momentum from :func:`sweep.nqm.expected_loss` on ``ds``'s grid
    (optimizer, batch_size)."""
    dim, steps = ds.sizes["dim"], int(ds.attrs["steps"])
    target = TARGET_SHARE * initial_loss(dim)
    alpha = ds["alpha"].values[:, None, None]
    batch_size = ds["batch_size"].values[None, :, None]
    beta1 = ds["beta1"].values[None, None, :]
    found = []
    for optimizer in CLOSED_FORMS:
        curves = expected_loss(optimizer, alpha=alpha, batch_size=batch_size, beta1=beta1,
                               dim=dim, steps=steps)
        found.append(np.nanmin(steps_to_target(curves, target), axis=(0, 2)))
    return xr.DataArray(np.array(found), dims=("optimizer", "batch_size"),
                        coords={"optimizer": list(CLOSED_FORMS),
                                "batch_size": ds["batch_size"].values})


def critical_batch_size(steps: xr.DataArray) -> float:
    """The largest B with S(B) ≤ 2·S(1)/B (one optimizer's S over batch_size)."""
    sizes = steps["batch_size"].values
    first = float(steps.isel(batch_size=0))
    within = steps.values <= 2.0 * first * sizes[0] / sizes
    return float(sizes[within].max()) if within.any() else float("nan")


def measures(best: xr.DataArray) -> pd.DataFrame:
    """Per optimizer: S(1), S(B_max), B*, S(1)/S(4) and S(B_max/4)/S(B_max)."""
    sizes = best["batch_size"].values
    rows = []
    for name in best["optimizer"].values:
        s = best.sel(optimizer=name)
        rows.append({"optimizer": str(name), "S(1)": float(s.sel(batch_size=sizes[0])),
                     "S(B_max)": float(s.sel(batch_size=sizes[-1])),
                     "B*": critical_batch_size(s),
                     "S(1)/S(4)": float(s.sel(batch_size=sizes[0]) /
                                        s.sel(batch_size=4 * sizes[0])),
                     "S(B_max/4)/S(B_max)": float(s.sel(batch_size=sizes[-1] / 4) /
                                                  s.sel(batch_size=sizes[-1]))})
    return pd.DataFrame(rows).set_index("optimizer")


def findings(table: pd.DataFrame) -> pd.DataFrame:
    """The paper's three findings, each with the numbers it was judged on and whether it
    holds here."""
    rows = [
        ("perfect scaling at small B: S(1)/S(4) ≥ 3 for every optimizer",
         ", ".join(f"{n} {v:.2f}" for n, v in table["S(1)/S(4)"].items()),
         bool((table["S(1)/S(4)"] >= PERFECT_SCALING_4X).all())),
        ("diminishing returns at large B: S(B_max/4)/S(B_max) ≤ 1.25 for every optimizer",
         ", ".join(f"{n} {v:.2f}" for n, v in table["S(B_max/4)/S(B_max)"].items()),
         bool((table["S(B_max/4)/S(B_max)"] <= DIMINISHING_4X).all())),
        ("momentum raises the critical batch size: B* momentum ≥ B* sgd",
         f"{table.loc['momentum', 'B*']:g} vs {table.loc['sgd', 'B*']:g}",
         bool(table.loc["momentum", "B*"] >= table.loc["sgd", "B*"])),
        ("preconditioning raises it: B* adam > B* sgd",
         f"{table.loc['adam', 'B*']:g} vs {table.loc['sgd', 'B*']:g}",
         bool(table.loc["adam", "B*"] > table.loc["sgd", "B*"])),
        ("momentum does not help at small B: S_momentum(1)/S_sgd(1) ≥ 0.8",
         f"{table.loc['momentum', 'S(1)'] / table.loc['sgd', 'S(1)']:.2f}",
         bool(table.loc["momentum", "S(1)"] / table.loc["sgd", "S(1)"] >= SMALL_B_MOMENTUM)),
    ]
    return pd.DataFrame(rows, columns=["finding", "measured", "holds here"])


def best_alpha(per_cell: xr.DataArray) -> xr.DataArray:
    """The α of S(B) (the smallest among ties), (optimizer, batch_size); NaN where no α
    reaches the target."""
    over_alpha = per_cell.min([d for d in per_cell.dims
                               if d not in ("optimizer", "batch_size", "alpha")])
    filled = over_alpha.fillna(np.inf)
    index = filled.argmin("alpha")
    return over_alpha["alpha"][index].where(np.isfinite(filled.min("alpha")))


def figure(derived: xr.Dataset, closed: xr.DataArray):
    """Left: S(B), simulated (solid, :func:`sweep.plot.profile`) and closed form (dashed),
    with perfect scaling from SGD's S(1) (dotted). Right: the best α against B."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from sweep.plot import profile

    fig, (left, right) = plt.subplots(1, 2, figsize=(12.5, 4.8), layout="constrained",
                                      width_ratios=(1.4, 1.0))
    profile(derived, x="batch_size", metric="steps_to_tol", reduce="best", band=False,
            yscale="log", ax=left, title="steps to the target, best α (and β₁) at each B")
    colors = {line.get_gid(): line.get_color() for line in left.lines if line.get_gid()}
    sizes = closed["batch_size"].values
    for name in closed["optimizer"].values:
        left.plot(sizes, closed.sel(optimizer=name).values, linestyle="--", linewidth=1.2,
                  color=colors[str(name)], gid=f"{name} closed form")
    first = float(best_steps(derived["steps_to_tol"]).sel(optimizer="sgd").isel(batch_size=0))
    perfect = first * sizes[0] / sizes
    shown = perfect >= 0.5 * float(best_steps(derived["steps_to_tol"]).min())
    left.plot(sizes[shown], perfect[shown], linestyle=":", color="#777777", linewidth=1.0)
    left.set_xscale("log", base=2)
    left.set_ylabel(f"steps until the seeds' mean loss ≤ {derived.attrs['tol']:.3g} "
                    f"({TARGET_SHARE:.0%} of f(θ₀))")
    left.set_xlabel("batch size B")
    handles, labels = left.get_legend_handles_labels()
    handles += [Line2D([], [], color="#555555", linestyle="--"),
                Line2D([], [], color="#777777", linestyle=":")]
    labels += ["closed form (sgd, momentum)", "perfect scaling from SGD's S(1)"]
    left.legend(handles, labels, fontsize="small", frameon=False)
    alphas = best_alpha(derived["steps_to_tol"])
    for name in alphas["optimizer"].values:
        right.plot(sizes, alphas.sel(optimizer=name).values, marker="o", markersize=3,
                   color=colors[str(name)], label=str(name))
    right.set_xscale("log", base=2)
    right.set_yscale("log")
    right.set_xlabel("batch size B")
    right.set_ylabel("best α")
    right.set_title("the step size that reaches the target first")
    right.legend(fontsize="small", frameon=False)
    fig.suptitle(f"Noisy quadratic model, {derived.attrs['coordinates']} coordinates (hᵢ = 1/i): "
                 f"the mean of {derived.attrs['seeds_averaged']} seeds (Zhang et al. 2019)")
    return fig


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="20 coordinates, 1 000 steps")
    parser.add_argument("--figure", help="write the figure to this file")
    parser.add_argument("--output", help="write the sweep's result here (.zarr or .nc)")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args(argv)
    ds, seconds = run(args.small, args.n_jobs, args.output)
    derived = mean_curve_steps(ds)
    best = best_steps(derived["steps_to_tol"])
    closed = closed_form_steps(ds)
    pd.set_option("display.width", 140)
    print("S(B), steps to the target (simulated; closed form for sgd and momentum):")
    table = best.to_pandas().T
    for name in closed["optimizer"].values:
        table[f"{name} (closed form)"] = closed.sel(optimizer=name).values
    print(table.to_string(float_format="{:.0f}".format), "\n")
    summary = measures(best)
    print(summary.to_string(float_format="{:.3g}".format), "\n")
    print(findings(summary).to_string(index=False), "\n")
    print(f"{ds.attrs['cells']} cells ({ds.attrs['computed_cells']} computed) × "
          f"{ds.attrs['steps']} steps, {seconds:.1f} s ({ds.attrs['compile_time_s']:.1f} s "
          "compiling)")
    if args.figure:
        figure(derived, closed).savefig(args.figure, dpi=110)
        print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
