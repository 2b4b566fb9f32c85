"""Ma & Yarats (2021), "On the Adequacy of Untuned Warmup for Adaptive Optimization", on digits.

Three ways to start Adam, over α (1e-4 … 1e2, 4 a decade) and β₂ ∈ {0.9, 0.99, 0.999}: Adam
without warm-up, Adam with the paper's untuned linear warm-up over 2/(1 − β₂) steps
(α_t = α·min(1, t/warm-up): 20, 200 and 2 000 steps), and RAdam (Liu et al. 2020) without
warm-up. The network is examples/loshchilov2019.py's (an MLP 64 → 32 (tanh) → 10 on
digits, 359 training and 1 438 test images, minibatches of 32), three seeds, 4 000 steps
so that the longest warm-up is half of the run. ``examples/ma2019.toml`` holds Adam and
RAdam; the warm-up runs are that grid with one β₂ each and ``schedule.warmup`` set.

**The measure** (stated before the results were seen). The test error of a cell is the
mean over the three seeds (a diverged seed counts as chance, 0.9). An α *trains* when
that mean is at most 0.2 (chance is 0.9). Per variant and β₂: the largest α that
trains (α_max, where training starts to blow up) and the best test error over α. The
finding — the untuned warm-up matches RAdam — reproduces if at every β₂ the warm-up's
α_max is within one grid step (a factor 10^¼) of RAdam's and its best test error is
within δ = 0.005 (7 test images) of RAdam's. Adam without warm-up is the reference the
two are meant to improve on: its α_max and best are reported beside them.

**Result** (full size): the finding reproduces by the measure stated, at every β₂: the
warm-up's α_max is RAdam's (5.6 at β₂ = 0.9) or one grid step above it (3.2 against 1.8
at 0.99 and 0.999), the best test errors 0.0002 apart. The measure separates little,
though: this tanh network never blows up (test error about 0.25 at α = 100), and every
variant crosses 0.2 between α = 1 and 10. Below that they differ, which the column
``alpha_max near best`` of :func:`summary` (added after the results were seen: the
largest α within δ of the variant's own best) shows: at β₂ = 0.999 it is 0.032 for Adam,
0.18 for RAdam and 1.8 for the warm-up; at β₂ = 0.9 0.032 for all three.

Full size: 450 + 3 × 75 = 675 trainings × 4 000 steps, 69 s on this machine's 2 cores.
Small size (``--small``): 6 trainings × 300 steps.

    python examples/ma2019.py             # the full size
    python examples/ma2019.py --small     # the notebook's CI size
    python examples/ma2019.py --figure docs/_static/ma2019.png
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_tools as tools  # noqa: E402

GRID = "ma2019"
WARMED = "adam + warm-up"  # the name the warm-up runs take in the combined dataset
VARIANTS = ("adam", WARMED, "radam")
TRAINS = 0.2  # an α trains when its test error (mean of the seeds) is at most this
DELTA = 0.005  # "matches": best test errors within this (7 of 1 438 test images)
STEP = 10 ** 0.25  # one step of the α grid
SMALL = {"sweep.steps": 300, "objective.seeds": 1, "grid.alpha": [1e-3, 1e-1],
         "grid.beta2": [0.99]}


def warmup_steps(beta2: float) -> int:
    """The untuned warm-up of Ma & Yarats: 2/(1 − β₂) steps, rounded."""
    return int(round(2.0 / (1.0 - beta2)))


def grids(small: bool = False) -> dict[str, dict]:
    """The tables to run: ``"no warm-up"`` (Adam and RAdam) and one Adam table per β₂
    with its warm-up."""
    base = tools.grid(GRID, SMALL if small else None)
    tables = {"no warm-up": base}
    for beta2 in base["grid"]["beta2"]:
        table = copy.deepcopy(base)
        table["sweep"]["optimizers"] = ["adam"]
        table["grid"]["beta2"] = [beta2]
        table.setdefault("schedule", {})["warmup"] = warmup_steps(beta2)
        tables[f"warm-up β₂ = {beta2}"] = table
    return tables


def run(small: bool = False, n_jobs: int | None = None) -> tuple[dict, dict]:
    """Every table of :func:`grids`: ({table: dataset}, {table: wall seconds})."""
    results, seconds = {}, {}
    for name, table in grids(small).items():
        results[name], seconds[name] = tools.run(table, n_jobs)
    return results, seconds


def combine(results: dict) -> xr.Dataset:
    """Adam and RAdam without warm-up, and the warm-up runs (one β₂ each) as the variant
    ``adam + warm-up``: one dataset over (optimizer, seed, alpha, beta2)."""
    plain, *warmed = results.values()
    keep = ["test_error", "test_loss", "train_error", "final_loss", "diverged"]
    warm = xr.concat([ds[keep] for ds in warmed], dim="beta2")
    warm = warm.assign_coords(optimizer=[WARMED])
    ds = xr.concat([plain[keep], warm], dim="optimizer", coords="minimal",
                   compat="override", join="outer")
    ds = ds.sel(optimizer=list(VARIANTS))
    ds.attrs = dict(plain.attrs)
    ds.attrs["title"] = "adam, adam with warm-up 2/(1 − β₂), radam"
    return ds


def summary(ds: xr.Dataset) -> pd.DataFrame:
    """Per variant and β₂: the range of α that trains, the largest α within δ of the
    variant's best (added after the results were seen: see the module's docstring), and
    the best test error (mean of the seeds) with its α and the spread of its seeds."""
    rows = []
    for name in VARIANTS:
        table = tools.seed_mean(ds, name, keep=("beta2",))
        spread = tools.seed_spread(ds, name, keep=("beta2",)) if "seed" in ds.dims else \
            xr.zeros_like(table)
        for beta2 in ds["beta2"].values:
            line = table.sel(beta2=beta2)
            low, high = tools.trained_range(line, TRAINS)
            best = tools.best_cell(line)
            _, near = tools.trained_range(line, best["value"] + DELTA)
            rows.append({"variant": name, "beta2": float(beta2), "alpha_min": low,
                         "alpha_max": high, "alpha_max near best": near,
                         "best test error": best["value"],
                         "best alpha": best["alpha"],
                         "seed spread": float(spread.sel(beta2=beta2, alpha=best["alpha"]))})
    return pd.DataFrame(rows)


def matches(table: pd.DataFrame) -> pd.DataFrame:
    """Per β₂: the warm-up's α_max over RAdam's, the difference of the best test errors,
    and whether the stated criterion holds."""
    rows = []
    for beta2, group in table.groupby("beta2"):
        warm = group.set_index("variant").loc[WARMED]
        radam = group.set_index("variant").loc["radam"]
        ratio = warm["alpha_max"] / radam["alpha_max"]
        difference = warm["best test error"] - radam["best test error"]
        close = bool(np.isfinite(ratio) and 1 / STEP * (1 - 1e-9) <= ratio <= STEP * (1 + 1e-9))
        rows.append({"beta2": beta2, "alpha_max ratio (warm-up / radam)": ratio,
                     "best difference (warm-up − radam)": difference,
                     "matches": close and abs(difference) <= DELTA})
    return pd.DataFrame(rows)


def verdict(table: pd.DataFrame) -> str:
    """One line: whether the finding reproduces at every β₂."""
    found = matches(table)
    word = "reproduces" if found["matches"].all() else "does not reproduce"
    at = ", ".join(f"β₂ = {b:g}: {'yes' if m else 'no'}" for b, m in
                   zip(found["beta2"], found["matches"]))
    return (f"does the untuned warm-up match RAdam? {at} — the finding {word} here\n"
            f"(criterion: the largest α with test error ≤ {TRAINS} within a factor 10^(1/4) of "
            f"RAdam's, the best test error within {DELTA})")


def _recolour(ax, name: str, color: str) -> None:
    """Give one line of a :func:`sweep.plot.profile` panel, its band and its legend entry
    another colour."""
    for artist in [*ax.lines, *ax.collections]:
        if artist.get_gid() in (name, f"band:{name}"):
            artist.set_color(color)
    legend = ax.get_legend()
    for handle, text in zip(legend.legend_handles, legend.get_texts()):
        if text.get_text() == name:
            handle.set_color(color)


def figure(ds: xr.Dataset, table: pd.DataFrame):
    """Test error against α, a panel per β₂, the three variants as lines (the seeds as a
    band); the largest α that trains marked on each line; the verdict in the title."""
    from matplotlib.ticker import FormatStrFormatter

    from sweep.plot import profile
    from sweep.plot.common import _figure

    betas = [float(b) for b in ds["beta2"].values]
    fig = _figure(figsize=(4.6 * len(betas) + 0.4, 4.6))
    axes = fig.subplots(1, len(betas), sharey=True, squeeze=False)[0]
    for ax, beta2 in zip(axes, betas):
        profile(ds, x="alpha", metric=tools.METRIC, select={"beta2": beta2}, ax=ax,
                seeds="mean", yscale="log",
                title=f"β₂ = {beta2:g} (warm-up {warmup_steps(beta2)} steps)")
        ax.axhline(TRAINS, color="grey", linewidth=0.8, linestyle=":")
        _recolour(ax, WARMED, "#1f77b4")  # not green beside radam's olive
        for line in ax.lines:
            if line.get_gid() in VARIANTS:
                row = table[(table["variant"] == line.get_gid()) & (table["beta2"] == beta2)]
                high = float(row["alpha_max"].iloc[0])
                if np.isfinite(high):
                    ax.axvline(high, color=line.get_color(), linewidth=0.8, linestyle="--")
        ax.yaxis.set_major_formatter(FormatStrFormatter("%.2g"))
        ax.yaxis.set_minor_formatter(FormatStrFormatter("%.2g"))
        if ax is not axes[0]:
            ax.set_ylabel("")
    axes[0].text(0.02, 0.02, f"dotted: test error {TRAINS} (trains below)\ndashed: largest "
                 "α that trains", transform=axes[0].transAxes, fontsize="x-small")
    fig.suptitle("MLP on digits (359 training images): Adam, Adam with a linear warm-up over "
                 "2/(1 − β₂) steps, and RAdam (Ma & Yarats 2021); test error: mean of the "
                 f"seeds\n{verdict(table)}", fontsize="medium")
    return fig


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="300 steps, a few cells")
    parser.add_argument("--figure", help="write the figure to this file")
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results, seconds = run(args.small, args.n_jobs)
    ds = combine(results)
    count = sum(tools.trainings(part) for part in results.values())
    table = summary(ds)
    pd.set_option("display.width", 140)
    print(table.to_string(index=False, float_format="{:.4g}".format))
    print(matches(table).to_string(index=False, float_format="{:.4g}".format))
    print(verdict(table))
    for name, wall in seconds.items():
        print(f"{name}: {wall:.1f} s")
    print(f"{count} trainings × {ds.attrs['steps']} steps")
    if args.figure:
        figure(ds, table).savefig(args.figure, dpi=100)
        print(f"figure: {args.figure}")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
