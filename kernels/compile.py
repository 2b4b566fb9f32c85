"""The one place where the scalar rules and objectives meet numba.

:mod:`kernels.rules` and :mod:`kernels.objectives` are plain Python. Here they
are registered as jitable (so compiled code may call them, and they may call
each other, while staying plain functions for the tests) and assembled by
:func:`cpu_kernel` into a kernel that advances a block of grid cells.
"""
from __future__ import annotations

import dis
import functools
import hashlib
import inspect
import math
import pickle
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import intrinsic, overload

from . import logistic, maths, objectives, precision, random, rules, schedules
from .random import counter_key, normal
from .schedules import schedule_scale

@intrinsic
def _llvm_sqrt(typingctx, x):
    """√x through the llvm.sqrt intrinsic: the same bits as libm, but vectorizable."""
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        function = builder.module.declare_intrinsic("llvm.sqrt", [args[0].type])
        return builder.call(function, args)

    return x(x), codegen


@overload(maths.sqrt, target="cpu")
def _sqrt_cpu(x):
    if isinstance(x, types.Float):
        return lambda x: _llvm_sqrt(x)
    if isinstance(x, types.Integer):
        return lambda x: _llvm_sqrt(float(x))


# float32 hook: the AST pass of kernels.precision turns arithmetic into calls of its
# helpers; here they get their CPU implementation, inlined in numba's IR.
precision.register_helpers(overload, target="cpu", inline="always")


def register_jitable(function=None, *, inline: str = "never"):
    """numba's ``register_jitable`` (``register_jitable(f)`` or
    ``register_jitable(inline="always")(f)``), for the CPU target only.

    numba's own registers for the "generic" target, which numba-cuda's typing
    also consults: after a CPU kernel inlined a rule (caching the rule's IR
    typed for the CPU), compiling a CUDA kernel in the same process picked up
    that cached IR and failed to lower it (``mul(omitted, omitted)``).
    :mod:`kernels.cuda` registers the same functions for its own target.
    """
    def register(function):
        overload(function, target="cpu", inline=inline, strict=False)(
            lambda *args, **kwargs: function)
        _REGISTERED.add(function)
        return function
    return register if function is None else register(function)


# Every function registered for CPU kernels (once each).
_REGISTERED: set = set()


def forget_inlined_ir() -> None:
    """Drop the IR the CPU kernels cached for the functions they inline.

    numba's ``InlineOverloads`` pass takes a call's cached IR from *any*
    template of the called function that has it for the signature, whatever
    the template's target: after a CPU kernel inlined ``adam`` (IR typed for the
    CPU, cached on the CPU's template), a CUDA kernel compiled later in the same
    process would inline that IR and fail to lower it (``mul(omitted,
    omitted)``). :mod:`kernels.cuda` calls this before it compiles; a later CPU
    compile types the functions again (a little slower, the same code).
    """
    from numba.core.typing.templates import builtin_registry

    for function, function_type in builtin_registry.globals:
        if function in _REGISTERED:
            for template in getattr(function_type, "templates", ()):
                cached = getattr(template, "_inline_overloads", None)
                if cached:
                    cached.clear()


def _register_objective(value_and_grad) -> None:
    """Make an objective (built-in or the user's) callable from kernels, inlined, once."""
    if value_and_grad not in _REGISTERED:
        register_jitable(inline="always")(value_and_grad)


def uses_key(value_and_grad) -> bool:
    """Whether an objective reads its ``key`` argument (its 4th); if not, kernels skip
    computing one (a call LLVM cannot remove, which would stop the vectorizer)."""
    code = value_and_grad.__code__
    if code.co_argcount < 4:
        return True
    name = code.co_varnames[3]
    return any(instruction.argval == name for instruction in dis.get_instructions(code)
               if instruction.opname.startswith("LOAD"))


def _functions_of(module):
    return [f for f in vars(module).values()
            if inspect.isfunction(f) and f.__module__ == module.__name__]


