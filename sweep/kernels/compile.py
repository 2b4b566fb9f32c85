"""The CPU kernels: the one place where the scalar rules, objectives and step meet numba.

:mod:`sweep.kernels.rules`, :mod:`sweep.kernels.objectives` and :mod:`sweep.kernels.step` are
plain Python. Here they are registered as jitable (so compiled code may call
them, and they may call each other, while staying plain functions for the
tests) and arranged into two kernels that advance a block of grid cells, with
the interface of :mod:`sweep.kernels.layout`:

* :func:`cpu_kernel`, the reference: one cell at a time, :func:`sweep.kernels.step.cell_runner`;
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

from . import elementary, lanes, logistic, objectives, precision, random, records, rules
from .layout import SCHEDULE, SEED, START, Settings
from .numba_support import REGISTERED, InliningCompiler, cached_as, register_jitable
from .lanes import (coordinate_step, group_runs, lane_arrays, lane_loader, lane_step, same,
                    scale_lanes, sizes, spread_shared)
from .schedules import CONSTANT, SCHEDULES, schedule_scale
from .step import (cell_runner, constrain, is_recorded, noise_key, objective_key, observe,
                   perturb, results)

__all__ = ["cpu_kernel", "lockstep_kernel", "LockstepKernel",
           "check_objective", "SOURCE_FINGERPRINT"]

# float32 hook: the AST pass of sweep.kernels.precision turns arithmetic into calls of its
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


# Everything a kernel may call (sweep.kernels.cuda registers the same functions for
# the GPU). A rule may call another (adamw calls adam), which is why they are
# registered rather than wrapped. Rules, objectives and the step functions of the lane
# loops are inlined in numba's IR ("always"): left to LLVM, they stayed calls in the big
# kernels, and a call in the lane loop stops the vectorizer.
INLINED_FUNCTIONS = _unique((
    objectives.quadratic_eigenvalue, logistic.softplus, logistic.sigmoid,
    elementary.power_of_two, elementary.exp_polynomial, elementary.exp, elementary.expm1,
    elementary.tanh, elementary.log, elementary.log1p,
    *(getattr(objectives, name) for name in (
        "rosenbrock", "rosenbrock_nd", "beale", "himmelblau", "booth", "saddle",
        "monkey_saddle", "rastrigin", "ackley", "styblinski_tang",
        "six_hump_camel", "goldstein_price")),
    observe, constrain, same, spread_shared,
    # Inlined: the lanes' rows are then one allocation in the kernel, which LLVM sees.
    lanes.lane_arrays))
# The generator, the schedules, the decay (once per step and group of lanes) and the
# step functions outside the lane loops are plain calls: they run outside the
# vectorized loops (or where vectorizing is out of reach anyway), and each inlined
# call costs compile time.
CALLED_FUNCTIONS = _unique((schedule_scale, objective_key, noise_key, perturb, is_recorded, results,
                            group_runs, scale_lanes, lanes.lane_float_rows,
                            lanes.lane_rows, lanes.lanes_in, lanes.clear_lanes,
                            *_functions_of(random)))
for _function in INLINED_FUNCTIONS:
    register_jitable(inline="always")(_function)
for _function in CALLED_FUNCTIONS:
    register_jitable(_function)
register_jitable(inline="always")(rules.nothing_shared)


def rule_functions(rule) -> tuple[tuple, tuple]:
    """``(inlined, called)``: the plain functions of ``rule`` a kernel may call, and the
    glue its declaration implies (:mod:`sweep.kernels.records`). The coefficients, the update,
    the initial state and the glue are inlined (they run in the lane loops); ``shared``
    runs once per step and group of lanes: a call. A rule may call another (adamw calls
    adam): the functions a rule's globals name are registered too."""
    inlined = [rule.coefficients, rule.update, records.init_function(rule),
               records.report_function(rule), *records.glue(rule)]
    for function in list(inlined):
        for name in function.__code__.co_names:
            value = function.__globals__.get(name)
            if inspect.isfunction(value) and value.__module__ == function.__module__ \
                    and value not in CALLED_FUNCTIONS:
                inlined.append(value)
        for cell in function.__closure__ or ():  # a user's rule: the function it wraps
            if inspect.isfunction(cell.cell_contents):
                inlined.append(cell.cell_contents)
    called = [rule.shared] if rule.shared is not rules.nothing_shared else []
    return _unique(inlined), _unique(called)


