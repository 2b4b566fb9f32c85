"""The "models" rows of ``python -m sweep bench``: training many networks at once.

The workload: ``cells`` MLPs 64-64-32-10 (tanh, cross entropy, 6 570 parameters
each) on the digits set, Adam with one α per cell (log-spaced 1e-4 … 1e-1,
β₁ = 0.9, β₂ = 0.999, ε = 1e-8), minibatches of 32, every cell on the same
minibatches (:func:`sweep.models.minibatches` with seed 0) from the same θ₀
(``Training.initial(0, 0)``). It is run three ways, each float64, in this process:

* the engine, ``sweep.run`` end to end (:func:`engine_rate`);
* torch as an expert batches it (:func:`torch_rate`): the cells' weights stacked,
  ``torch.baddbmm`` forward, autograd, Adam by in-place tensor ops;
* JAX (:func:`jax_rate`): a single-cell step ``vmap``-ed over the cells, inside one
  ``lax.scan`` over the precomputed minibatches, under one ``jax.jit``.

The rows are trajectory-steps per second (cells × steps / seconds), the median of
``repeats`` runs with the spread, as :mod:`sweep.bench`'s. The engine does strictly
more work than the baselines: it also evaluates the training objective and the test
set (forward over all 1 797 samples) every ``eval_every`` steps and at the last;
the baselines only train. :func:`flops_per_step` and :func:`peak_flops` turn the
rates into a share of the CPU's float64 peak. ``tests/test_bench_models.py`` checks
that the three end at the same θ, so the rows time the same computation.
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import statistics
import time
from dataclasses import dataclass

import numpy as np

from . import tunables
from .bench import cpu_name, time_sweep

# The network of the rows: features, hidden widths, classes (digits: 8×8 pixels, 10 digits).
NETWORK_SIZES = (64, 32, 10)  # an MLP 64-32-10: digits' 64 pixels, 32 hidden, 10 classes
BATCH_SIZE = 32
DATA = "digits"
# Steps each baseline runs before it is timed: torch's first steps allocate its caches
# and pick its kernels; JAX's jit is compiled (and timed) apart.
WARMUP_STEPS = 5
# Float64 operations per parameter of an Adam step as docs/update_rules.md groups it:
# m ← β₁·m + (1−β₁)·g (3), v ← β₂·v + (1−β₂)·(g·g) (4), θ ← θ − a·(m/(√v·c + ε)) (6);
# a division and a root count one each, though they take the divider far longer.
ADAM_FLOPS_PER_PARAMETER = 13
# Two FMA units × the doubles of a vector × 2 operations per FMA: 2 × 8 × 2 with AVX-512,
# 2 × 4 × 2 with AVX2 and FMA. A core that runs 512-bit vectors as two 256-bit halves has
# the AVX2 peak, so there the AVX-512 figure overstates it (and understates the share).
FLOAT64_FLOPS_PER_CYCLE = {"avx512f": 32, "fma": 16}
SSE2_FLOPS_PER_CYCLE = 4  # 2 units × 2 doubles, no FMA

ENGINE_ROW = "sweep, training kernel, all cores (+ evaluation)"
TORCH_ROW = "torch bmm + autograd + in-place Adam (train only)"
JAX_ROW = "jax vmap + optax in lax.scan (train only)"


def model_grid(cells: int, steps: int) -> dict:
    """The grid of the rows: ``cells`` values of α (log-spaced 1e-4 … 1e-1), one seed."""
    return {"sweep": {"optimizers": ["adam"], "steps": steps},
            "objective": {"model": "mlp", "hidden": list(NETWORK_SIZES[1:-1]),
                          "activation": "tanh", "data": DATA, "batch_size": BATCH_SIZE,
                          "seeds": [0]},
            "grid": {"alpha": {"min": 1e-4, "max": 1e-1, "num": cells, "scale": "log"}}}


@dataclass(frozen=True)
class Workload:
    """What every implementation trains, as the engine sees it.

    Attributes:
        alpha: (cells,) the cells' learning rates, in the grid's order.
        beta1, beta2, eps: Adam's other hyperparameters (the grid's defaults).
        theta0: (dim,) θ₀ of every cell, in ``parameters_to_vector`` order.
        sizes: the network's layer widths (features, hidden…, classes).
        x_train: (n, features) float64, standardized; y_train: (n,) int64 class indices.
        batches: per step t = 1 … steps, the rows of the training set it trains on.
        eval_every: the engine's evaluation period (steps), evaluations: how many it runs.
        eval_samples: samples of one evaluation (training and test sets).
    """

    alpha: np.ndarray
    beta1: float
    beta2: float
    eps: float
    theta0: np.ndarray
    sizes: tuple[int, ...]
    x_train: np.ndarray
    y_train: np.ndarray
    batches: list
    eval_every: int
    evaluations: int
    eval_samples: int

    @property
    def cells(self) -> int:
        return len(self.alpha)

    @property
    def steps(self) -> int:
        return len(self.batches)


def workload(cells: int, steps: int) -> Workload:
    """The :class:`Workload` of :func:`model_grid` (cells, steps), read from the engine's
    own configuration, data and minibatch stream."""
    from .config import validate
    from .models import build, minibatches

    config = validate(model_grid(cells, steps))
    axes = {axis.name: axis.values for axis in config.axes}
    training = build(config.spec.params).model
    data = training.data
    eval_every = data.eval_every
    evaluations = len(set(range(0, steps + 1, eval_every)) | {steps})
    return Workload(alpha=np.asarray(axes["alpha"], dtype=np.float64),
                    beta1=float(axes["beta1"][0]), beta2=float(axes["beta2"][0]),
                    eps=float(axes["eps"][0]), theta0=training.initial(0, 0),
                    sizes=training.network.sizes, x_train=data.x_train,
                    y_train=data.y_train[:, 0].astype(np.int64),
                    batches=minibatches(data.x_train.shape[0], data.batch_size, steps, seed=0),
                    eval_every=eval_every, evaluations=evaluations,
                    eval_samples=data.x_train.shape[0] + data.x_test.shape[0])


def split_theta(theta: np.ndarray, sizes) -> list[tuple[np.ndarray, np.ndarray]]:
    """θ (..., dim) in ``parameters_to_vector`` order → per layer (W (..., in, out), b (..., out)).

    W is stored transposed from torch's (out, in), so that a layer is ``x @ W + b``."""
    layers, position = [], 0
    lead = theta.shape[:-1]
    for n_in, n_out in zip(sizes, sizes[1:]):
        weight = theta[..., position:position + n_in * n_out].reshape(*lead, n_out, n_in)
        position += n_in * n_out
        bias = theta[..., position:position + n_out]
        position += n_out
        layers.append((np.swapaxes(weight, -1, -2), bias))
    return layers


