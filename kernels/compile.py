"""The CPU kernels: the one place where the scalar rules, objectives and step meet numba.

:mod:`kernels.rules`, :mod:`kernels.objectives` and :mod:`kernels.step` are
plain Python. Here they are registered as jitable (so compiled code may call
them, and they may call each other, while staying plain functions for the
tests) and arranged into two kernels that advance a block of grid cells, with
the interface of :mod:`kernels.layout`:

* :func:`cpu_kernel`, the reference: one cell at a time, :func:`kernels.step.cell_runner`;
* :func:`lockstep_kernel`, the fast one: ``lanes`` cells advance together with
  the lane loop innermost, so that LLVM vectorizes the rule and the objective
  across cells. The same functions in the same order for each cell: the same
  bits as the reference.
"""
from __future__ import annotations

import dis
import functools
import hashlib
import inspect
import math
import re
from pathlib import Path

import numpy as np
from numba import njit
from numba.extending import overload

from . import elementary, logistic, objectives, precision, random, rules
from .layout import ALPHA, BETA1, BETA2, EPS, SCHEDULE, SEED, START, Settings
from .numba_support import (REGISTERED, cached_as, inlined_before_typing, register_jitable,
                            vector_bits)
from .lanes import (coordinate_step, group_runs, join_group, lane_step, same, scale_lanes,
                    spread_decay)
from .rules import Decay, Powers
from .schedules import CONSTANT, SCHEDULES, schedule_scale
from .step import (cell_runner, constrain, is_recorded, noise_key, objective_key, observe,
                   perturb, results)

__all__ = ["cpu_kernel", "lockstep_kernel", "LockstepKernel",
           "check_objective", "SOURCE_FINGERPRINT"]

# float32 hook: the AST pass of kernels.precision turns arithmetic into calls of its
# helpers; here they get their CPU implementation, inlined in numba's IR.
precision.register_helpers(overload, target="cpu", inline="always")


def _register_objective(value_and_grad) -> None:
    """Make an objective (built-in or the user's) callable from kernels, inlined, once."""
    if value_and_grad not in REGISTERED:
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


def _unique(functions):
    return tuple(dict.fromkeys(functions))


# Everything a kernel may call (kernels.cuda registers the same functions for
# the GPU). A rule may call another (adamw calls adam), which is why they are
# registered rather than wrapped. Rules, objectives and the step functions of the lane
# loops are inlined in numba's IR ("always"): left to LLVM, they stayed calls in the big
# kernels, and a call in the lane loop stops the vectorizer.
INLINED_FUNCTIONS = _unique((
    *(function for rule in rules.OPTIMIZERS.values()
      for function in (rule.coefficients, rule.update, rule.init)),
    objectives.quadratic_eigenvalue, logistic.softplus, logistic.sigmoid,
    elementary.power_of_two, elementary.exp_polynomial, elementary.exp, elementary.expm1,
    elementary.tanh, elementary.log, elementary.log1p,
    *(getattr(objectives, name) for name in (
        "rosenbrock", "rosenbrock_nd", "beale", "himmelblau", "booth", "saddle",
        "monkey_saddle", "rastrigin", "ackley", "styblinski_tang",
        "six_hump_camel", "goldstein_price")),
    observe, constrain, same, spread_decay))
# The generator, the schedules, the decay (once per step and group of lanes) and the
# step functions outside the lane loops are plain calls: they run outside the
# vectorized loops (or where vectorizing is out of reach anyway), and each inlined
# call costs compile time.
CALLED_FUNCTIONS = _unique((schedule_scale, objective_key, noise_key, perturb, is_recorded, results,
                            join_group, group_runs, scale_lanes,
                            *(rule.decay for rule in rules.OPTIMIZERS.values()),
                            *_functions_of(random)))
for _function in INLINED_FUNCTIONS:
    register_jitable(inline="always")(_function)
for _function in CALLED_FUNCTIONS:
    register_jitable(_function)


def _source_modules():
    """Every module a kernel is built from: those of every function it may call, and
    the modules that arrange them (this one, kernels.cuda, layout, precision, numba_support)."""
    names = {function.__module__ for function in (*INLINED_FUNCTIONS, *CALLED_FUNCTIONS)}
    names |= {__name__, "kernels.cuda", "kernels.layout", "kernels.precision",
              "kernels.numba_support", "kernels.maths", "kernels.step", "kernels.lanes",
              "kernels.models", "kernels.training"}
    folder = Path(__file__).parent
    return sorted(folder / (name.rsplit(".", 1)[-1] + ".py") for name in names)


