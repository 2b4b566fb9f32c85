"""Loshchilov & Hutter (2019), "Decoupled Weight Decay Regularization", Figure 2, on digits.

Adam with an L2 term (``examples/loshchilov2019_adam.toml``: the ``l2`` axis, torch's
``Adam(weight_decay=λ)``) beside AdamW (``examples/loshchilov2019_adamw.toml``), each over
α × λ, on an MLP 64 → 32 (tanh) → 10 trained on digits with a small training set (359
images; 1 438 test images), minibatches of 32, 2 000 steps, three seeds. Why this
model: with 359 images the network fits its training set long before the end, and
what then limits its weights is the decay, so λ has a good region and an edge where
it starts to cost test error. It is also examples/choi2019.py's network (its kernels
are already compiled), and examples/chen2023.py's.

**The two λ's.** The engine's AdamW is torch's: θ ← θ·(1 − α·λ), the decay multiplied
by α. The paper's AdamW decays by η·λ with η the schedule's multiplier (1 here), not by
α: its λ is α·λ here, and that is the λ the paper finds separable from α. Adam's L2
coefficient is not multiplied by α either. So the maps compare Adam's λ (L2) with
AdamW's α·λ (the decay per step), each against α; the AdamW grid spans λ = 1e-5 … 1e2 so
that the cells with α·λ on 1e-6 … 1e-2 (4 a decade) exist for every α, and
:func:`decoupled` reads them off it.

**The measure** (stated before the results were seen). The test error of a cell is the
mean over the three seeds (a diverged seed counts as chance, 0.9). For each α whose
best cell trains (test error ≤ 0.2), λ_edge(α) is the largest λ whose test error is
within δ = 0.005 (7 test images) of that α's best: the upper edge of the good region,
where the decay starts to cost. The slope s of log λ_edge against log α (least
squares over those α) says how much the good λ depends on α: s = 0 is a separable map.
The finding reproduces if |s| of AdamW (in α·λ) is at most half of Adam's (in λ) and
Adam's is at least 0.25 (a quarter decade of λ per decade of α; below that neither map
depends on α enough to tell them apart). Also
reported: the slope of the λ of each α's best cell (noisier: the good region is
flat), the slopes in torch's λ for AdamW (s − 1), and the best test error of each.

**Result** (full size): slope −1.25 for Adam + L2 (λ_edge from 0.05 at α = 1e-4 to 1e-5
at α = 0.1), +0.31 for AdamW in α·λ: the finding reproduces by the measure stated. But
AdamW's edge is not flat: it rises from α·λ = 1e-4 to 1e-2 up to α ≈ 6e-3 and falls to
6e-4 at α = 0.1, the two halves cancelling in the slope; in torch's λ it is flat (1 to
1.8) for α ≤ 0.01 and falls above. Best test errors: Adam + L2 0.0535 (α = 0.032,
λ = 2e-5), AdamW 0.0561 (α = 0.032, α·λ = 3e-4): 4 test images apart.

Full size: 741 + 1 131 = 1 872 trainings × 2 000 steps, 144 s on this machine's 2 cores
(227 s while another job shared them). Small size (``--small``): 10 trainings × 200 steps.

    python examples/loshchilov2019.py             # the full size
    python examples/loshchilov2019.py --small     # the notebook's CI size
    python examples/loshchilov2019.py --figure docs/_static/loshchilov2019.png
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_tools as tools  # noqa: E402

GRIDS = {"adam": "loshchilov2019_adam", "adamw": "loshchilov2019_adamw"}
DELTA = 0.005  # within this of the best test error is "near the best" (7 of 1 438 images)
MIN_SLOPE = 0.25  # Adam's |slope| below this: neither map depends on α enough to compare
TRAINS = 0.2  # an α whose best test error is above this does not train
DECAY = np.geomspace(1e-6, 1e-2, 17)  # AdamW's α·λ read off its grid, 4 a decade
# The small size: 200 steps, two α, one seed, AdamW's λ chosen so that α·λ ∈ {1e-5, 1e-4}.
SMALL = {"adam": {"sweep.steps": 200, "objective.seeds": 1, "grid.alpha": [1e-3, 1e-2],
                  "grid.l2": [1e-4, 1e-2]},
         "adamw": {"sweep.steps": 200, "objective.seeds": 1, "grid.alpha": [1e-3, 1e-2],
                   "grid.weight_decay": [1e-3, 1e-2, 1e-1]}}


def run(small: bool = False, n_jobs: int | None = None) -> tuple[dict, dict]:
    """Both sweeps: ({"adam": ds, "adamw": ds}, {name: wall seconds})."""
    results, seconds = {}, {}
    for name, grid_name in GRIDS.items():
        table = tools.grid(grid_name, SMALL[name] if small else None)
        results[name], seconds[name] = tools.run(table, n_jobs)
    return results, seconds


def decoupled(table: xr.DataArray) -> xr.DataArray:
    """AdamW's table (weight_decay, alpha) read at the decay per step α·λ: dims (decay,
    alpha), the values of :data:`DECAY` that the grid has for every α."""
    table = table.transpose("weight_decay", "alpha")
    lam = table["weight_decay"].values
    rows, kept = [], []
    for decay in DECAY:
        wanted = decay / table["alpha"].values
        index = [np.flatnonzero(np.isclose(lam, w, rtol=1e-6)) for w in wanted]
        if all(i.size for i in index):
            rows.append([table.values[i[0], j] for j, i in enumerate(index)])
            kept.append(decay)
    coords = {"decay": ("decay", np.array(kept), {
        "long_name": "AdamW's decay per step α·λ (the paper's λ)", "scale": "log"}),
        "alpha": table["alpha"]}
    return xr.DataArray(np.array(rows).reshape(len(kept), table.sizes["alpha"]),
                        dims=("decay", "alpha"), coords=coords, name=table.name)


def tables(results: dict) -> dict[str, xr.DataArray]:
    """The two maps the measure reads: test error (mean over seeds), dims (λ, alpha): Adam's
    ``l2`` and AdamW's ``decay`` = α·λ."""
    adam = tools.seed_mean(results["adam"], "adam").transpose("l2", "alpha")
    adam["l2"].attrs["long_name"] = "Adam's L2 coefficient λ"
    adamw = decoupled(tools.seed_mean(results["adamw"], "adamw"))
    return {"adam": adam, "adamw": adamw}