def join_theta(layers) -> np.ndarray:
    """The inverse of :func:`split_theta`: (..., dim) from per-layer (W (..., in, out), b)."""
    parts = []
    for weight, bias in layers:
        weight = np.asarray(weight)
        parts += [np.swapaxes(weight, -1, -2).reshape(*weight.shape[:-2], -1), np.asarray(bias)]
    return np.concatenate(parts, axis=-1)


def summary(rates: list[float]) -> dict:
    """A row as :func:`sweep.bench.measure` gives it: median, min, max of ``rates``."""
    return {"median": statistics.median(rates), "min": min(rates), "max": max(rates),
            "repeats": len(rates)}


# --- the engine ---------------------------------------------------------------------------

def engine_rate(cells: int, steps: int, repeats: int, n_jobs: int | None = None) -> dict:
    """Trajectory-steps/s of ``sweep.run`` on :func:`model_grid` (end to end: plan, kernel,
    assembly), after one untimed run that compiles the kernel or loads it from the cache.

    Returns :func:`sweep.bench.time_sweep`'s row (median, min, max, cells, steps,
    first_run_s, compile_s), plus ``n_jobs``, ``lanes`` (``tunables.MODEL_LANES``),
    ``eval_every`` and ``evaluations`` (full passes over training and test sets)."""
    n_jobs = n_jobs or os.cpu_count() or 1
    row = time_sweep(model_grid(cells, steps), repeats, n_jobs=n_jobs, backend="cpu")
    work = workload(cells, steps)
    row.update(n_jobs=n_jobs, lanes=tunables.MODEL_LANES, eval_every=work.eval_every,
               evaluations=work.evaluations)
    return row


def engine_theta(cells: int, steps: int) -> np.ndarray:
    """The engine's final θ (cells, dim), cells in the order of the α axis."""
    from .api import run

    final = run(model_grid(cells, steps)).final_x
    return final.squeeze([d for d in final.dims if d not in ("alpha", "dim")]).transpose(
        "alpha", "dim").values


