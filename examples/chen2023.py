"""Chen et al. (2023), "Symbolic Discovery of Optimization Algorithms": Lion and AdamW on digits.

Lion and AdamW over α (1e-5 … 1e-1, 4 a decade) × λ (1e-3 … 1e2, 2 a decade), on
examples/loshchilov2019.py's network (an MLP 64 → 32 (tanh) → 10 on digits, 359 training
and 1 438 test images, minibatches of 32), 2 000 steps, three seeds
(``examples/chen2023.toml``). Both rules decay as θ·(1 − α·λ), so λ means the same for
both. The paper's advice: Lion's update is a sign, larger per coordinate than AdamW's, so
its best α is 3–10× smaller than AdamW's and its best λ 3–10× larger (the decay per step
α·λ about the same), for a comparable best result.

**The measure** (stated before the results were seen). The test error of a cell is the
mean over the three seeds (a diverged seed counts as chance, 0.9). Each rule's *good
region* is its cells within δ = 0.005 (7 test images) of its best cell; its centre is
the geometric mean of their α and of their λ (on a flat map the single best cell is
where seed noise puts it; the centre of the region is not). The advice holds here if
AdamW's centre α over Lion's and Lion's centre λ over AdamW's are both in [3, 10] (with
a tenth of a decade of slack for the grid: [10^0.38, 10^1.1]), and the two best test
errors are within δ. The best cells' own ratios are reported beside them.

**Result** (full size): AdamW's centre α is 6.9× Lion's (inside 3–10), Lion's centre λ
14× AdamW's (outside even with the slack), best test errors 0.0584 (Lion) and 0.0561
(AdamW), 0.0023 apart: the advice does not hold here, on λ alone. The best cells' ratios
are 18× (α) and 316× (λ). Lion's good region is 14 cells in two pieces (a column at
α ≈ 2e-4, a row at λ ≈ 3), AdamW's 51 cells in one block.

Full size: 1 122 trainings × 2 000 steps, 119 s on this machine's 2 cores. Small size
(``--small``): 8 trainings × 200 steps.

    python examples/chen2023.py             # the full size
    python examples/chen2023.py --small     # the notebook's CI size
    python examples/chen2023.py --figure docs/_static/chen2023.png
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_tools as tools  # noqa: E402

GRID = "chen2023"
RULES = ("lion", "adamw")
DELTA = 0.005  # the good region: within this of the rule's best (7 of 1 438 test images)
ADVICE = (3.0, 10.0)  # the paper's factor, for α (smaller) and λ (larger)
SLACK = 0.1  # decades of slack at each end of ADVICE, for the grid's spacing
SMALL = {"sweep.steps": 200, "objective.seeds": 1, "grid.alpha": [1e-4, 1e-3],
         "grid.weight_decay": [0.1, 1.0]}


def run(small: bool = False, n_jobs: int | None = None) -> tuple[xr.Dataset, float]:
    """The sweep: (dataset, wall seconds)."""
    return tools.run(tools.grid(GRID, SMALL if small else None), n_jobs)


def tables(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """Per rule: test error, mean of the seeds, dims (weight_decay, alpha)."""
    return {name: tools.seed_mean(ds, name).transpose("weight_decay", "alpha")
            for name in RULES}


def good_region(table: xr.DataArray, delta: float = DELTA) -> dict:
    """The cells within ``delta`` of the table's best: how many, and the geometric mean of
    their α and λ (the region's centre)."""
    values = np.where(np.isfinite(table.values), table.values, np.inf)
    near = values <= values.min() + delta
    lam, alpha = np.meshgrid(table["weight_decay"].values, table["alpha"].values, indexing="ij")
    return {"cells": int(near.sum()),
            "alpha": float(np.exp(np.log(alpha[near]).mean())),
            "weight_decay": float(np.exp(np.log(lam[near]).mean()))}


def summary(maps: dict[str, xr.DataArray]) -> pd.DataFrame:
    """Per rule: its best cell and its good region's centre."""
    rows = []
    for name, table in maps.items():
        best, region = tools.best_cell(table), good_region(table)
        rows.append({"rule": name, "best test error": best["value"], "best alpha": best["alpha"],
                     "best lambda": best["weight_decay"], "good cells": region["cells"],
                     "centre alpha": region["alpha"], "centre lambda": region["weight_decay"]})
    return pd.DataFrame(rows).set_index("rule")


def ratios(table: pd.DataFrame) -> dict[str, float]:
    """AdamW's α over Lion's and Lion's λ over AdamW's, at the centres and at the best cells;
    the difference of the best test errors (Lion − AdamW)."""
    lion, adamw = table.loc["lion"], table.loc["adamw"]
    return {"alpha (centre)": adamw["centre alpha"] / lion["centre alpha"],
            "lambda (centre)": lion["centre lambda"] / adamw["centre lambda"],
            "alpha (best)": adamw["best alpha"] / lion["best alpha"],
            "lambda (best)": lion["best lambda"] / adamw["best lambda"],
            "best difference": lion["best test error"] - adamw["best test error"]}


def holds(table: pd.DataFrame) -> bool:
    """The stated criterion (see the module's docstring)."""
    found = ratios(table)
    low, high = ADVICE[0] / 10 ** SLACK, ADVICE[1] * 10 ** SLACK
    return (low <= found["alpha (centre)"] <= high and low <= found["lambda (centre)"] <= high
            and abs(found["best difference"]) <= DELTA)


def verdict(table: pd.DataFrame) -> str:
    found = ratios(table)
    word = "holds" if holds(table) else "does not hold"
    return (f"good regions' centres: AdamW's α / Lion's = {found['alpha (centre)']:.2g}, "
            f"Lion's λ / AdamW's = {found['lambda (centre)']:.2g}; best test error "
            f"Lion − AdamW = {found['best difference']:+.4f}\n— the advice (both 3–10, "
            f"best within {DELTA}) {word} here")


def figure(maps: dict[str, xr.DataArray], table: pd.DataFrame):
    """The two maps on one log colour scale, the good region's cells (white dots), its centre
    (white star) and the best cell (red circle) marked; the verdict in the title."""
    from sweep.plot.panels import heatmap_panels

    titles = {"lion": "Lion", "adamw": "AdamW"}
    for table_ in maps.values():
        table_["weight_decay"].attrs["long_name"] = "weight decay λ (θ·(1 − α·λ) each step)"
    fig = heatmap_panels({titles[n]: t for n, t in maps.items()}, scale="log",
                         vmax=tools.CHANCE, label="test error, mean of the seeds (log scale)",
                         title="MLP on digits (359 training images): Lion against AdamW "
                         f"(Chen et al. 2023)\n{verdict(table)}", panel_size=(4.2, 4.0))
    for ax, (name, t) in zip(fig.axes, maps.items()):
        row = table.loc[name]
        values = np.where(np.isfinite(t.values), t.values, np.inf)
        lam, alpha = np.meshgrid(t["weight_decay"].values, t["alpha"].values, indexing="ij")
        near = values <= values.min() + DELTA
        ax.plot(alpha[near], lam[near], marker="o", markersize=3.5, color="white",
                markeredgecolor="black", markeredgewidth=0.5, linestyle="none",
                label=f"the {int(row['good cells'])} cells within {DELTA} of the best")
        ax.plot([row["centre alpha"]], [row["centre lambda"]], marker="*", markersize=12,
                color="white", markeredgecolor="black", linestyle="none",
                label="their centre (geometric mean of α and of λ)")
        ax.plot([row["best alpha"]], [row["best lambda"]], marker="o", markersize=9,
                markerfacecolor="none", markeredgecolor="red", linestyle="none",
                label=f"best cell: {row['best test error']:.4f}")
        ax.legend(fontsize="x-small", loc="upper center", bbox_to_anchor=(0.5, -0.16),
                  frameon=False)
    return fig


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="200 steps, a few cells")
    parser.add_argument("--figure", help="write the figure to this file")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ds, seconds = run(args.small, args.n_jobs)
    maps = tables(ds)
    table = summary(maps)
    pd.set_option("display.width", 140)
    print(table.to_string(float_format="{:.4g}".format))
    print(", ".join(f"{k}: {v:.3g}" for k, v in ratios(table).items()))
    print(verdict(table))
    print(f"{tools.trainings(ds)} trainings × {ds.attrs['steps']} steps, {seconds:.1f} s "
          f"({ds.attrs['compile_time_s']:.1f} s compiling)")
    if args.figure:
        figure(maps, table).savefig(args.figure, dpi=100)
        print(f"figure: {args.figure}")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
