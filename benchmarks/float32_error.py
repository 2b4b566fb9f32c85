"""The measured error of float32 against float64: the table of docs/float32.md.

    python benchmarks/float32_error.py

Adam on Rosenbrock and Beale, 1000 steps, α = geomspace(1e-4, 1, 17) × β₁ ∈
{0, …, 0.99}, β₂ = 0.999, ε = 1e-8, two starts each, no noise: the same grid
through the simple CPU kernel in float64 and in float32, compared cell by
cell. ``tests/test_float32.py`` runs :func:`measure` and prints the table too.
"""
from __future__ import annotations

import numpy as np

from sweep.kernels.compile import cpu_kernel
from sweep.kernels.layout import Settings, empty_metrics, hyper_for
from sweep.kernels.objectives import problem
from sweep.kernels.precision import DTYPES
from sweep.kernels.rules import OPTIMIZERS

ALPHAS = tuple(float(a) for a in np.geomspace(1e-4, 1.0, 17))
BETA1S = (0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
PROBLEMS = (("rosenbrock", ((-1.2, 1.0), (-2.0, 2.0))), ("beale", ((1.0, 1.0), (1.0, 4.0))))


def run_both(optimizer: str, objective: str, starts, steps: int, alphas, beta1s,
             beta2: float = 0.999, eps: float = 1e-8, tol: float = 1e-3):
    """One grid (start × α × β₁) through the simple CPU kernel in float64 and in float32.

    Returns:
        ``(float64 Metrics, float32 Metrics)``, the same cells in the same order.
    """
    rule, target = OPTIMIZERS[optimizer], problem(objective)
    grid = [(start, alpha, beta1) for start in starts for alpha in alphas for beta1 in beta1s]
    x0 = np.array([start for start, _, _ in grid], dtype=np.float64)
    hyper = hyper_for(rule, np.array([(alpha, beta1, beta2, eps) for _, alpha, beta1 in grid]))
    ids = np.zeros((len(grid), 3), dtype=np.int64)
    settings = Settings(steps=steps, record_every=0, tol=tol, minimum=target.minimum,
                        bound=target.bound, noise=0.0,
                        warmup=0.0, step_every=1.0, step_factor=1.0,
                        lower=np.full(target.dim, -np.inf), upper=np.full(target.dim, np.inf),
                        noise_scale=np.ones(target.dim))
    results = []
    for dtype in ("float64", "float32"):
        out = empty_metrics(len(grid), target.dim, 0, dtype)
        function = target.value_and_grad
        kernel = cpu_kernel(rule, function, dtype)
        real = DTYPES[dtype]
        kernel(x0.astype(real), hyper.astype(real), ids, settings, out)
        results.append(out)
    return tuple(results)


def compare(double, single, tol: float = 1e-3) -> dict:
    """float32 against float64 over the same cells.

    Relative differences |a − b| / |b| (b the float64 value; θ as the
    Euclidean norm of the difference over that of θ), among cells that
    converge in both (not diverged, and f(θ_final) − f* ≤ tol reached:
    ``steps_to_tol`` finite) and among cells that merely stay finite in both.
    """
    both_finite = ~double.diverged & ~single.diverged
    converged = both_finite & np.isfinite(double.steps_to_tol) & np.isfinite(single.steps_to_tol)
    tiny = np.finfo(np.float64).tiny
    loss_gap = np.abs(single.final_loss.astype(np.float64) - double.final_loss)
    loss = loss_gap / np.maximum(np.abs(double.final_loss), tiny)
    x = (np.linalg.norm(single.final_x - double.final_x, axis=1)
         / np.maximum(np.linalg.norm(double.final_x, axis=1), tiny))
    figures = {"cells": int(double.diverged.size), "converged": int(converged.sum()),
               "finite": int(both_finite.sum()),
               "diverged_differs": float(np.mean(double.diverged != single.diverged))}
    for name, cells in (("converged", converged), ("finite", both_finite)):
        for metric, values in (("loss", loss), ("loss_gap", loss_gap), ("x", x)):
            chosen = values[cells]
            figures[f"{name}_{metric}_median"] = float(np.median(chosen)) if chosen.size else np.nan
            figures[f"{name}_{metric}_p99"] = (float(np.percentile(chosen, 99)) if chosen.size
                                               else np.nan)
    return figures


def measure(steps: int = 1000) -> dict:
    """Adam on Rosenbrock and Beale, ``steps`` steps, the α × β₁ grid, two starts each.

    Returns:
        ``{objective: figures}``, the figures of :func:`compare`.
    """
    return {objective: compare(*run_both("adam", objective, starts, steps, ALPHAS, BETA1S))
            for objective, starts in PROBLEMS}


def table(figures: dict) -> str:
    """The figures of :func:`measure` as a markdown table."""
    lines = ["| objective | cells | converged in both | final_loss rel. diff. median / p99 "
             "| final_loss abs. diff. median / p99 | final_x rel. diff. median / p99 "
             "| finite in both: final_x rel. diff. median / p99 | diverged flag differs |",
             "|---|---|---|---|---|---|---|---|"]
    for objective, f in figures.items():
        lines.append(
            f"| {objective} | {f['cells']} | {f['converged']} "
            f"| {f['converged_loss_median']:.2g} / {f['converged_loss_p99']:.2g} "
            f"| {f['converged_loss_gap_median']:.2g} / {f['converged_loss_gap_p99']:.2g} "
            f"| {f['converged_x_median']:.2g} / {f['converged_x_p99']:.2g} "
            f"| {f['finite_x_median']:.2g} / {f['finite_x_p99']:.2g} "
            f"| {f['diverged_differs']:.1%} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(f"Adam, 1000 steps, alpha = geomspace(1e-4, 1, {len(ALPHAS)}) x beta1 = "
          f"{BETA1S}, beta2 = 0.999, eps = 1e-8, two starts; tol = 1e-3\n")
    print(table(measure()))