@contextlib.contextmanager
def model_lanes(lanes: int):
    """``tunables.MODEL_LANES`` set to ``lanes`` inside the block (each count compiles its own
    kernel once, then numba's cache serves it)."""
    kept = tunables.MODEL_LANES
    tunables.MODEL_LANES = lanes
    try:
        yield
    finally:
        tunables.MODEL_LANES = kept


def lanes_rows(cells: int, steps: int, repeats: int, lanes=(8, 16, 32),
               n_jobs: int | None = None) -> dict:
    """:func:`engine_rate` with each lane count of the training kernel: ``{lanes: row}``."""
    rows = {}
    for count in lanes:
        with model_lanes(count):
            rows[count] = engine_rate(cells, steps, repeats, n_jobs)
    return rows


# --- torch --------------------------------------------------------------------------------

class TorchCells:
    """Every cell's network trained at once in torch, float64, as an expert batches it.

    Per layer the cells' weights are one tensor W (cells, in, out) and b (cells, 1, out);
    a layer is ``torch.baddbmm(b, a, W)``, the first on the shared minibatch expanded (no
    copy) to (cells, batch, features). The loss is the sum over cells of each cell's mean
    cross entropy, so autograd gives each cell its own gradient. Adam (docs/update_rules.md,
    torch.optim.Adam's semantics) is in-place tensor arithmetic with α as a (cells, 1, 1)
    tensor and the bias corrections as Python scalars.
    """

    def __init__(self, work: Workload):
        import torch

        self.torch = torch
        self.work = work
        self.alpha = torch.tensor(work.alpha, dtype=torch.float64).reshape(-1, 1, 1)
        x = torch.from_numpy(np.ascontiguousarray(work.x_train))
        y = torch.from_numpy(work.y_train)
        # Gathered once, as a DataLoader over a tensor would hand them over.
        self.batches = [(x[rows], y[rows]) for rows in work.batches]
        self.reset()

    def reset(self) -> None:
        """Every cell back at θ₀, Adam's state at zero, t = 0."""
        torch = self.torch
        stacked = np.broadcast_to(self.work.theta0, (self.work.cells, self.work.theta0.size))
        self.params = [torch.tensor(np.ascontiguousarray(array), dtype=torch.float64)
                       .requires_grad_() for layer in split_theta(stacked, self.work.sizes)
                       for array in (layer[0], layer[1][:, None, :])]
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]
        self.t = 0

    def loss(self, x, y):
        """Σ over cells of each cell's mean cross entropy on the batch (x, y)."""
        torch = self.torch
        a = x.expand(self.work.cells, *x.shape)
        last = len(self.params) // 2 - 1
        for layer in range(last + 1):
            a = torch.baddbmm(self.params[2 * layer + 1], a, self.params[2 * layer])
            if layer < last:
                a = torch.tanh(a)
        logits = a.reshape(-1, a.shape[-1])
        # reduction="sum" over cells × samples, / samples: each cell's mean, summed.
        return torch.nn.functional.cross_entropy(logits, y.repeat(self.work.cells),
                                                 reduction="sum") / x.shape[0]

    def step(self, x, y) -> None:
        """One Adam step of every cell on the batch (x, y)."""
        torch = self.torch
        grads = torch.autograd.grad(self.loss(x, y), self.params)
        work = self.work
        self.t += 1
        a = self.alpha / (1 - work.beta1 ** self.t)  # α·(1/(1 − β₁ᵗ)) per cell
        c = 1 / math.sqrt(1 - work.beta2 ** self.t)
        with torch.no_grad():
            for p, g, m, v in zip(self.params, grads, self.m, self.v):
                m.mul_(work.beta1).add_(g, alpha=1 - work.beta1)
                v.mul_(work.beta2).addcmul_(g, g, value=1 - work.beta2)
                denominator = v.sqrt().mul_(c).add_(work.eps)
                p.sub_(m.div(denominator).mul_(a))

    def run(self, first: int, steps: int) -> None:
        """Steps first + 1 … first + steps (their minibatches)."""
        for x, y in self.batches[first:first + steps]:
            self.step(x, y)

    def theta(self) -> np.ndarray:
        """(cells, dim) in ``parameters_to_vector`` order."""
        arrays = [p.detach().numpy() for p in self.params]
        return join_theta([(w, b[:, 0, :]) for w, b in zip(arrays[::2], arrays[1::2])])


@contextlib.contextmanager
def torch_threads(threads: int):
    """torch's intra-op thread count set to ``threads`` inside the block."""
    import torch

    kept = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(kept)