@functools.cache
def register_rule(rule) -> None:
    """Make ``rule``'s functions callable from CPU kernels, once per process."""
    inlined, called = rule_functions(rule)
    for function in inlined:
        if function not in REGISTERED:
            register_jitable(inline="always")(function)
    for function in called:
        if function not in REGISTERED:
            register_jitable(function)


def _source_modules():
    """Every module a kernel is built from: those of every function it may call, and
    the modules that arrange them (this one, cuda, layout, precision, numba_support), as
    files of this package's folder."""
    names = {function.__module__ for function in (*INLINED_FUNCTIONS, *CALLED_FUNCTIONS)}
    names |= {__name__, *(f"{__package__}.{name}" for name in (
        "cuda", "rules", "records", "layout", "precision", "numba_support", "maths", "step",
        "lanes", "models", "training"))}
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
    :func:`sweep.kernels.numba_support.cached_as`): one per (kind, rule, objective, dtype).
    Processes compiling the same kernel write the same thing, each file replaced
    atomically by numba. A float32 kernel's name ends in ``.float32``."""
    objective = f"{value_and_grad.__module__}.{value_and_grad.__qualname__}"
    closure = [cell.cell_contents for cell in (value_and_grad.__closure__ or ())]
    contents = hashlib.sha256(value_and_grad.__code__.co_code)
    for value in closure:  # e.g. quadratic's eigenvalues, logistic's data set
        contents.update(value.tobytes() if isinstance(value, np.ndarray) else
                        getattr(value, "__qualname__", repr(value)).encode())
    for function in rule.functions:  # a user's rule: its code (built-ins: the fingerprint)
        contents.update(function.__code__.co_code)
        contents.update(repr(function.__code__.co_consts).encode())
    contents.update(repr((rule.names, rule.state, rule.shared_by, rule.carry)).encode())
    if rule.source is not None:  # a user's rule: its file's hash
        contents.update(rule.source.encode())
    readable = re.sub(r"[^A-Za-z0-9_.]", "_", f"{rule.name}.{objective}")[:80]
    suffix = "" if precision.check_dtype(dtype) == "float64" else f".{dtype}"
    return f"{kind}_kernel.{readable}.{contents.hexdigest()[:12]}{suffix}"


def _register_twins(made) -> None:
    """Register a float32 twin and the twins it calls, as their originals are registered."""
    for function in precision.reachable(made)[:-1]:  # the last is ``made`` itself
        if function not in REGISTERED:
            original = getattr(function, "__float32_of__", None)
            register_jitable(inline=REGISTERED.get(original, "always"))(function)


def _in_dtype(kernel, name: str, dtype: str):
    """float32 hook of the kernel factories: ``kernel`` itself for float64; for float32,
    its float32 twin (the same source retyped by :mod:`sweep.kernels.precision`, calling the
    twins of the rule, objective and step), compiled with the same options under
    the cache name ``name``. The float64 ``Settings`` argument is cast on entry."""
    if dtype == "float64":
        return kernel
    made = precision.twin(kernel.py_func, dtype,
                          cast_arguments={"settings": precision.record_cast(Settings, dtype)})
    _register_twins(made)
    made.__qualname__ = name
    options = {key: value for key, value in kernel.targetoptions.items() if key != "nopython"}
    # as the float64 kernels: cached on disk, the registered functions inlined before typing
    return njit(cache=True, pipeline_class=InliningCompiler, **options)(made)