# Everything a kernel may call (kernels.cuda registers the same functions for
# the GPU). A rule may call another (adamw calls adam), which is why they are
# registered rather than wrapped. Rules and objectives are inlined in numba's
# IR ("always"): left to LLVM, they stayed calls in the big kernels, and a
# call in the cell loop stops the vectorizer.
INLINED_FUNCTIONS = (
    *(o.update for o in rules.OPTIMIZERS.values()), *(o.init for o in rules.OPTIMIZERS.values()),
    objectives.quadratic_eigenvalue, logistic.softplus, logistic.sigmoid,
    *(getattr(objectives, name) for name in (
        "rosenbrock", "rosenbrock_nd", "beale", "himmelblau", "booth", "saddle",
        "monkey_saddle", "rastrigin", "ackley", "styblinski_tang",
        "six_hump_camel", "goldstein_price")))
# The generator and the schedules run outside the vectorized loops (or where
# vectorizing is out of reach anyway): plain calls keep compile times down.
CALLED_FUNCTIONS = (schedules.schedule_scale, *_functions_of(random))
for _function in INLINED_FUNCTIONS:
    register_jitable(inline="always")(_function)
for _function in CALLED_FUNCTIONS:
    register_jitable(_function)


# numba's on-disk cache keys a kernel on its own bytecode and closure, not on
# the rules and objectives it calls: put their source's hash in the closure so
# an edited rule never runs from a stale cache.
SOURCE_FINGERPRINT = hashlib.sha256(
    b"".join(Path(module.__file__).read_bytes()
             for module in (rules, objectives, random, schedules, logistic, maths))).hexdigest()


class Settings(NamedTuple):
    """Scalars and small arrays shared by every cell of a kernel call.

    Attributes:
        steps: number of update steps (≥ 1).
        record_every: record θ and f every this many steps (0: never).
        tol: ``steps_to_tol`` is the first step with f(θ_t) − f* ≤ tol.
        minimum: f* (NaN if unknown: ``steps_to_tol`` stays NaN).
        bound: |θ_i| > bound, or a non-finite θ_i or f, marks a cell diverged.
        option: the rule's fixed option (see :class:`kernels.rules.Optimizer`).
        noise: σ of the Gaussian noise added to each gradient component (0: none).
        warmup, step_every, step_factor: schedule parameters (see :mod:`kernels.schedules`).
        lower, upper: (dim,) box to project θ onto after every step (±inf: none).
    """

    steps: int
    record_every: int
    tol: float
    minimum: float
    bound: float
    option: float
    noise: float
    warmup: float
    step_every: float
    step_factor: float
    lower: np.ndarray
    upper: np.ndarray


# Columns of a kernel's integer per-cell array ``ids``.
SEED, STREAM, SCHEDULE = 0, 1, 2
# Random streams: the objective's own draws, and the engine's gradient noise.
OBJECTIVE_STREAM, NOISE_STREAM = 0, 1


class Metrics(NamedTuple):
    """Per-cell results, filled by a kernel. ``n`` cells, ``dim`` coordinates, ``r`` records.

    Attributes:
        final_x: (n, dim) θ after the last step; NaN where diverged.
        final_loss: (n,) f(θ_steps); NaN where diverged.
        best_loss: (n,) min over t of f(θ_t), t = 0 … steps, before any divergence.
        steps_to_tol: (n,) first t with f(θ_t) − f* ≤ tol, as float; NaN if never.
        diverged: (n,) bool.
        trajectory: (n, r, dim) θ at the recorded steps; NaN from divergence on.
        loss: (n, r) f(θ) at the recorded steps; NaN from divergence on.
    """

    final_x: np.ndarray
    final_loss: np.ndarray
    best_loss: np.ndarray
    steps_to_tol: np.ndarray
    diverged: np.ndarray
    trajectory: np.ndarray
    loss: np.ndarray