# numba's on-disk cache keys a kernel on its own bytecode and closure, not on
# the functions it calls: put their source's hash in the closure so an edited
# rule, objective or step never runs from a stale cache.
SOURCE_FINGERPRINT = hashlib.sha256(
    b"".join(path.read_bytes() for path in _source_modules())).hexdigest()


def check_objective(value_and_grad):
    """Compile an objective alone, as kernels call it: ``(x, grad, t, key)`` with x and grad
    float64[::1], t float64 and key int64. Returns the numba type it returns; raises
    numba's error (which points at the user's line) if it does not compile."""
    from numba import float64, int64

    alone = njit(error_model="numpy")(value_and_grad)
    alone.compile((float64[::1], float64[::1], float64, int64))
    return alone.nopython_signatures[0].return_type


def cache_name(kind: str, rule, value_and_grad, dtype: str = "float64") -> str:
    """A name of its own for each kernel in numba's on-disk cache (see
    :func:`kernels.numba_support.cached_as`): one per (kind, rule, objective, dtype).
    Processes compiling the same kernel write the same thing, each file replaced
    atomically by numba. A float32 kernel's name ends in ``.float32``."""
    objective = f"{value_and_grad.__module__}.{value_and_grad.__qualname__}"
    closure = [cell.cell_contents for cell in (value_and_grad.__closure__ or ())]
    contents = hashlib.sha256(value_and_grad.__code__.co_code)
    for value in closure:  # e.g. quadratic's eigenvalues, logistic's data set
        contents.update(value.tobytes() if isinstance(value, np.ndarray) else
                        getattr(value, "__qualname__", repr(value)).encode())
    readable = re.sub(r"[^A-Za-z0-9_.]", "_", f"{rule.name}.{objective}")[:80]
    suffix = "" if precision.check_dtype(dtype) == "float64" else f".{dtype}"
    return f"{kind}_kernel.{readable}.{contents.hexdigest()[:12]}{suffix}"


def _register_twins(made) -> None:
    """Register a float32 twin and the twins it calls, as their originals are registered."""
    for function in precision.reachable(made)[:-1]:  # the last is ``made`` itself
        if function not in REGISTERED:
            original = getattr(function, "__float32_of__", None)
            register_jitable(inline="never" if original in CALLED_FUNCTIONS else "always")(
                function)


def _in_dtype(kernel, name: str, dtype: str):
    """float32 hook of the kernel factories: ``kernel`` itself for float64; for float32,
    its float32 twin (the same source retyped by :mod:`kernels.precision`, calling the
    twins of the rule, objective and step), compiled with the same options under
    the cache name ``name``. The float64 ``Settings`` argument is cast on entry."""
    if dtype == "float64":
        return kernel
    made = precision.twin(kernel.py_func, dtype,
                          cast_arguments={"settings": precision.record_cast(Settings, dtype)})
    _register_twins(made)
    made.__qualname__ = name
    options = {key: value for key, value in kernel.targetoptions.items() if key != "nopython"}
    return njit(cache=True, **options)(made)  # as the float64 kernels: cached on disk


def cpu_kernel(rule, value_and_grad, dtype: str = "float64"):
    """The reference CPU ``kernel(x0, hyper, ids, settings, out)`` of one rule on one objective.

    Args:
        rule: a :class:`kernels.rules.Optimizer`.
        value_and_grad: the objective ``(x, grad, t, key) -> f`` (plain Python).
        dtype: ``"float64"`` (default) or ``"float32"``: x0, hyper and ``out``'s
            floats in that type, and every floating-point operation too
            (see :mod:`kernels.precision`); ``settings`` is float64 either way.

    The kernel's arguments are those of :mod:`kernels.layout`. One cell at a
    time, each through :func:`kernels.step.cell_runner`. Hyperparameters are
    data: a new grid never recompiles. It releases the GIL, so joblib's
    threads run blocks side by side.
    """
    return _simple_kernel(rule, value_and_grad, precision.check_dtype(dtype))