def cpu_kernel(rule, value_and_grad, dtype: str = "float64"):
    """The reference CPU ``kernel(x0, hyper, ids, settings, out)`` of one rule on one objective.

    Args:
        rule: a :class:`sweep.kernels.rules.Optimizer`.
        value_and_grad: the objective ``(x, grad, t, key) -> f`` (plain Python).
        dtype: ``"float64"`` (default) or ``"float32"``: x0, hyper and ``out``'s
            floats in that type, and every floating-point operation too
            (see :mod:`sweep.kernels.precision`); ``settings`` is float64 either way.

    The kernel's arguments are those of :mod:`sweep.kernels.layout`. One cell at a
    time, each through :func:`sweep.kernels.step.cell_runner`. Hyperparameters are
    data: a new grid never recompiles. It releases the GIL, so joblib's
    threads run blocks side by side.
    """
    return _simple_kernel(rule, value_and_grad, precision.check_dtype(dtype))


@functools.cache
def _simple_kernel(rule, value_and_grad, dtype):
    _register_objective(value_and_grad)
    register_rule(rule)
    # Inlined, and named after its kernel: every cell_runner closure has the same
    # qualified name, and a separately compiled one got the same linker symbol in every
    # kernel; a kernel loaded from the disk cache then ran whichever of them the
    # process had loaded first (another rule's cells). tests/test_numba_cache.py.
    run_cell = cell_runner(rule, value_and_grad, uses_key(value_and_grad))
    run_cell.__qualname__ = cache_name("cell", rule, value_and_grad)
    register_jitable(inline="always")(run_cell)
    fingerprint = SOURCE_FINGERPRINT
    state_rows = max(1, len(rule.state))
    columns = len(rule.names)

    # error_model="numpy": x/0 is inf or NaN as IEEE says (a diverged cell),
    # not a ZeroDivisionError that would stop the whole sweep.
    @njit(nogil=True, cache=True, error_model="numpy", pipeline_class=InliningCompiler)
    @cached_as(cache_name("simple", rule, value_and_grad))
    def kernel(x0, hyper, ids, settings, out):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        cells, dim = x0.shape
        theta = np.empty(dim)
        grad = np.empty(dim)
        point = np.empty(dim)
        spare = np.empty(dim)
        states = np.zeros((state_rows * dim, 1))
        cell_hyper = np.empty((columns, 1))
        for cell in range(cells):
            for i in range(dim):
                theta[i] = x0[cell, i]
            for column in range(columns):
                cell_hyper[column, 0] = hyper[cell, column]
            alive, value, best, reached = run_cell(
                theta, grad, point, spare, states, cell_hyper, ids[cell, SEED], ids[cell, START],
                ids[cell, SCHEDULE], settings, out.trajectory[cell], out.loss[cell])
            (out.diverged[cell], out.final_loss[cell], out.best_loss[cell],
             out.steps_to_tol[cell]) = results(alive, value, best, reached)
            for i in range(dim):
                out.final_x[cell, i] = point[i] if alive else math.nan

    return _in_dtype(kernel, cache_name("simple", rule, value_and_grad, dtype), dtype)


def lockstep_kernel(rule, value_and_grad, lanes: int, dtype: str = "float64", *,
                    chunk: int | None = None, fixed_dim: int = 8):
    """The fast CPU kernel: ``lanes`` cells advance in lockstep, the lane loop innermost.

    Same arguments and the same results, bit for bit, as :func:`cpu_kernel`:
    each cell runs the same floating-point operations in the same order; only
    the loops are interchanged, so that LLVM vectorizes the rule and the
    objective across cells. Branches that would stop the vectorizer are
    selects: a cell that diverges is frozen (its lane keeps computing, its
    results are not kept). State is laid out (dim, lanes) so a lane's
    neighbours are contiguous.

    With ``chunk`` (lanes, a divisor of ``lanes``; :data:`sweep.tunables.LANE_CHUNK`
    chooses it per rule and vector width), a step runs a chunk of lanes
    at a time: the objective, the metrics and the update of one chunk, then the next.
    The update's divisions and roots, which only the core's divider does, then overlap
    the next chunk's other arithmetic; in phases over all lanes the divider waited
    while the objective and the metrics ran. Problems of up to ``fixed_dim``
    coordinates get a kernel of their own dimension, a compile-time constant (see
    :class:`LockstepKernel`).

    The step coefficients that depend on t and the ``shared_by`` hyperparameters alone
    (bias corrections, NAdam's μ and Π: the divisions and roots of ``rule.shared``) are
    computed once per step for each distinct set of those values among the lanes, not
    once per lane: the same operations on the same inputs, so the same bits. Cells are
    taken in the order of those values (:func:`shared_order`), so that the lanes share
    them.
    """
    chunk = min(chunk or lanes, lanes)
    if lanes % chunk:
        raise ValueError(f"a chunk of {chunk} lanes does not divide {lanes} lanes")
    return _lockstep_kernel(rule, value_and_grad, lanes, chunk, fixed_dim,
                            precision.check_dtype(dtype))