def empty_metrics(cells: int, dim: int, records: int, dtype: str = "float64") -> Metrics:
    """Output arrays for ``cells`` cells; recorded values start as NaN.

    The float fields are in ``dtype`` (``"float32"`` for a float32 kernel),
    except ``steps_to_tol`` (a step count: float64 always); ``diverged`` is bool.
    """
    real = precision.DTYPES[precision.check_dtype(dtype)]
    return Metrics(
        final_x=np.empty((cells, dim), dtype=real),
        final_loss=np.empty(cells, dtype=real),
        best_loss=np.empty(cells, dtype=real),
        steps_to_tol=np.empty(cells),
        diverged=np.empty(cells, dtype=np.bool_),
        trajectory=np.full((cells, records, dim), np.nan, dtype=real),
        loss=np.full((cells, records), np.nan, dtype=real),
    )


def check_objective(value_and_grad):
    """Compile an objective alone, as kernels call it: ``(x, grad, t, key)`` with x and grad
    float64[::1], t float64 and key int64. Returns the numba type it returns; raises
    numba's error (which points at the user's line) if it does not compile."""
    from numba import float64, int64

    alone = njit(error_model="numpy")(value_and_grad)
    alone.compile((float64[::1], float64[::1], float64, int64))
    return alone.nopython_signatures[0].return_type


def cache_name(kind: str, update, value_and_grad, dtype: str = "float64") -> str:
    """A name of its own for each kernel in numba's on-disk cache.

    Every kernel is the same nested ``def kernel`` with other functions in its
    closure, and numba names a cache index after the function's qualified
    name: all kernels would share one index and its numbered data files. Two
    processes compiling two kernels at once could then each pick data file
    ``.1`` for their own kernel, and one would later load the other's machine
    code. With a name per (kind, rule, objective), kernels never share files;
    processes compiling the same kernel write the same thing, each file
    replaced atomically by numba. A float32 kernel's name ends in ``.float32``
    (float64 names are unchanged, so are their cache files).
    """
    objective = f"{value_and_grad.__module__}.{value_and_grad.__qualname__}"
    closure = [cell.cell_contents for cell in (value_and_grad.__closure__ or ())]
    contents = hashlib.sha256(value_and_grad.__code__.co_code)
    for value in closure:  # e.g. quadratic's eigenvalues, logistic's data set
        contents.update(value.tobytes() if isinstance(value, np.ndarray) else
                        getattr(value, "__qualname__", repr(value)).encode())
    readable = re.sub(r"[^A-Za-z0-9_.]", "_", f"{update.__name__}.{objective}")[:80]
    suffix = "" if precision.check_dtype(dtype) == "float64" else f".{dtype}"
    return f"{kind}_kernel.{readable}.{contents.hexdigest()[:12]}{suffix}"


def _cached_as(name: str):
    """Give a function the qualified name numba's cache files are named after."""
    def rename(function):
        function.__qualname__ = name
        return function
    return rename


def call_kernel(kernel, *args) -> None:
    """``kernel(*args)``; a cache file cut short (a disk that filled, a machine that
    stopped mid-write) makes numba raise instead of compiling afresh
    (numba/numba#10434): then forget this kernel's cache and compile it again."""
    try:
        kernel(*args)
    except (EOFError, pickle.UnpicklingError):
        kernel._cache.flush()
        kernel(*args)


def _register_twins(made) -> None:
    """Register a float32 twin and the twins it calls, as their originals are registered."""
    for function in precision.reachable(made)[:-1]:  # the last is ``made`` itself
        if function not in _REGISTERED:
            original = getattr(function, "__float32_of__", None)
            register_jitable(inline="never" if original in CALLED_FUNCTIONS else "always")(
                function)


def _in_dtype(kernel, kind: str, update, value_and_grad, dtype: str):
    """float32 hook of the kernel factories: ``kernel`` itself for float64; for float32,
    its float32 twin (the same source retyped by :mod:`kernels.precision`, calling the
    twins of the rule, init, objective and schedule), compiled with the same options
    under a cache name of its own. The float64 ``Settings`` argument is cast on entry."""
    if dtype == "float64":
        return kernel
    made = precision.twin(kernel.py_func, dtype,
                          cast_arguments={"settings": precision.record_cast(Settings, dtype)})
    _register_twins(made)
    made.__qualname__ = cache_name(kind, update, value_and_grad, dtype)
    options = {key: value for key, value in kernel.targetoptions.items() if key != "nopython"}
    return njit(cache=True, **options)(made)  # as the float64 kernels: cached on disk