def torch_theta(cells: int, steps: int, threads: int = 1) -> np.ndarray:
    """Final θ (cells, dim) of :class:`TorchCells` after ``steps`` steps."""
    with torch_threads(threads):
        cells_ = TorchCells(workload(cells, steps))
        cells_.run(0, steps)
        return cells_.theta()


def torch_rate(cells: int, steps: int, repeats: int, threads: int | None = None) -> dict:
    """Trajectory-steps/s of :class:`TorchCells`: steps only (data gathered, tensors made,
    :data:`WARMUP_STEPS` steps run before), each repeat from θ₀. Row keys as
    :func:`summary`, plus ``threads`` and ``torch`` (its version)."""
    import torch

    threads = threads or os.cpu_count() or 1
    work = workload(cells, steps)
    rates = []
    with torch_threads(threads):
        trainer = TorchCells(work)
        trainer.run(0, WARMUP_STEPS)
        for _ in range(repeats):
            trainer.reset()
            started = time.perf_counter()
            trainer.run(0, steps)
            rates.append(cells * steps / (time.perf_counter() - started))
    return summary(rates) | {"threads": threads, "torch": torch.__version__}


# --- JAX ----------------------------------------------------------------------------------

def _jax():
    from .bench import _jax as modules  # float64 switched on, or None

    return modules()


def padded_batches(work: Workload) -> tuple[np.ndarray, np.ndarray]:
    """The minibatches as fixed-shape arrays for ``lax.scan``: rows (steps, batch) int64 and
    weights (steps, batch), 1/count for a sample of the batch, 0 for padding (an epoch's
    last batch is short: 1 347 = 42·32 + 3), so Σ weight·loss is the batch's mean."""
    batch = max(len(rows) for rows in work.batches)
    rows = np.zeros((work.steps, batch), dtype=np.int64)
    weights = np.zeros((work.steps, batch))
    for step, taken in enumerate(work.batches):
        rows[step, :len(taken)] = taken
        weights[step, :len(taken)] = 1.0 / len(taken)
    return rows, weights


def jax_trainer(work: Workload):
    """A jitted ``(params, alpha, rows, weights) -> params``: every cell trained over the
    minibatches ``rows`` (steps, batch) in one ``lax.scan``.

    One cell's step is ``jax.grad`` of its weighted cross entropy (``jax.nn.log_softmax``)
    and ``optax.scale_by_adam`` (Kingma & Ba's m̂/(√v̂ + ε), eps_root 0), times −α; it is
    ``jax.vmap``-ed over (params, Adam state, α), the minibatch shared. ``params`` is
    :func:`split_theta`'s list of (W (cells, in, out), b (cells, out)), float64."""
    jax, optax = _jax()
    jnp = jax.numpy
    x_train = jnp.asarray(work.x_train)
    y_train = jnp.asarray(work.y_train)
    adam = optax.scale_by_adam(b1=work.beta1, b2=work.beta2, eps=work.eps)

    def loss(params, x, y, weights):
        a = x
        for layer, (weight, bias) in enumerate(params):
            a = a @ weight + bias
            if layer < len(params) - 1:
                a = jnp.tanh(a)
        picked = jnp.take_along_axis(jax.nn.log_softmax(a), y[:, None], axis=1)[:, 0]
        return -jnp.sum(weights * picked)

    def cell_step(params, state, alpha, x, y, weights):
        updates, state = adam.update(jax.grad(loss)(params, x, y, weights), state, params)
        return jax.tree.map(lambda p, u: p - alpha * u, params, updates), state

    cells_step = jax.vmap(cell_step, in_axes=(0, 0, 0, None, None, None))

    def train(params, alpha, rows, weights):
        def body(carry, batch):
            taken, weight = batch
            return cells_step(*carry, alpha, x_train[taken], y_train[taken], weight), None

        (params, _), _ = jax.lax.scan(body, (params, jax.vmap(adam.init)(params)),
                                      (rows, weights))
        return params

    return jax.jit(train)


def _jax_arguments(work: Workload):
    jax, _ = _jax()
    stacked = np.broadcast_to(work.theta0, (work.cells, work.theta0.size))
    params = [(jax.device_put(np.ascontiguousarray(w)), jax.device_put(np.ascontiguousarray(b)))
              for w, b in split_theta(stacked, work.sizes)]
    rows, weights = padded_batches(work)
    return params, jax.device_put(work.alpha), jax.device_put(rows), jax.device_put(weights)