@functools.cache
def _lockstep_kernel(rule, value_and_grad, lanes, chunk, fixed, dtype):
    def dispatcher_for(dim: int, *, noisy: bool, scheduled: bool):
        return _lockstep_dispatcher(rule, value_and_grad, lanes, chunk,
                                    dim if dim <= fixed else 0, dtype, noisy, scheduled)

    return LockstepKernel(dispatcher_for, rule)


class LockstepKernel:
    """The lockstep dispatchers, one per dimension and per use of gradient noise and of
    schedules, called with the cells in the order of their (β₁, β₂).

    The order is numpy's ``lexsort``, here: a sort compiled into every kernel added
    to each one's first compile. A kernel compiles the code of the noise and of the
    schedules (their random generator, the gather of each lane's scale) only for
    the cells that use them: that code was a large part of a kernel's LLVM module
    (linked into and optimized again with every kernel), and the default grid uses
    neither.

    Attributes:
        dispatcher_for: ``(dim, *, noisy, scheduled) -> `` the numba dispatcher,
            ``(x0, hyper, ids, settings, out, order)``, for problems of ``dim``
            coordinates (one compiled for that dimension up to
            :data:`sweep.tunables.LOCKSTEP_FIXED_DIM`, one for any dimension beyond),
            with gradient noise or none, and with schedules or warm-up or the constant
            α alone (see :func:`variant`).
    """

    def __init__(self, dispatcher_for, rule):
        self.dispatcher_for = dispatcher_for
        self.rule = rule
        self._called = {}  # variant(...) -> dispatcher, those this kernel has run

    @property
    def signatures(self) -> list:
        """The compiled signatures of the dispatchers called so far (a new grid of the
        same dimension adds none)."""
        return [signature for dispatcher in self._called.values()
                for signature in dispatcher.signatures]

    @property
    def _cache(self):  # for sweep.kernels.numba_support.call_kernel
        return _Caches([dispatcher._cache for dispatcher in self._called.values()])

    def __call__(self, x0, hyper, ids, settings, out) -> None:
        """Advance ``x0.shape[0]`` cells and fill ``out`` (see :mod:`sweep.kernels.layout`)."""
        key = variant(x0, ids, settings)
        if key not in self._called:
            dim, noisy, scheduled = key
            self._called[key] = self.dispatcher_for(dim, noisy=noisy, scheduled=scheduled)
        self._called[key](x0, hyper, ids, settings, out, shared_order(self.rule, hyper))