@functools.cache
def _simple_kernel(rule, value_and_grad, dtype):
    _register_objective(value_and_grad)
    # Inlined, and named after its kernel: every cell_runner closure has the same
    # qualified name, and a separately compiled one got the same linker symbol in every
    # kernel; a kernel loaded from the disk cache then ran whichever of them the
    # process had loaded first (another rule's cells). tests/test_numba_cache.py.
    run_cell = cell_runner(rule, value_and_grad, uses_key(value_and_grad))
    run_cell.__qualname__ = cache_name("cell", rule, value_and_grad)
    register_jitable(inline="always")(run_cell)
    fingerprint = SOURCE_FINGERPRINT

    # error_model="numpy": x/0 is inf or NaN as IEEE says (a diverged cell),
    # not a ZeroDivisionError that would stop the whole sweep.
    @njit(nogil=True, cache=True, error_model="numpy")
    @cached_as(cache_name("simple", rule, value_and_grad))
    def kernel(x0, hyper, ids, settings, out):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        cells, dim = x0.shape
        theta = np.empty(dim)
        grad = np.empty(dim)
        state0 = np.empty(dim)
        state1 = np.empty(dim)
        state2 = np.empty(dim)
        for cell in range(cells):
            for i in range(dim):
                theta[i] = x0[cell, i]
            alive, value, best, reached = run_cell(
                theta, grad, state0, state1, state2, hyper[cell, ALPHA], hyper[cell, BETA1],
                hyper[cell, BETA2], hyper[cell, EPS], ids[cell, SEED], ids[cell, START],
                ids[cell, SCHEDULE], settings, out.trajectory[cell], out.loss[cell])
            (out.diverged[cell], out.final_loss[cell], out.best_loss[cell],
             out.steps_to_tol[cell]) = results(alive, value, best, reached)
            for i in range(dim):
                out.final_x[cell, i] = theta[i] if alive else math.nan

    return _in_dtype(kernel, cache_name("simple", rule, value_and_grad, dtype), dtype)


def lockstep_kernel(rule, value_and_grad, lanes: int, dtype: str = "float64"):
    """The fast CPU kernel: ``lanes`` cells advance in lockstep, the lane loop innermost.

    Same arguments and the same results, bit for bit, as :func:`cpu_kernel`:
    each cell runs the same floating-point operations in the same order; only
    the loops are interchanged, so that LLVM vectorizes the rule and the
    objective across cells. Branches that would stop the vectorizer are
    selects: a cell that diverges is frozen (its lane keeps computing, its
    results are not kept). State is laid out (dim, lanes) so a lane's
    neighbours are contiguous.

    For the rules of :data:`sweep.tunables.LANE_CHUNK` (for the vector width LLVM uses
    here, :func:`kernels.numba_support.vector_bits`), a step runs a chunk of lanes
    at a time: the objective, the metrics and the update of one chunk, then the next.
    The update's divisions and roots, which only the core's divider does, then overlap
    the next chunk's other arithmetic; in phases over all lanes the divider waited
    while the objective and the metrics ran. Problems of up to
    :data:`sweep.tunables.LOCKSTEP_FIXED_DIM` coordinates get a kernel of their own
    dimension, a compile-time constant (see :class:`LockstepKernel`).

    The step coefficients that depend on (β₁, β₂, t) alone (bias corrections,
    NAdam's μ and Π: the divisions and roots of ``rule.decay``) are computed
    once per step for each distinct (β₁, β₂) among the lanes, not once per
    lane: the same operations on the same inputs, so the same bits. Cells
    are taken in the order of their (β₁, β₂), so that the lanes share them.
    """
    from sweep import tunables

    chunk = min(tunables.LANE_CHUNK.get(vector_bits(), {}).get(rule.name, lanes), lanes)
    if lanes % chunk:
        raise ValueError(f"a chunk of {chunk} lanes does not divide {lanes} lanes")
    return _lockstep_kernel(rule, value_and_grad, lanes, chunk, tunables.LOCKSTEP_FIXED_DIM,
                            precision.check_dtype(dtype))


@functools.cache
def _lockstep_kernel(rule, value_and_grad, lanes, chunk, fixed, dtype):
    def dispatcher_for(dim: int, *, noisy: bool, scheduled: bool):
        return _lockstep_dispatcher(rule, value_and_grad, lanes, chunk,
                                    dim if dim <= fixed else 0, dtype, noisy, scheduled)

    return LockstepKernel(dispatcher_for)