def measure(maps: dict[str, xr.DataArray]) -> dict[str, dict]:
    """Per rule: the edge λ_edge(α) and the best cell's λ per α, their slopes against α,
    and the best cell. See the module's docstring."""
    out = {}
    for name, table in maps.items():
        along = table.dims[0]
        edge = tools.largest_near_best(table, along, DELTA, TRAINS)
        best_lambda = tools.argmin_along(table, along, TRAINS)
        out[name] = {"edge": edge, "best_lambda": best_lambda,
                     "slope": tools.log_slope(edge["alpha"], edge),
                     "slope_of_best": tools.log_slope(best_lambda["alpha"], best_lambda),
                     "best": tools.best_cell(table)}
    return out


def reproduces(found: dict[str, dict]) -> bool:
    """The stated criterion: |s| of AdamW at most half of Adam's, and Adam's at least 0.25."""
    s_adam, s_adamw = abs(found["adam"]["slope"]), abs(found["adamw"]["slope"])
    return s_adam >= MIN_SLOPE and s_adamw <= 0.5 * s_adam


def verdict(found: dict[str, dict]) -> str:
    """One line: the slopes and whether the finding reproduces."""
    s_adam, s_adamw = found["adam"]["slope"], found["adamw"]["slope"]
    word = "reproduces" if reproduces(found) else "does not reproduce"
    return (f"slope of log λ_edge against log α: Adam + L2 {s_adam:+.2f}, AdamW {s_adamw:+.2f}"
            f"\n— the finding {word} here (criterion: |AdamW| ≤ ½ |Adam|, |Adam| ≥ {MIN_SLOPE})")


def figure(maps: dict[str, xr.DataArray], found: dict[str, dict]):
    """The two maps on one log colour scale, each with its λ_edge(α) (white line) and its
    best cell (red circle); the verdict in the title."""
    from matplotlib import patheffects

    from sweep.plot.panels import heatmap_panels

    titles = {"adam": "Adam + L2: λ‖θ‖²/2 added to the loss", "adamw": "AdamW: θ ← θ·(1 − α·λ)"}
    panels = {titles[name]: table for name, table in maps.items()}
    fig = heatmap_panels(panels, scale="log", vmax=tools.CHANCE,
                         label="test error, mean of the seeds (log scale)",
                         title="MLP on digits (359 training images): Loshchilov & Hutter "
                         f"(2019), Figure 2\n{verdict(found)}", panel_size=(4.2, 4.0))
    outline = [patheffects.withStroke(linewidth=2.6, foreground="black")]
    for ax, (name, table) in zip(fig.axes, maps.items()):
        edge, best = found[name]["edge"], found[name]["best"]
        ax.plot(edge["alpha"], edge.values, color="white", marker="o", markersize=3,
                linewidth=1.2, path_effects=outline,
                label=f"λ_edge: within {DELTA} of each α's best (slope {found[name]['slope']:+.2f})")
        ax.plot([best["alpha"]], [best[table.dims[0]]], marker="o", markersize=9,
                markerfacecolor="none", markeredgecolor="red", linestyle="none",
                label=f"best cell: {best['value']:.4f}")
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
    results, seconds = run(args.small, args.n_jobs)
    maps = tables(results)
    found = measure(maps)
    for name in maps:
        f = found[name]
        print(f"{name}: best test error {f['best']['value']:.4f} at α = {f['best']['alpha']:.3g}, "
              f"{maps[name].dims[0]} = {f['best'][maps[name].dims[0]]:.3g}")
        print("  λ_edge per α:", ", ".join(f"{a:.3g}: {v:.3g}" for a, v in
                                           zip(f["edge"]["alpha"].values, f["edge"].values)))
        print(f"  slope of log λ_edge: {f['slope']:+.3f}; of the best cell's λ: "
              f"{f['slope_of_best']:+.3f}")
    print(f"AdamW in torch's λ (α·λ / α): slope of λ_edge {found['adamw']['slope'] - 1:+.3f}")
    print(verdict(found))
    for name, ds in results.items():
        print(f"{name}: {tools.trainings(ds)} trainings × {ds.attrs['steps']} steps, "
              f"{seconds[name]:.1f} s ({ds.attrs['compile_time_s']:.1f} s compiling)")
    if args.figure:
        figure(maps, found).savefig(args.figure, dpi=100)
        print(f"figure: {args.figure}")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