def shared_order(rule, hyper) -> np.ndarray:
    """The cells in the order of their ``shared_by`` values (the first named varies
    slowest), so that neighbouring lanes share them."""
    columns = rule.shared_columns
    if not columns:
        return np.arange(hyper.shape[0])
    return np.lexsort(tuple(hyper[:, column] for column in reversed(columns)))


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
    load_lanes, _, _ = registered_lane_step(rule, lanes)
    advance = registered_coordinate_step(rule)
    shared, shares = rule.shared, rule.shares
    group_of = records.group(rule)
    load_carry, store_carry = records.load(len(rule.carry)), records.store(len(rule.carry))
    store_shared = records.store(records.shared_size(rule))
    coefficients = rule.coefficients
    record_of = records.hyperparameters(rule)
    load_state = records.load(len(rule.state))
    store_state = records.store(len(rule.state))
    load_shared = records.load(records.shared_size(rule))
    report_lanes = registered_reporter(rule)
    reports = rule.report is not None
    size = sizes(rule)
    kinds = len(SCHEDULES)
    name = (f"lockstep{lanes}x{chunk}" + (f"d{fixed_dim}" if fixed_dim else "")
            + ("n" if with_noise else "") + ("s" if with_schedules else ""))

    @njit(nogil=True, cache=True, error_model="numpy", pipeline_class=InliningCompiler)
    @cached_as(cache_name(name, rule, value_and_grad))
    def kernel(x0, hyper, ids, settings, out, order):
        if len(fingerprint) == 0:  # never true: it only ties the cache to the source
            return
        cells = x0.shape[0]
        # A constant where the kernel is built for one dimension: LLVM then knows the
        # offset of every row, and fully unrolls the loops over coordinates.
        dim = fixed_dim if fixed_dim > 0 else x0.shape[1]
        steps = settings.steps
        work = lane_arrays(size, dim, lanes, kinds)
        theta, grad, value = work.theta, work.grad, work.value
        point, spare = work.point, work.spare
        states, lane_hyper, lane_shared = work.states, work.hyper, work.lane_shared
        group_rows, group_carry, group_shared = work.group_rows, work.group_carry, \
            work.group_shared
        shown = point if reports else theta  # what the records and final_x hold
        records_theta = out.trajectory.shape[1] == out.loss.shape[1]  # else f alone
        alive, best, reached = work.alive, work.best, work.reached
        seed, start = work.seed, work.start
        # Cells taken in ``order``, by their shared values, so that the lanes of a block
        # share them and the divisions and roots of ``rule.shared`` are done once for all
        # (a cell's operations do not depend on its neighbours: the same bits in any order).
        for first in range(0, cells, lanes):
            count = min(lanes, cells - first)
            groups, runs, constant = load_lanes(x0, hyper, ids, order, first, count, work,
                                                settings.warmup <= 0.0)
            # The constant schedule without warm-up scales by 1: α_t is α, no per-step work.
            step_alpha = work.hyper[0] if constant else work.alpha_t
            record = 0
            for step in range(steps + 1):
                t = float(step + 1)
                last = step == steps
                recorded = is_recorded(step, steps, settings.record_every)
                if not last:
                    # ``with_schedules`` and ``with_noise`` are constants: numba prunes the
                    # branches they rule out before typing, and their calls are never compiled.
                    if with_schedules and not constant:
                        scale_lanes(work.hyper[0], work.alpha_t, work.schedule, work.scheduled,
                                    work.scales, t, settings)
                    # sweep.kernels.lanes.lane_step's share_lanes, here in the kernel, as the update
                    # below: a call a step, with the lanes' record, cost the cheap rules
                    # nearly half their time (every array it holds increfed and decrefed).
                    if shares:
                        for known in range(groups):
                            values, carry = shared(group_of(group_rows, 0, known), t,
                                                   load_carry(group_carry, 0, 1, known))
                            store_carry(group_carry, 0, 1, known, carry)
                            store_shared(group_shared, 0, 1, known, values)
                        spread_shared(runs, work.run_start, work.run_end, work.run_group,
                                      group_shared, lane_shared)
                for begin in range(0, lanes, chunk):  # the step, a chunk of lanes at a time
                    end = begin + chunk
                    for lane in range(begin, end):
                        key = objective_key(seed[lane], start[lane], step) if keyed else 0
                        value[lane] = value_and_grad(theta[:, lane], grad[:, lane], t, key)
                    if reports:  # the metrics at the reported point; the gradient stays θ's
                        report_lanes(work, begin, end)
                        for lane in range(begin, end):
                            key = objective_key(seed[lane], start[lane], step) if keyed else 0
                            value[lane] = value_and_grad(point[:, lane], spare[:, lane], t, key)
                    for lane in range(begin, end):
                        alive[lane], best[lane], reached[lane] = observe(
                            value[lane], step, alive[lane], best[lane], reached[lane],
                            settings.minimum, settings.tol)
                    if recorded:
                        for lane in range(begin, min(end, count)):
                            cell = order[first + lane]
                            if records_theta:
                                for i in range(dim):
                                    out.trajectory[cell, record, i] = \
                                        shown[i, lane] if alive[lane] else math.nan
                            out.loss[cell, record] = value[lane] if alive[lane] else math.nan
                    if last:
                        continue
                    if with_noise:
                        for lane in range(begin, end):
                            noise = noise_key(seed[lane], start[lane], step)
                            for i in range(dim):
                                grad[i, lane] = perturb(grad[i, lane], settings.noise,
                                                         settings.noise_scale[i], noise, i)
                    # sweep.kernels.lanes.lane_step's update_lanes, here in the kernel: behind a
                    # call (or inlined by numba, which then stopped writing θ back) LLVM
                    # could not see that the rows are one allocation, and Adam ran at a
                    # third of the rate.
                    for i in range(dim):
                        lower = settings.lower[i]
                        upper = settings.upper[i]
                        for lane in range(begin, end):
                            k = coefficients(record_of(lane_hyper, 0, lane, step_alpha[lane]), t,
                                             load_shared(lane_shared, 0, 1, lane))
                            theta[i, lane], state, alive[lane] = advance(
                                theta[i, lane], grad[i, lane], load_state(states, i, dim, lane),
                                k, lower, upper, settings.bound, alive[lane])
                            store_state(states, i, dim, lane, state)
                if recorded:
                    record += 1
            if reports:
                report_lanes(work, 0, lanes)
            for lane in range(count):
                cell = order[first + lane]
                (out.diverged[cell], out.final_loss[cell], out.best_loss[cell],
                 out.steps_to_tol[cell]) = results(alive[lane], value[lane], best[lane],
                                                   reached[lane])
                for i in range(dim):
                    out.final_x[cell, i] = shown[i, lane] if alive[lane] else math.nan

    return _in_dtype(kernel, cache_name(name, rule, value_and_grad, dtype), dtype)