class LockstepKernel:
    """The lockstep dispatchers, one per dimension and per use of gradient noise and of
    schedules, called with the cells in the order of their (β₁, β₂).

    The order is numpy's ``lexsort``, here: a sort compiled into every kernel
    cost ~1.7 s of its first compile. A kernel compiles the code of the noise
    and of the schedules (their random generator, the gather of each lane's
    scale) only for the cells that use them: that code was ~30 % of a kernel's
    LLVM module (linked into and optimized again with every kernel) and most of
    the step functions compiled with the first. The default grid uses neither;
    its five kernels compiled in 13.7–14.8 s without it against 14.8–19.8 s with
    it (an AMD Zen 5, three interleaved runs each).

    Attributes:
        dispatcher_for: ``(dim, *, noisy, scheduled) -> `` the numba dispatcher,
            ``(x0, hyper, ids, settings, out, order)``, for problems of ``dim``
            coordinates (one compiled for that dimension up to
            :data:`sweep.tunables.LOCKSTEP_FIXED_DIM`, one for any dimension beyond),
            with gradient noise or none, and with schedules or warm-up or the constant
            α alone (see :func:`variant`).
    """

    def __init__(self, dispatcher_for):
        self.dispatcher_for = dispatcher_for
        self._called = {}  # variant(...) -> dispatcher, those this kernel has run

    @property
    def signatures(self) -> list:
        """The compiled signatures of the dispatchers called so far (a new grid of the
        same dimension adds none)."""
        return [signature for dispatcher in self._called.values()
                for signature in dispatcher.signatures]

    @property
    def _cache(self):  # for kernels.numba_support.call_kernel
        return _Caches([dispatcher._cache for dispatcher in self._called.values()])

    def __call__(self, x0, hyper, ids, settings, out) -> None:
        """Advance ``x0.shape[0]`` cells and fill ``out`` (see :mod:`kernels.layout`)."""
        key = variant(x0, ids, settings)
        if key not in self._called:
            dim, noisy, scheduled = key
            self._called[key] = self.dispatcher_for(dim, noisy=noisy, scheduled=scheduled)
        order = np.lexsort((hyper[:, BETA2], hyper[:, BETA1]))
        self._called[key](x0, hyper, ids, settings, out, order)


def variant(x0, ids, settings) -> tuple[int, bool, bool]:
    """``(dim, noisy, scheduled)``: which lockstep kernel advances these cells. Noisy
    where the gradient noise is on; scheduled where a warm-up or a schedule other than
    the constant one scales α for any of them (a grid whose blocks differ in it compiles
    both kernels: the same bits, as α·1 is α)."""
    scheduled = settings.warmup > 0.0 or bool(np.any(ids[:, SCHEDULE] != CONSTANT))
    return x0.shape[1], settings.noise > 0.0, scheduled


class _Caches:
    """Several dispatchers' on-disk caches, flushed together."""

    def __init__(self, caches):
        self.caches = caches

    def flush(self) -> None:
        for cache in self.caches:
            cache.flush()