def jax_theta(cells: int, steps: int) -> np.ndarray:
    """Final θ (cells, dim) of :func:`jax_trainer` after ``steps`` steps."""
    work = workload(cells, steps)
    params = jax_trainer(work)(*_jax_arguments(work))
    return join_theta([(np.asarray(w), np.asarray(b)) for w, b in params])


def jax_rate(cells: int, steps: int, repeats: int) -> dict:
    """Trajectory-steps/s of :func:`jax_trainer`: compiled ahead (``lower().compile()``,
    timed as ``compile_s``) and run once untimed, inputs on the device, every repeat from
    θ₀ through ``block_until_ready``. XLA's CPU backend uses every core. Row keys as
    :func:`summary`, plus ``compile_s`` and ``jax`` (versions)."""
    jax, optax = _jax()
    work = workload(cells, steps)
    arguments = _jax_arguments(work)
    started = time.perf_counter()
    compiled = jax_trainer(work).lower(*arguments).compile()
    compile_s = time.perf_counter() - started
    jax.block_until_ready(compiled(*arguments))
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(compiled(*arguments))
        rates.append(cells * steps / (time.perf_counter() - started))
    return summary(rates) | {"compile_s": compile_s,
                             "jax": f"jax {jax.__version__}, optax {optax.__version__}"}


# --- FLOPs --------------------------------------------------------------------------------

def flops_per_step(network_sizes=NETWORK_SIZES, batch: int = BATCH_SIZE) -> float:
    """Float64 operations of one training step of one cell (flop per trajectory-step).

    Forward: 2·Σ in·out per sample (a multiply and an add per weight). Backward: the
    weight gradients 2·Σ in·out per sample, and the errors of every layer's inputs but
    the first's (the data need none) 2·Σ_{l≥2} in·out: about 2× the forward. Adam:
    :data:`ADAM_FLOPS_PER_PARAMETER` per parameter. Biases, tanh and the softmax add
    ~1 %, and are left out (so shares of peak computed from this are slight underestimates).
    """
    products = [n_in * n_out for n_in, n_out in zip(network_sizes, network_sizes[1:])]
    parameters = sum(p + n_out for p, n_out in zip(products, network_sizes[1:]))
    forward = 2 * sum(products) * batch
    backward = 2 * sum(products) * batch + 2 * sum(products[1:]) * batch
    return float(forward + backward + ADAM_FLOPS_PER_PARAMETER * parameters)


def evaluation_flops(network_sizes=NETWORK_SIZES, samples: int = 1) -> float:
    """Float64 operations of the forward pass over ``samples`` samples (the engine's
    evaluation of the training objective and test set): 2·Σ in·out each."""
    return 2.0 * sum(i * o for i, o in zip(network_sizes, network_sizes[1:])) * samples


def cpu_ghz() -> float | None:
    """The clock in GHz: the highest ``cpu MHz`` of /proc/cpuinfo, else lscpu's "CPU max
    MHz", else None. Under a hypervisor (KVM) this is the nominal clock the guest is told,
    not the turbo the host may run at."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            clocks = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info.read(), re.M)]
        if clocks:
            return max(clocks) / 1000
    except OSError:
        pass
    try:
        import subprocess

        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        found = re.search(r"CPU max MHz:\s*([\d.]+)", text)
        return float(found.group(1)) / 1000 if found else None
    except OSError:
        return None


def cpu_flags() -> set[str]:
    """The ``flags`` of /proc/cpuinfo's first processor (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            found = re.search(r"^flags\s*:(.*)$", info.read(), re.M)
    except OSError:
        return set()
    return set(found.group(1).split()) if found else set()


def flops_per_cycle(flags: set[str] | None = None) -> int:
    """Float64 flop per cycle and core from the CPU's vector extensions
    (:data:`FLOAT64_FLOPS_PER_CYCLE`: 32 with AVX-512, 16 with AVX2 and FMA, else 4).
    Two FMA units are assumed; ``flags`` default to :func:`cpu_flags`."""
    flags = cpu_flags() if flags is None else flags
    for flag, flops in FLOAT64_FLOPS_PER_CYCLE.items():
        if flag in flags:
            return flops
    return SSE2_FLOPS_PER_CYCLE