@functools.cache
def registered_coordinate_step(rule):
    """:func:`sweep.kernels.lanes.coordinate_step` of ``rule``, the body of every lane loop, made
    callable from CPU kernels once per process, inlined (a call in the lane loop would
    stop the vectorizer); its arguments are scalars, so inlining adds no reference
    counting."""
    register_rule(rule)
    advance = coordinate_step(rule)
    if advance not in REGISTERED:
        register_jitable(inline="always")(advance)
    return advance


@functools.cache
def registered_reporter(rule):
    """:func:`sweep.kernels.lanes.reporter` of ``rule``, registered once per process."""
    register_rule(rule)
    function = lanes.reporter(rule)
    if function not in REGISTERED:
        register_jitable(function)
    return function


@functools.cache
def registered_lane_step(rule, lanes: int):
    """``(load_lanes, share_lanes, update_lanes)`` of ``rule`` and ``lanes``
    (:mod:`sweep.kernels.lanes`), registered once per process (every kernel of that rule and
    lane count calls the same functions), and named after both (see
    :func:`_simple_kernel`: closures share a qualified name, and separately compiled
    ones would share a linker symbol). Registered as calls: the training kernel calls
    them; the lockstep kernel calls ``load_lanes`` and writes the other two out itself
    (inlined into its float32 twin, their stores to the lanes' record were lost)."""
    registered_coordinate_step(rule)  # what update_lanes calls
    functions = (lane_loader(rule, lanes), *lane_step(rule, lanes))
    for function in functions:
        if function not in REGISTERED:
            register_jitable(function)
    return functions
