"""``python -m sweep bench``: how fast the kernels run, against what a user would write.

Every figure is trajectory-steps per second (cells × steps / seconds), the
median of ``--repeats`` runs with the spread (min–max), all measured in this
one process, so the ratios hold even on a noisy machine. The baselines are what
a user would otherwise write: Adam on 2-D Rosenbrock by numpy broadcasting over
the grid, and by JAX (vmap + lax.scan over optax.adam, and one fused
``fori_loop``) when jax and optax are installed. Writes a table to stdout (Markdown
with ``--markdown``, headed by the machine: :func:`markdown_report`), and
``bench.json`` and ``bench.png`` to ``--out``.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from .errors import ConfigError

START = (-1.5, 2.0)


def adam_grid(cells: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """Random (α, β₁, β₂, ε) for the baselines: α and ε log-uniform over [1e-4, 1e-1] and
    [1e-8, 1e-4], β₁ uniform over [0, 0.99], β₂ over [0.9, 0.9999]."""
    rng = np.random.default_rng(seed)
    return (10 ** rng.uniform(-4, -1, cells), rng.uniform(0, 0.99, cells),
            rng.uniform(0.9, 0.9999, cells), 10 ** rng.uniform(-8, -4, cells))


def numpy_adam(alpha, beta1, beta2, eps, steps, start=START):
    """The numpy-broadcasting baseline: Adam written out over arrays of every cell."""
    n = alpha.shape[0]
    x = np.full(n, start[0])
    y = np.full(n, start[1])
    mx, my, vx, vy = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    with np.errstate(all="ignore"):
        for t in range(1, steps + 1):
            d = y - x * x
            gx = -2.0 * (1.0 - x) - 400.0 * x * d
            gy = 200.0 * d
            mx = beta1 * mx + (1 - beta1) * gx
            my = beta1 * my + (1 - beta1) * gy
            vx = beta2 * vx + (1 - beta2) * gx * gx
            vy = beta2 * vy + (1 - beta2) * gy * gy
            c1 = 1 - beta1**t
            c2 = 1 - beta2**t
            x = x - alpha * (mx / c1) / (np.sqrt(vx / c2) + eps)
            y = y - alpha * (my / c1) / (np.sqrt(vy / c2) + eps)
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2


JAX_HINT = "pip install 'optimizer-sweep[bench]'"
VMAP_ROW = "jax vmap + optax"
FUSED_ROW = "jax fori_loop, fused Adam"
NUMPY_ROW = "numpy broadcasting"
ENGINE_ROW = "sweep, lockstep kernel, all cores"
BASELINE_ROWS = (NUMPY_ROW, VMAP_ROW, FUSED_ROW)  # the engine's ratio is given to each


def _rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _jax():
    """jax and optax with float64 switched on, or None when the bench extra is missing."""
    try:
        import jax
        import optax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, optax


def jax_vmap_adam(steps: int, start=START):
    """The JAX baseline a user would write first: one cell's Adam by ``optax.adam``
    in a ``lax.scan``, ``vmap``-ed over the cells. A jitted ``(alpha, beta1, beta2, eps)
    -> final losses``, each argument of shape (cells,), float64. Needs the bench extra."""
    jax, optax = _jax()
    jnp = jax.numpy

    def loss(p):
        return _rosenbrock(p[0], p[1])

    def one(alpha, beta1, beta2, eps):
        opt = optax.adam(alpha, beta1, beta2, eps)
        p = jnp.asarray(start, dtype=jnp.float64)

        def body(carry, _):
            p, state = carry
            updates, state = opt.update(jax.grad(loss)(p), state, p)
            return (optax.apply_updates(p, updates), state), None

        (p, _), _ = jax.lax.scan(body, (p, opt.init(p)), None, length=steps)
        return loss(p)

    return jax.jit(jax.vmap(one))


def jax_fused_adam(steps: int, start=START):
    """The JAX an expert would write: every cell's θ, m, v as arrays of shape (2, cells),
    Adam written out as :func:`numpy_adam` does (but for βᵗ, carried as running products as
    the engine does), stepped by one ``lax.fori_loop`` inside one ``jax.jit``, so XLA fuses
    each step into a single loop over the cells. float64.

    Per step t = 1, 2, …: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²,
    θ ← θ − α (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε).

    Returns a jitted ``(alpha, beta1, beta2, eps) -> final losses``, shapes (cells,).
    Needs the bench extra."""
    jax, _ = _jax()
    jnp = jax.numpy

    def run(alpha, beta1, beta2, eps):
        theta = jnp.broadcast_to(jnp.asarray(start, jnp.float64)[:, None], (2, alpha.shape[0]))
        zeros = jnp.zeros_like(theta)
        ones = jnp.ones_like(alpha)

        def step(_, carry):
            theta, m, v, beta1_t, beta2_t = carry
            x, y = theta
            d = y - x * x
            g = jnp.stack([-2.0 * (1.0 - x) - 400.0 * x * d, 200.0 * d])
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            # βᵗ as running products, as the engine carries them: a float64 pow per cell
            # and step would cost XLA several times the rest of the step.
            beta1_t, beta2_t = beta1_t * beta1, beta2_t * beta2
            theta = theta - alpha * (m / (1 - beta1_t)) / (jnp.sqrt(v / (1 - beta2_t)) + eps)
            return theta, m, v, beta1_t, beta2_t

        theta, *_ = jax.lax.fori_loop(0, steps, step, (theta, zeros, zeros, ones, ones))
        return _rosenbrock(theta[0], theta[1])

    return jax.jit(run)


def jax_rows(hyper: tuple[np.ndarray, ...], steps: int, repeats: int) -> tuple[dict, str]:
    """The two JAX baselines' rows on these (α, β₁, β₂, ε) (each of shape (cells,)), warm:
    compiled ahead (``lower().compile()``, timed as ``compile_s``), inputs already on the
    device. Without jax/optax: no rows, and a line naming the extra."""
    modules = _jax()
    if modules is None:
        return {}, f"no JAX rows: jax and optax are not installed ({JAX_HINT})"
    jax, optax = modules
    arguments = [jax.device_put(array) for array in hyper]
    work = float(len(hyper[0]) * steps)
    rows = {}
    for name, make in ((VMAP_ROW, jax_vmap_adam), (FUSED_ROW, jax_fused_adam)):
        started = time.perf_counter()
        compiled = make(steps).lower(*arguments).compile()
        compile_s = time.perf_counter() - started
        rows[name] = measure(lambda: compiled(*arguments).block_until_ready(), work, repeats)
        rows[name]["compile_s"] = compile_s
    device = jax.devices()[0]
    return rows, f"JAX {jax.__version__}, optax {optax.__version__}, on {device.platform}"


def sweep_table(cells: int, steps: int, optimizer: str = "adam", objective: str = "rosenbrock",
                **objective_keys) -> dict:
    """A grid file with about ``cells`` computed cells: a full factorial over the axes
    ``optimizer`` reads (sgd: α only) times the objective's start points (its customary
    ones; Rosenbrock: one), so every rule and objective is timed on as many trajectories."""
    from .api import load_config

    table = _factorial_table(cells, steps, optimizer, objective, **objective_keys)
    starts = len(load_config(table).starts)
    if starts == 1:
        return table
    return _factorial_table(-(-cells // starts), steps, optimizer, objective, **objective_keys)


def _factorial_table(cells: int, steps: int, optimizer: str, objective: str,
                     **objective_keys) -> dict:
    from sweep.kernels.rules import OPTIMIZERS

    ranges = {"alpha": (1e-4, 1e-1, "log"), "beta1": (0.0, 0.99, "linear"),
              "beta2": (0.9, 0.9999, "linear"), "eps": (1e-8, 1e-4, "log")}
    rule = OPTIMIZERS[optimizer]
    used = [axis for axis in rule.names if axis in ranges]
    counts = dict(zip(used, balanced_counts(cells, len(used))))
    for axis in used:  # a rule's own range (Schedule-Free's β₁ > 0)
        low, high, scale = ranges[axis]
        if not rule.hyperparameter(axis).valid(low):
            ranges[axis] = (0.5, high, scale)
    grid = {axis: {"min": ranges[axis][0], "max": ranges[axis][1], "num": count,
                   "scale": ranges[axis][2]} for axis, count in counts.items()}
    objective_table = {"name": objective, **objective_keys}
    if objective == "rosenbrock":
        objective_table["start"] = [list(START)]
    return {"sweep": {"optimizers": [optimizer], "steps": steps},
            "objective": objective_table, "grid": grid}


def balanced_counts(cells: int, axes: int, spread: float = 2.0) -> tuple[int, ...]:
    """Points per axis of a full factorial over ``axes`` axes with at least ``cells`` cells:
    the fewest cells possible (exactly ``cells`` where it factors so: 16 384 = 16·16·8·8)
    among the counts whose largest is at most ``spread`` times the smallest; largest first."""
    if axes == 1:
        return (cells,)
    root = max(1, round(cells ** (1 / axes)))
    while root**axes < cells:
        root += 1
    best = None
    for smallest in range(1, root + 1):
        top = int(smallest * spread)
        for middle in itertools.combinations_with_replacement(range(smallest, top + 1), axes - 2):
            base = smallest * math.prod(middle)
            last = max(middle[-1] if middle else smallest, -(-cells // base))
            if last <= top and (best is None or (base * last, last / smallest) < best[0]):
                best = (base * last, last / smallest), (smallest, *middle, last)
    return tuple(sorted(best[1], reverse=True))


def measure(function, work: float, repeats: int) -> dict:
    """Median and spread of ``work / seconds`` over ``repeats`` calls of ``function``."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        rates.append(work / (time.perf_counter() - started))
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "repeats": repeats}