def peak_flops(cores: int | None = None, ghz: float | None = None,
               per_cycle: int | None = None) -> float:
    """This CPU's float64 peak in flop/s: cores × clock × :func:`flops_per_cycle`.

    The clock from :func:`cpu_ghz` (the nominal one under KVM: turbo would raise the true
    peak, AVX-512 licence clocks lower it); every core of ``os.cpu_count()`` a physical
    core (one hardware thread per core; with SMT pass ``cores``). Raises ValueError when the clock
    cannot be read and none is given."""
    cores = cores or os.cpu_count() or 1
    ghz = ghz or cpu_ghz()
    if ghz is None:
        raise ValueError("cannot read the CPU clock (no /proc/cpuinfo or lscpu): pass ghz")
    return cores * ghz * 1e9 * (per_cycle or flops_per_cycle())


# --- the rows -----------------------------------------------------------------------------

def model_rows(cells: int, steps: int, repeats: int, n_jobs: int | None = None) -> dict:
    """Every "models" figure as a JSON-able dict.

    Returns:
        ``rows`` ({name: row}, trajectory-steps/s: the engine's, torch's and JAX's when
        importable), ``ratios`` ({baseline name: engine median / its median}),
        ``share_of_peak`` ({name: median × :func:`flops_per_step` / :func:`peak_flops`},
        training work only; the engine also with its evaluations, under
        ``"<engine row> counting evaluation"``), ``flops_per_step``, ``peak_flops``, and
        ``notes`` (what ran, what was skipped and why, what each row includes).
    """
    cores = n_jobs or os.cpu_count() or 1
    rows = {ENGINE_ROW: engine_rate(cells, steps, repeats, cores)}
    engine = rows[ENGINE_ROW]
    notes = [f"MLP {'-'.join(map(str, NETWORK_SIZES))} tanh on {DATA}, Adam, batch "
             f"{BATCH_SIZE}, {cells} cells × {steps} steps, float64, {cores} cores, "
             f"{cpu_name()}",
             f"the engine also evaluates training objective and test set "
             f"({engine['evaluations']} passes over all samples, every {engine['eval_every']} "
             f"steps and the last); the baselines only train"]
    try:
        rows[TORCH_ROW] = torch_rate(cells, steps, repeats, cores)
        notes.append(f"torch {rows[TORCH_ROW]['torch']}, {cores} threads")
    except ImportError:
        notes.append("no torch row: torch is not installed")
    if _jax() is None:
        notes.append("no JAX row: jax and optax are not installed "
                     "(pip install 'optimizer-sweep[bench]')")
    else:
        rows[JAX_ROW] = jax_rate(cells, steps, repeats)
        notes.append(f"{rows[JAX_ROW]['jax']}: one jit of a lax.scan over the (steps, "
                     f"{BATCH_SIZE}) minibatch rows, vmap over cells inside")
    flops = flops_per_step()
    work = workload(cells, steps)
    extra = work.evaluations * evaluation_flops(samples=work.eval_samples) / steps
    per_cycle = flops_per_cycle()
    try:
        peak = peak_flops(cores, per_cycle=per_cycle)
    except ValueError as error:
        peak = None
        notes.append(f"no share of peak: {error}")
    shares = {}
    if peak is not None:
        shares = {name: row["median"] * flops / peak for name, row in rows.items()}
        shares[f"{ENGINE_ROW} counting evaluation"] = engine["median"] * (flops + extra) / peak
        notes.append(f"peak {peak / 1e9:.1f} Gflop/s float64 = {cores} cores × "
                     f"{peak / cores / 1e9 / per_cycle:.2f} GHz × "
                     f"{per_cycle} flop/cycle; a step {flops / 1e6:.3f} Mflop "
                     f"per cell (+{extra / 1e6:.3f} of the engine's evaluation)")
    ratios = {name: engine["median"] / row["median"] for name, row in rows.items()
              if name != ENGINE_ROW}
    return {"rows": rows, "ratios": ratios, "share_of_peak": shares, "flops_per_step": flops,
            "peak_flops": peak, "notes": notes}


def print_model_rows(results: dict, out=None) -> None:
    """The table of :func:`model_rows`'s results (k trajectory-steps/s, share of peak)."""
    import sys

    out = sys.stdout if out is None else out
    shares = results["share_of_peak"]
    for name, row in results["rows"].items():
        share = f", {shares[name]:.1%} of peak" if name in shares else ""
        print(f"  {name:<52} {row['median'] / 1e3:8.2f} k/s (spread {row['min'] / 1e3:.2f} – "
              f"{row['max'] / 1e3:.2f}{share})", file=out)
    for name, ratio in results["ratios"].items():
        print(f"  engine / {name}: {ratio:.2f}×", file=out)
    for note in results["notes"]:
        print(f"  {note}", file=out)