@functools.cache
def _lockstep_dispatcher(rule, value_and_grad, lanes, chunk, fixed_dim, dtype, with_noise,
                         with_schedules):
    _register_objective(value_and_grad)
    fingerprint = SOURCE_FINGERPRINT
    keyed = uses_key(value_and_grad)
    decay, init = rule.decay, rule.init
    advance = registered_coordinate_step(rule)
    kinds = len(SCHEDULES)
    # Rules whose coefficients do not depend on β and t alone (sgd … rmsprop) have no
    # decay to share: their lanes' decay stays 0 and nothing is copied per step.
    decays = rule.decay is not rules.no_decay
    states = rule.states  # state values kept per coordinate; the others stay 0, unstored
    name = (f"lockstep{lanes}x{chunk}" + (f"d{fixed_dim}" if fixed_dim else "")
            + ("n" if with_noise else "") + ("s" if with_schedules else ""))

    @njit(nogil=True, cache=True, error_model="numpy")
    @cached_as(cache_name(name, rule, value_and_grad))
    def kernel(x0, hyper, ids, settings, out, order):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        cells = x0.shape[0]
        # A constant where the kernel is built for one dimension: LLVM then knows the
        # offset of every row below, and fully unrolls the loops over coordinates.
        dim = fixed_dim if fixed_dim > 0 else x0.shape[1]
        steps = settings.steps
        option = settings.option
        # Every float array of the lanes is rows of one allocation, at offsets LLVM can
        # compute: it then proves that the lane loops' loads and stores do not overlap
        # and vectorizes them without run-time checks (two arrays from np.empty may
        # overlap as far as it knows, and it checked them again for every chunk). Five
        # rows per coordinate (θ, ∇f, the rule's three state values), then eleven of
        # one value per lane.
        work = np.zeros((5 * dim + 11, lanes))
        theta, grad = work[0:dim], work[dim:2 * dim]
        state0, state1 = work[2 * dim:3 * dim], work[3 * dim:4 * dim]
        state2 = work[4 * dim:5 * dim]
        row = 5 * dim
        alpha, alpha_t, beta1, beta2 = work[row], work[row + 1], work[row + 2], work[row + 3]
        eps, value, best, reached = work[row + 4], work[row + 5], work[row + 6], work[row + 7]
        lane_decay = work[row + 8:row + 11]  # each lane's group's decay (0 for rules without)
        seed = np.empty(lanes, dtype=np.int64)
        start = np.empty(lanes, dtype=np.int64)
        schedule = np.empty(lanes, dtype=np.int64)
        alive = np.empty(lanes, dtype=np.bool_)
        # The lanes' distinct (β₁, β₂): each lane's group, and per group its powers and decay.
        group = np.empty(lanes, dtype=np.int64)
        group_beta1 = np.empty(lanes)
        group_beta2 = np.empty(lanes)
        group_powers = np.empty((2, lanes))
        group_decay = np.empty((3, lanes))
        run_start = np.empty(lanes, dtype=np.uint64)  # the lanes in runs of one group
        run_end = np.empty(lanes, dtype=np.uint64)
        run_group = np.empty(lanes, dtype=np.int64)
        scales = np.ones(kinds)
        scheduled = np.zeros(kinds, dtype=np.bool_)
        # Cells taken in ``order``, by their (β₁, β₂), so that the lanes of a block share
        # them and the decay's divisions and roots are done once for all (a cell's
        # operations do not depend on its neighbours: the same bits in any order).
        for first in range(0, cells, lanes):
            count = min(lanes, cells - first)
            scheduled[:] = False
            groups = 0
            for lane in range(lanes):
                # Lanes past the last cell repeat it: computed, never written.
                cell = order[first + min(lane, count - 1)]
                alpha[lane] = hyper[cell, ALPHA]
                beta1[lane] = hyper[cell, BETA1]
                beta2[lane] = hyper[cell, BETA2]
                eps[lane] = hyper[cell, EPS]
                seed[lane] = ids[cell, SEED]
                start[lane] = ids[cell, START]
                schedule[lane] = ids[cell, SCHEDULE]
                scheduled[ids[cell, SCHEDULE]] = True
                best[lane] = math.inf
                reached[lane] = -1.0
                alive[lane] = True
                for i in range(dim):
                    theta[i, lane] = x0[cell, i]
                    state0[i, lane], state1[i, lane], state2[i, lane] = init(option)
                groups = join_group(lane, beta1[lane], beta2[lane], groups, group, group_beta1,
                                    group_beta2, group_powers)
            runs = group_runs(group, lanes, run_start, run_end, run_group)
            # The constant schedule without warm-up scales by 1: α_t is α, no per-step work.
            constant = settings.warmup <= 0.0
            for kind in range(kinds):
                if scheduled[kind] and kind != CONSTANT:
                    constant = False
            step_alpha = alpha if constant else alpha_t
            record = 0
            for step in range(steps + 1):
                t = float(step + 1)
                last = step == steps
                recorded = is_recorded(step, steps, settings.record_every)
                if not last:
                    # ``with_schedules`` and ``with_noise`` are constants: numba prunes the
                    # branches they rule out before typing, and their calls are never compiled.
                    if with_schedules and not constant:
                        scale_lanes(alpha, alpha_t, schedule, scheduled, scales, t, settings)
                    # The decay as kernels.lanes.lane_step writes it, inline: a call a step
                    # (the training kernel's) increfs and decrefs each array it is passed,
                    # 5-10 % of the cheap rules' time here (sgd, momentum, adam).
                    if decays:
                        for known in range(groups):
                            factors, powers = decay(group_beta1[known], group_beta2[known],
                                                    option, t,
                                                    Powers(first=group_powers[0, known],
                                                           second=group_powers[1, known]))
                            group_powers[0, known], group_powers[1, known] = powers
                            group_decay[0, known], group_decay[1, known], \
                                group_decay[2, known] = factors
                        spread_decay(runs, run_start, run_end, run_group, group_decay,
                                     lane_decay)
                for begin in range(0, lanes, chunk):  # the step, a chunk of lanes at a time
                    end = begin + chunk
                    for lane in range(begin, end):
                        key = objective_key(seed[lane], start[lane], step) if keyed else 0
                        value[lane] = value_and_grad(theta[:, lane], grad[:, lane], t, key)
                    for lane in range(begin, end):
                        alive[lane], best[lane], reached[lane] = observe(
                            value[lane], step, alive[lane], best[lane], reached[lane],
                            settings.minimum, settings.tol)
                    if recorded:
                        for lane in range(begin, min(end, count)):
                            cell = order[first + lane]
                            for i in range(dim):
                                out.trajectory[cell, record, i] = \
                                    theta[i, lane] if alive[lane] else math.nan
                            out.loss[cell, record] = value[lane] if alive[lane] else math.nan
                    if last:
                        continue
                    if with_noise:
                        for lane in range(begin, end):
                            noise = noise_key(seed[lane], start[lane], step)
                            for i in range(dim):
                                grad[i, lane] = perturb(grad[i, lane], settings.noise, noise, i)
                    for i in range(dim):
                        lower = settings.lower[i]
                        upper = settings.upper[i]
                        for lane in range(begin, end):
                            theta[i, lane], state, alive[lane] = advance(
                                theta[i, lane], grad[i, lane],
                                (state0[i, lane] if states > 0 else 0.0,
                                 state1[i, lane] if states > 1 else 0.0,
                                 state2[i, lane] if states > 2 else 0.0),
                                step_alpha[lane], beta1[lane], beta2[lane], eps[lane], option,
                                Decay(first=lane_decay[0, lane], second=lane_decay[1, lane],
                                      root=lane_decay[2, lane]),
                                lower, upper, settings.bound, alive[lane])
                            if states > 0:
                                state0[i, lane] = state[0]
                            if states > 1:
                                state1[i, lane] = state[1]
                            if states > 2:
                                state2[i, lane] = state[2]
                if recorded:
                    record += 1
            for lane in range(count):
                cell = order[first + lane]
                (out.diverged[cell], out.final_loss[cell], out.best_loss[cell],
                 out.steps_to_tol[cell]) = results(alive[lane], value[lane], best[lane],
                                                   reached[lane])
                for i in range(dim):
                    out.final_x[cell, i] = theta[i, lane] if alive[lane] else math.nan

    return _in_dtype(kernel, cache_name(name, rule, value_and_grad, dtype), dtype)