def time_sweep(table: dict, repeats: int, **run_options) -> dict:
    """End-to-end ``sweep.run`` (plan, kernels, assembly; no file), after a warm-up run."""
    from .api import run

    started = time.perf_counter()
    warm = run(table, **run_options)  # compiles, or loads the cache
    first = time.perf_counter() - started
    cells = warm.attrs["computed_cells"]
    work = float(cells * table["sweep"]["steps"])
    result = measure(lambda: run(table, **run_options), work, repeats)
    result.update(cells=cells, steps=table["sweep"]["steps"], first_run_s=first,
                  compile_s=warm.attrs["compile_time_s"])
    return result


def cuda_rows(table: dict, repeats: int) -> tuple[dict, str]:
    """The CUDA backend's rows when a GPU is usable (else none), and a line saying which."""
    from sweep.kernels.cuda import device_status

    usable, why = device_status()
    if not usable:
        return {}, f"no CUDA rows: {why}"
    rows = {"sweep, CUDA backend, end to end": time_sweep(table, repeats, backend="cuda")}
    rows["CUDA kernel alone (no transfers)"] = cuda_kernel_rate(table, repeats)
    return rows, f"CUDA: {why}"


def cuda_kernel_rate(table: dict, repeats: int) -> dict:
    """Trajectory-steps/s of the CUDA kernel alone: inputs already on the device,
    timed with CUDA events around the launches."""
    from sweep.kernels.cuda import kernel_seconds
    from sweep.kernels.rules import OPTIMIZERS

    from .api import load_config
    from .execute import Engine, _call
    from .objectives import resolve
    from .plan import make_plan

    plan = make_plan(load_config(table), block_cells=10**9)
    optimizer, spec, x0, hyper, ids, settings, records, _, _ = _call(plan, plan.blocks[0], Engine())
    rule, problem = OPTIMIZERS[optimizer], resolve(spec)
    seconds = [kernel_seconds(rule, problem.value_and_grad, x0, hyper, ids,
                              settings, records) for _ in range(repeats + 1)][1:]
    work = len(x0) * settings.steps
    rates = [work / max(second, 1e-9) for second in seconds]  # the simulator times 0
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "repeats": repeats, "cells": len(x0), "steps": settings.steps}