@functools.cache
def cpu_kernel(update, init, value_and_grad, dtype: str = "float64"):
    """A compiled ``kernel(x0, hyper, ids, settings, out)`` for one rule and one objective.

    Args (of the returned kernel):
        x0: (n, dim) float64 start points, one row per cell.
        hyper: (n, 4) float64 (alpha, beta1, beta2, eps) per cell.
        ids: (n, 3) int64 (seed, stream, schedule code) per cell. The random
            draws of step t are a pure function of (seed, stream, t), so they
            do not depend on the block a cell is in; ``stream`` is the start
            point's index: every cell from one start sees the same draws
            (common random numbers across optimizers and hyperparameters).
        settings: a :class:`Settings`.
        out: a :class:`Metrics` of arrays for n cells, filled in place.

    With ``dtype="float32"`` (the default is float64) x0 and hyper are float32,
    ``out`` is ``empty_metrics(..., dtype="float32")``, ``settings`` the same
    (float64) :class:`Settings`, and every floating-point operation is float32
    (see :mod:`kernels.precision`).

    Each step t: f and g at θ_{t-1} (with ``t`` and the step's random key),
    gradient noise if any, α_t = α·s(t), the rule, then the projection onto
    the box. The cells are independent and run the same instructions
    whatever block they are in, so results do not depend on the chunking.
    Hyperparameters are data: a new grid never recompiles. The kernel
    releases the GIL, so joblib's threads run blocks side by side.
    """
    _register_objective(value_and_grad)
    fingerprint = SOURCE_FINGERPRINT

    # error_model="numpy": x/0 is inf or NaN as IEEE says (a diverged cell),
    # not a ZeroDivisionError that would stop the whole sweep.
    @njit(nogil=True, cache=True, error_model="numpy")
    @_cached_as(cache_name("simple", update, value_and_grad))
    def kernel(x0, hyper, ids, settings, out):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        cells, dim = x0.shape
        theta = np.empty(dim)
        grad = np.empty(dim)
        state0 = np.empty(dim)
        state1 = np.empty(dim)
        state2 = np.empty(dim)
        steps = settings.steps
        record_every = settings.record_every
        for cell in range(cells):
            seed, stream, schedule = ids[cell, SEED], ids[cell, STREAM], ids[cell, SCHEDULE]
            alpha = hyper[cell, 0]
            for i in range(dim):
                theta[i] = x0[cell, i]
                state0[i], state1[i], state2[i] = init(settings.option)
            diverged = False
            best = math.inf
            reached = -1
            record = 0
            value = math.nan
            beta1_power = 1.0
            beta2_power = 1.0
            for step in range(steps + 1):
                # f and ∇f at θ_step are those of step t = step + 1.
                t = float(step + 1)
                key = counter_key(seed, stream, step + 1, OBJECTIVE_STREAM)
                value = value_and_grad(theta, grad, t, key)
                if not math.isfinite(value):
                    diverged = True
                    break
                best = value if value < best else best
                if reached < 0 and value - settings.minimum <= settings.tol:
                    reached = step
                if record_every > 0 and (step % record_every == 0 or step == steps):
                    for i in range(dim):
                        out.trajectory[cell, record, i] = theta[i]
                    out.loss[cell, record] = value
                    record += 1
                if step == steps:
                    break
                if settings.noise > 0.0:
                    noise_key = counter_key(seed, stream, step + 1, NOISE_STREAM)
                    for i in range(dim):
                        grad[i] += settings.noise * normal(noise_key, i)
                scale = schedule_scale(schedule, t, float(steps), settings.warmup,
                                       settings.step_every, settings.step_factor)
                beta1_power *= hyper[cell, 1]
                beta2_power *= hyper[cell, 2]
                hp = (alpha * scale, hyper[cell, 1], hyper[cell, 2], hyper[cell, 3], settings.option,
                      beta1_power, beta2_power)
                for i in range(dim):
                    theta[i], state = update(theta[i], grad[i], t, hp, (state0[i], state1[i], state2[i]))
                    state0[i], state1[i], state2[i] = state
                    # Projected gradient: back into the box (NaN stays NaN).
                    if theta[i] < settings.lower[i]:
                        theta[i] = settings.lower[i]
                    elif theta[i] > settings.upper[i]:
                        theta[i] = settings.upper[i]
                    # Written so that NaN fails the test too.
                    if not abs(theta[i]) <= settings.bound:
                        diverged = True
                if diverged:
                    break
            out.diverged[cell] = diverged
            out.best_loss[cell] = best if best < math.inf else math.nan
            out.steps_to_tol[cell] = reached if reached >= 0 else math.nan
            out.final_loss[cell] = math.nan if diverged else value
            for i in range(dim):
                out.final_x[cell, i] = math.nan if diverged else theta[i]

    return _in_dtype(kernel, "simple", update, value_and_grad, dtype)  # float32 hook