@functools.cache
def registered_coordinate_step(rule):
    """:func:`kernels.lanes.coordinate_step` of ``rule``, the body of every lane loop, made
    callable from CPU kernels once per process. Inlined either way (a call in the lane loop
    would stop the vectorizer), and its arguments are scalars, so inlining adds no
    reference counting.

    Returns it jitted with ``inline="always"``, which the lockstep kernels call: numba
    inlines a jitted function's untyped IR before typing the kernel. Registered with
    ``inline="always"`` too, for ``update_lanes`` (:func:`registered_lane_step`, whose
    function is plain Python for CUDA's sake): that inlining types the function on its
    own first, ~0.5 s more of type inference for each lockstep kernel (adam, measured with
    numba's pass timers: 3.2 vs 3.8 s), hence not for them.
    """
    advance = coordinate_step(rule)
    advance.__qualname__ = f"coordinate.{rule.name}.advance"
    register_jitable(inline="always")(advance)
    return inlined_before_typing(advance, advance.__qualname__)


@functools.cache
def registered_lane_step(rule, lanes: int):
    """:func:`kernels.lanes.lane_step` of ``rule`` and ``lanes``, registered once per
    process (every kernel of that rule and lane count calls the same two functions), and
    named after both (see :func:`_simple_kernel`: closures share a qualified name, and
    separately compiled ones would share a linker symbol)."""
    registered_coordinate_step(rule)  # what update_lanes calls
    functions = lane_step(rule, lanes)
    for function in functions:
        function.__qualname__ = f"lanes{lanes}.{rule.name}.{function.__name__}"
        # Called, not inlined: inlined, every array argument was increfed and decrefed at
        # each step (numba binds an inlined function's arguments to new variables, and
        # its reference-count pruning did not remove the pairs across the loops):
        # ~6-10 % on sgd and momentum. A call borrows them.
        register_jitable(function)
    return functions