def cpu_name() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what :mod:`platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# The libraries whose versions a report names (those importable), after Python's.
VERSIONED = ("numba", "llvmlite", "numpy", "xarray", "jax", "optax", "torch", "numba-cuda")


def versions() -> dict[str, str]:
    """The versions that shape the figures: this distribution's, Python's, and each of
    :data:`VERSIONED` that is installed (from the installed metadata)."""
    from importlib import metadata

    from .distribution import NAME, version

    found = {NAME: version(), "python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def machine(cores: int | None = None) -> dict:
    """What a bench's figures depend on besides the code: the CPU (its model name, and
    LLVM's name for it), the cores used, the vector width LLVM gives the kernels' lane
    loops (the lanes' arrangement follows it: :data:`sweep.tunables.LANE_CHUNK`), whether
    the CPU has AVX-512, the date and time (UTC) and :func:`versions`."""
    import datetime

    import llvmlite.binding as llvm

    from sweep.kernels.numba_support import vector_bits

    features = llvm.get_host_cpu_features()
    return {"cpu": cpu_name(), "llvm_cpu": llvm.get_host_cpu_name(),
            "cores": cores or os.cpu_count() or 1, "vector_bits": vector_bits(),
            "avx512": bool(features.get("avx512f", False)),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "python": platform.python_version(), "versions": versions()}


MIX_OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop", "nadam")
MIX_OBJECTIVES = ("rosenbrock", "beale", "quadratic", "logistic")


def engine_ratios(rows: dict) -> dict:
    """The engine's median (lockstep kernel, all cores) over each baseline's that was measured:
    ``{baseline row name: ratio}``."""
    fast = rows[ENGINE_ROW]["median"]
    return {name: fast / rows[name]["median"] for name in BASELINE_ROWS if name in rows}


def run_bench(cells: int, steps: int, repeats: int, max_cells: int,
              optimizers=MIX_OPTIMIZERS, objectives=MIX_OBJECTIVES, model_cells: int = 64,
              model_steps: int = 500, rules=()) -> dict:
    """Every figure of ``python -m sweep bench`` as a JSON-able dict: ``backends`` (Adam on
    Rosenbrock, ``cells`` × ``steps``: the engine's rows, the baselines', CUDA's when a GPU is
    usable), ``ratios`` (:func:`engine_ratios`), ``jax`` and ``cuda`` (a line each: what ran,
    or why those rows are absent), ``optimizers_objectives``, ``cells_scaling`` (100 …
    ``max_cells``, ×10), ``threads_scaling``, ``models`` (an MLP on digits against torch
    and JAX: :func:`sweep.bench_models.model_rows`; absent when ``model_cells`` is 0) and
    ``rules`` (each of ``rules`` on Rosenbrock, ``cells`` × ``steps``, lockstep, end to
    end). Rates in trajectory-steps/s."""
    cores = os.cpu_count() or 1
    results = {"machine": machine(cores), "cells": cells, "steps": steps, "repeats": repeats}
    rows = {}
    table = sweep_table(cells, steps)
    rows[ENGINE_ROW] = time_sweep(table, repeats, n_jobs=cores, backend="cpu")
    rows["sweep, lockstep kernel, 1 thread"] = time_sweep(table, repeats, n_jobs=1, backend="cpu")
    rows["sweep, simple kernel, all cores"] = time_sweep(table, repeats, n_jobs=cores,
                                                         kernel="simple", backend="cpu")
    exact = rows[ENGINE_ROW]["cells"]
    hyper = adam_grid(exact)
    rows[NUMPY_ROW] = measure(lambda: numpy_adam(*hyper, steps), exact * steps, repeats)
    jax, results["jax"] = jax_rows(hyper, steps, repeats)
    rows |= jax
    gpu, results["cuda"] = cuda_rows(table, repeats)
    rows |= gpu
    results["backends"] = rows
    results["ratios"] = engine_ratios(rows)

    mix = {}
    for objective in objectives:
        for optimizer in optimizers:
            keys = {"dim": 10, "kappa": 100.0} if objective == "quadratic" else {}
            # Logistic regression costs ~100× more per step (the full-data loss): fewer steps.
            mix_steps = max(10, steps // (100 if objective == "logistic" else 4))
            small = sweep_table(max(256, cells // 4), mix_steps, optimizer, objective, **keys)
            mix[f"{optimizer} on {objective}"] = time_sweep(small, max(1, repeats - 1),
                                                            n_jobs=cores, backend="cpu")
    results["optimizers_objectives"] = mix
    # Every rule on the main grid's size: a rule reads fewer axes than Adam's four, so its
    # grid spreads the same cells over the axes it reads (balanced_counts).
    results["rules"] = {rule: time_sweep(sweep_table(cells, steps, rule), repeats,
                                         n_jobs=cores, backend="cpu") for rule in rules}

    scaling = {}
    size = 100
    while size <= max_cells:
        # Keep each point near the same amount of work: fewer steps for more cells.
        size_steps = int(max(100, min(steps, 2e8 / size)))
        scaling[size] = time_sweep(sweep_table(size, size_steps), repeats, n_jobs=cores,
                                   backend="cpu")
        size *= 10
    results["cells_scaling"] = scaling
    results["threads_scaling"] = {
        jobs: time_sweep(table, repeats, n_jobs=jobs, backend="cpu")
        for jobs in range(1, cores + 1)}
    if model_cells > 0:
        from .bench_models import model_rows

        results["models"] = model_rows(model_cells, model_steps, repeats)
    return results


def print_report(results: dict, out=None) -> None:
    """The table of :func:`run_bench`'s results, to ``out`` (default: ``sys.stdout`` at the call)."""
    out = sys.stdout if out is None else out

    def line(name, row, compile_time=False):
        spread = f"{row['min'] / 1e6:7.1f} – {row['max'] / 1e6:7.1f}"
        compiled = f"; compile {row['compile_s']:.2f} s" if compile_time else ""
        print(f"  {name:<36} {row['median'] / 1e6:9.1f} M/s   (spread {spread}{compiled})",
              file=out)

    backends = results["backends"]
    print(f"sweep bench: Adam on Rosenbrock, {backends[NUMPY_ROW]['repeats']} repeats, "
          f"{backends[ENGINE_ROW]['cells']:,} cells × {results['steps']} steps, float64, "
          f"{results['machine']['cores']} cores, {results['machine']['vector_bits']}-bit vectors "
          f"(trajectory-steps per second, median)", file=out)
    for name, row in backends.items():
        line(name, row, compile_time="compile_s" in row)
    print(f"  {results['jax']}", file=out)
    print(f"  {results['cuda']}", file=out)
    ratios = ", ".join(f"{ratio:.1f}× {name}" for name, ratio in results["ratios"].items())
    print(f"  the engine ({ENGINE_ROW}): {ratios}", file=out)
    # Smaller grids than the rows above (fixed costs weigh more): each says its size.
    print("optimizers × objectives (lockstep, all cores; cells × steps):", file=out)
    for name, row in results["optimizers_objectives"].items():
        line(f"{name}, {row['cells']:,} × {row['steps']}", row)
    if results.get("rules"):
        print("rules (Rosenbrock, lockstep, all cores, end to end; cells × steps):", file=out)
        for name, row in results["rules"].items():
            line(f"{name}, {row['cells']:,} × {row['steps']}", row)
    print("scaling with cells (all cores):", file=out)
    for size, row in results["cells_scaling"].items():
        line(f"{int(size):>9,} cells × {row['steps']} steps", row)
    print("scaling with threads:", file=out)
    for jobs, row in results["threads_scaling"].items():
        line(f"{jobs} thread(s)", row)
    if "models" in results:
        from .bench_models import print_model_rows

        print("models: an MLP trained on data, against the same cells batched in torch and JAX:",
              file=out)
        print_model_rows(results["models"], out)


def markdown_report(results: dict) -> str:
    """:func:`run_bench`'s results (or ``bench.json`` read back) as Markdown, for the
    documentation's performance page: a heading naming the machine, a table of what the
    figures depend on (CPU, vector width, AVX-512, date, versions, the command), then a
    table per part of the bench. Rates are medians with their spread (min – max)."""
    host = results["machine"]
    lines = [f"### {host['cpu']}, {host['cores']} cores, "
             f"{'AVX-512' if host.get('avx512') else 'no AVX-512'}", "",
             "| | |", "|---|---|",
             f"| CPU | {host['cpu']} (LLVM: `{host.get('llvm_cpu', '?')}`), "
             f"{host['cores']} cores used |",
             f"| vectors | {host['vector_bits']} bits in the kernels' lane loops; AVX-512 "
             f"{'present' if host.get('avx512') else 'absent'} |",
             f"| date | {host.get('date', '?')} |",
             "| versions | " + ", ".join(f"{name} {version}" for name, version in
                                         host.get("versions", {"python": host["python"]}).items())
             + " |"]
    if results.get("command"):
        lines.append(f"| command | `{results['command']}` |")

    def table(title, header, rows, scale=1e6):
        lines.extend(["", title, "", f"| {header} | median | spread (min – max) |",
                      "|---|---:|---:|"])
        for name, row in rows:
            lines.append(f"| {name} | {_figure(row['median'] / scale)} | "
                         f"{_figure(row['min'] / scale)} – {_figure(row['max'] / scale)} |")

    backends = results["backends"]
    table(f"Adam on 2-D Rosenbrock, float64, {backends[ENGINE_ROW]['cells']:,} cells × "
          f"{results['steps']:,} steps, median of {results['repeats']} "
          "(M trajectory-steps/s):", "way of running it", backends.items())
    if results.get("ratios"):
        lines.extend(["", "The engine (" + ENGINE_ROW + ") against each baseline: " + ", ".join(
            f"{ratio:.1f}× {name}" for name, ratio in results["ratios"].items()) + "."])
    notes = [results[key] for key in ("jax", "cuda") if results.get(key)]
    if notes:
        lines.extend(["", "; ".join(note.rstrip(".") for note in notes) + "."])
    if results.get("rules"):
        table("Every rule on 2-D Rosenbrock, lockstep kernel, all cores, end to end "
              "(M trajectory-steps/s):", "rule, cells × steps",
              ((f"{name}, {row['cells']:,} × {row['steps']:,}", row)
               for name, row in results["rules"].items()))
    if results.get("optimizers_objectives"):
        table("Rules × objectives, lockstep kernel, all cores, end to end "
              "(M trajectory-steps/s):", "rule on objective, cells × steps",
              ((f"{name}, {row['cells']:,} × {row['steps']:,}", row)
               for name, row in results["optimizers_objectives"].items()))
    table("Scaling with the grid, all cores (M trajectory-steps/s):", "cells × steps",
          ((f"{int(size):,} × {row['steps']:,}", row)
           for size, row in results["cells_scaling"].items()))
    table("Scaling with threads (`--n-jobs`), the first grid (M trajectory-steps/s):",
          "threads", results["threads_scaling"].items())
    if "models" in results:
        models = results["models"]
        shares = models.get("share_of_peak", {})
        table("Models: an MLP trained on data, against the same cells batched in torch and JAX "
              "(k trajectory-steps/s):", "way of running it", models["rows"].items(), scale=1e3)
        lines.append("")
        lines.extend(f"- {note}" for note in (
            *(f"{name}: {share:.1%} of the CPU's float64 peak" for name, share in shares.items()),
            *(f"the engine / {name}: {ratio:.2f}×" for name, ratio in models["ratios"].items()),
            *models.get("notes", ())))
    return "\n".join(lines) + "\n"


def _figure(value: float) -> str:
    """Three significant digits, never in exponent form."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def figure(results: dict):
    """The three panels of ``bench.png`` (backends, cells, threads) as a matplotlib Figure,
    from :func:`run_bench`'s results (or ``bench.json`` read back)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(15, 4.5), layout="constrained")
    axes = fig.subplots(1, 3)
    names = list(results["backends"])[::-1]  # the engine on top
    medians = [results["backends"][n]["median"] / 1e6 for n in names]
    bars = axes[0].barh(names, medians, color=["tab:gray" if "sweep" not in n else "tab:blue"
                                               for n in names])
    axes[0].bar_label(bars, fmt="%.0f", padding=3)
    axes[0].set_xlim(0, max(medians) * 1.15)
    axes[0].set_xlabel("M trajectory-steps/s (median)")
    axes[0].set_title(f"Adam on Rosenbrock, {results['cells']:,} cells × {results['steps']} steps")
    sizes = [int(s) for s in results["cells_scaling"]]
    rates = [r["median"] / 1e6 for r in results["cells_scaling"].values()]
    axes[1].plot(sizes, rates, "o-")
    # The largest grids run fewer steps (about the same work per point): say so there.
    for size, row, rate in zip(sizes, results["cells_scaling"].values(), rates):
        if row.get("steps", results["steps"]) != results["steps"]:
            axes[1].annotate(f"{row['steps']} steps", (size, rate), textcoords="offset points",
                             xytext=(-2, 8), ha="right", fontsize=8)
    axes[1].set_xscale("log")
    axes[1].set_xlabel("cells")
    axes[1].set_ylabel("M trajectory-steps/s")
    axes[1].set_title(f"scaling with the grid (end to end, {results['steps']} steps)")
    jobs = [int(j) for j in results["threads_scaling"]]
    rates = [r["median"] / 1e6 for r in results["threads_scaling"].values()]
    axes[2].plot(jobs, rates, "o-")
    axes[2].set_xticks(jobs)
    axes[2].set_xlabel("threads (--n-jobs)")
    axes[2].set_ylabel("M trajectory-steps/s")
    axes[2].set_title("scaling with threads")
    for ax in axes[1:]:
        # Headroom above the highest point, as the bars have: where the points were level
        # (two threads no faster than one), autoscaling drew them on the frame's top edge.
        highest = max(max(line.get_ydata()) for line in ax.get_lines())
        ax.set_ylim(0, highest * 1.15)
    return fig


def plot(results: dict, path: Path) -> bool:
    """Write :func:`figure` to ``path``; False when matplotlib is not installed."""
    try:
        fig = figure(results)
    except ImportError:
        return False
    fig.savefig(path, dpi=110)
    return True


def main(argv: list[str] | None = None) -> int:
    command = argparse.ArgumentParser(prog="python -m sweep bench", description=__doc__.split("\n")[0])
    command.add_argument("--cells", type=int, default=16384, help="cells of the main grid")
    command.add_argument("--steps", type=int, default=2000, help="steps per trajectory")
    command.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    command.add_argument("--max-cells", type=int, default=10**6,
                         help="largest grid of the cells-scaling series (from 100, ×10)")
    command.add_argument("--optimizers", default=",".join(MIX_OPTIMIZERS),
                         help="rules of the optimizers × objectives table (comma-separated)")
    command.add_argument("--objectives", default=",".join(MIX_OBJECTIVES),
                         help="objectives of that table (comma-separated)")
    command.add_argument("--model-cells", type=int, default=64,
                         help="cells of the models rows (an MLP 64-32-10 on digits); 0: none")
    command.add_argument("--model-steps", type=int, default=500, help="steps of the models rows")
    command.add_argument("--rules", default="all",
                         help="rules of the rules table, each on the main grid's size "
                              "(comma-separated; 'all': every rule; 'none')")
    command.add_argument("--out", default="bench", help="folder for bench.json and bench.png")
    command.add_argument("--markdown", action="store_true",
                         help="print the results as Markdown tables headed by the machine "
                              "(CPU, vector width, date, versions), as the documentation's "
                              "performance page shows them, instead of the text report")
    args = command.parse_args(argv)
    given = sys.argv[1:] if argv is None else list(argv)
    for name in ("cells", "steps", "repeats", "max_cells", "model_steps"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be >= 1", file=sys.stderr)
            return 2
    from sweep.kernels.objectives import OBJECTIVES
    from sweep.kernels.rules import OPTIMIZERS

    optimizers = tuple(n for n in args.optimizers.split(",") if n)
    objectives = tuple(n for n in args.objectives.split(",") if n)
    rules = {"all": tuple(OPTIMIZERS), "none": ()}.get(
        args.rules, tuple(n for n in args.rules.split(",") if n))
    objective_names = (*OBJECTIVES, "logistic")  # logistic: the logistic model on blobs
    for name, known in [*((n, OPTIMIZERS) for n in (*optimizers, *rules)),
                        *((n, objective_names) for n in objectives)]:
        if name not in known:
            print(f"error: unknown name {name!r} (known: {', '.join(known)})", file=sys.stderr)
            return 2
    try:
        results = run_bench(args.cells, args.steps, args.repeats, args.max_cells, optimizers,
                            objectives, max(0, args.model_cells), args.model_steps, rules)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    results["command"] = shlex.join(["python", "-m", "sweep", "bench", *given])
    if args.markdown:
        print(markdown_report(results), end="")
    else:
        print_report(results)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=1))
    drawn = plot(results, out / "bench.png")
    # With --markdown, stdout is the Markdown alone (to redirect into a page).
    print(f"wrote {out / 'bench.json'}" + (f" and {out / 'bench.png'}" if drawn else
                                           " (no plot: matplotlib is not installed)"),
          file=sys.stderr if args.markdown else sys.stdout)
    return 0