@functools.cache
def lockstep_kernel(update, init, value_and_grad, lanes: int, dtype: str = "float64"):
    """The fast CPU kernel: ``lanes`` cells advance in lockstep, the lane loop innermost.

    Same signature and the same results, bit for bit, as :func:`cpu_kernel`
    (the reference): each cell still runs the same floating-point operations
    in the same order; only the loops are interchanged, so that LLVM
    vectorizes the rule and the objective across cells. Branches that would
    stop the vectorizer are masks: a cell that diverges is frozen (its lane
    keeps computing, its results are not kept), and the metrics are selects.
    State is laid out (dim, lanes) so a lane's neighbours are contiguous.
    ``dtype`` as for :func:`cpu_kernel`.
    """
    _register_objective(value_and_grad)
    fingerprint = SOURCE_FINGERPRINT
    keyed = uses_key(value_and_grad)

    @njit(nogil=True, cache=True, error_model="numpy")
    @_cached_as(cache_name(f"lockstep{lanes}", update, value_and_grad))
    def kernel(x0, hyper, ids, settings, out):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        cells, dim = x0.shape
        steps = settings.steps
        record_every = settings.record_every
        option = settings.option
        minimum = settings.minimum
        tol = settings.tol
        theta = np.empty((dim, lanes))
        grad = np.empty((dim, lanes))
        state0 = np.empty((dim, lanes))
        state1 = np.empty((dim, lanes))
        state2 = np.empty((dim, lanes))
        alpha = np.empty(lanes)
        alpha_t = np.empty(lanes)
        beta1 = np.empty(lanes)
        beta2 = np.empty(lanes)
        eps = np.empty(lanes)
        beta1_power = np.empty(lanes)
        beta2_power = np.empty(lanes)
        seed = np.empty(lanes, dtype=np.int64)
        stream = np.empty(lanes, dtype=np.int64)
        schedule = np.empty(lanes, dtype=np.int64)
        value = np.empty(lanes)
        best = np.empty(lanes)
        reached = np.empty(lanes)
        alive = np.empty(lanes, dtype=np.bool_)
        scales = np.ones(4)
        scheduled = np.zeros(4, dtype=np.bool_)
        for first in range(0, cells, lanes):
            count = min(lanes, cells - first)
            scheduled[:] = False
            for lane in range(lanes):
                # Lanes past the last cell repeat it: computed, never written.
                cell = first + min(lane, count - 1)
                alpha[lane] = hyper[cell, 0]
                beta1[lane] = hyper[cell, 1]
                beta2[lane] = hyper[cell, 2]
                eps[lane] = hyper[cell, 3]
                seed[lane] = ids[cell, SEED]
                stream[lane] = ids[cell, STREAM]
                schedule[lane] = ids[cell, SCHEDULE]
                scheduled[ids[cell, SCHEDULE]] = True
                beta1_power[lane] = 1.0
                beta2_power[lane] = 1.0
                best[lane] = math.inf
                reached[lane] = -1.0
                alive[lane] = True
                for i in range(dim):
                    theta[i, lane] = x0[cell, i]
                    state0[i, lane], state1[i, lane], state2[i, lane] = init(option)
            # The constant schedule without warm-up scales by 1: α_t is α, no per-step work.
            constant = settings.warmup <= 0.0 and not (scheduled[1] or scheduled[2] or scheduled[3])
            step_alpha = alpha if constant else alpha_t
            record = 0
            for step in range(steps + 1):
                t = float(step + 1)
                for lane in range(lanes):
                    key = 0
                    if keyed:
                        key = counter_key(seed[lane], stream[lane], step + 1, OBJECTIVE_STREAM)
                    value[lane] = value_and_grad(theta[:, lane], grad[:, lane], t, key)
                # Selects, not branches: they vectorize. With them, β^t for the step to come
                # (a pass fewer; the product after the last step is never used).
                for lane in range(lanes):
                    current = value[lane]
                    ok = alive[lane] & math.isfinite(current)
                    alive[lane] = ok
                    lowest = best[lane]
                    best[lane] = current if ok & (current < lowest) else lowest
                    first_hit = ok & (reached[lane] < 0.0) & (current - minimum <= tol)
                    reached[lane] = step if first_hit else reached[lane]
                    beta1_power[lane] *= beta1[lane]
                    beta2_power[lane] *= beta2[lane]
                if record_every > 0 and (step % record_every == 0 or step == steps):
                    for lane in range(count):
                        for i in range(dim):
                            out.trajectory[first + lane, record, i] = \
                                theta[i, lane] if alive[lane] else math.nan
                        out.loss[first + lane, record] = value[lane] if alive[lane] else math.nan
                    record += 1
                if step == steps:
                    break
                if settings.noise > 0.0:
                    for lane in range(lanes):
                        noise_key = counter_key(seed[lane], stream[lane], step + 1, NOISE_STREAM)
                        for i in range(dim):
                            grad[i, lane] += settings.noise * normal(noise_key, i)
                if not constant:
                    for kind in range(4):  # the same for every lane: out of the lane loop
                        if scheduled[kind]:
                            scales[kind] = schedule_scale(kind, t, float(steps), settings.warmup,
                                                          settings.step_every, settings.step_factor)
                    for lane in range(lanes):
                        # Gathered here, not in the update loop: a gather there stops the vectorizer.
                        alpha_t[lane] = alpha[lane] * scales[schedule[lane]]
                for i in range(dim):
                    lower = settings.lower[i]
                    upper = settings.upper[i]
                    for lane in range(lanes):
                        hp = (step_alpha[lane], beta1[lane], beta2[lane], eps[lane], option,
                              beta1_power[lane], beta2_power[lane])
                        new, state = update(theta[i, lane], grad[i, lane], t, hp,
                                            (state0[i, lane], state1[i, lane], state2[i, lane]))
                        new = lower if new < lower else (upper if new > upper else new)
                        keep = alive[lane]
                        theta[i, lane] = new if keep else theta[i, lane]
                        state0[i, lane] = state[0] if keep else state0[i, lane]
                        state1[i, lane] = state[1] if keep else state1[i, lane]
                        state2[i, lane] = state[2] if keep else state2[i, lane]
                        alive[lane] = keep & (abs(new) <= settings.bound)
            for lane in range(count):
                cell = first + lane
                diverged = not alive[lane]
                out.diverged[cell] = diverged
                out.best_loss[cell] = best[lane] if best[lane] < math.inf else math.nan
                out.steps_to_tol[cell] = reached[lane] if reached[lane] >= 0.0 else math.nan
                out.final_loss[cell] = math.nan if diverged else value[lane]
                for i in range(dim):
                    out.final_x[cell, i] = math.nan if diverged else theta[i, lane]

    return _in_dtype(kernel, f"lockstep{lanes}", update, value_and_grad, dtype)  # float32 hook
