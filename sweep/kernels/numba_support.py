"""Every use of numba's (and numba-cuda's) internals, in one place, each with why.

The rest of :mod:`sweep.kernels` uses numba's public API only. What is here reaches
past it; each piece names the behaviour it works around, how it was found and
the upstream report where there is one. ``pyproject.toml`` pins numba and
numba-cuda to the versions the suite passes on: a new version must pass the
suite (which exercises every piece below) before the pins move.
"""
from __future__ import annotations

import contextlib
import functools
import pickle
import re
import types as pytypes
import warnings

from numba import njit, types
from numba.core.compiler import CompilerBase, DefaultPassBuilder
from numba.core.compiler_machinery import register_pass
from numba.core.errors import NumbaIRAssumptionWarning
from numba.core.ir_utils import resolve_func_from_module
from numba.core.untyped_passes import InlineInlinables
from numba.extending import intrinsic, overload

from . import elementary, maths


def _unary_llvm_intrinsic(name: str):
    """An ``@intrinsic`` of one float argument that calls LLVM's ``name`` (``llvm.sqrt``,
    ``llvm.floor``): the operation itself, where numba would call libm (which LLVM must
    assume sets errno) or convert to an integer, neither of which vectorizes."""
    def typer(typingctx, x):
        if not isinstance(x, types.Float):
            return None

        def codegen(context, builder, signature, args):
            function = builder.module.declare_intrinsic(name, [args[0].type])
            return builder.call(function, args)

        return x(x), codegen

    typer.__name__ = name.replace(".", "_")
    return intrinsic(typer)


_llvm_sqrt = _unary_llvm_intrinsic("llvm.sqrt")  # the same bits as libm's sqrt
_llvm_floor = _unary_llvm_intrinsic("llvm.floor")  # ⌊x⌋ as a float (roundpd)


# numba lowers math.sqrt to libm's sqrt, which LLVM must assume sets errno, so
# the vectorizer leaves it scalar; llvm.sqrt is the same IEEE operation.
@overload(maths.sqrt, target="cpu")
def _sqrt_cpu(x):
    if isinstance(x, types.Float):
        return lambda x: _llvm_sqrt(x)
    if isinstance(x, types.Integer):
        return lambda x: _llvm_sqrt(float(x))


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float64 of an int64's bits: one LLVM bitcast (vectorizable)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        value = args[0]
        if value.type.width < 64:
            value = builder.sext(value, ir.IntType(64))
        return builder.bitcast(value, ir.DoubleType())

    return types.float64(bits), codegen


# The plain-Python form packs and unpacks with struct, which compiled code has not.
@overload(elementary.float_from_bits, target="cpu")
def _float_from_bits_cpu(bits):
    if isinstance(bits, types.Integer):
        return lambda bits: _float_from_bits(bits)


@intrinsic
def _bits_of_float(typingctx, value):
    """The int64 of a float64's bits: one LLVM bitcast (vectorizable)."""
    if not isinstance(value, types.Float):
        return None

    def codegen(context, builder, signature, args):
        from llvmlite import ir

        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@overload(elementary.bits_of_float, target="cpu")
def _bits_of_float_cpu(value):
    if isinstance(value, types.Float):
        return lambda value: _bits_of_float(float(value))


# numba's math.floor returns an int64: a float-to-integer conversion, which AVX2 has
# not for float64 vectors, so the lane loops of exp and tanh stayed scalar there.
@overload(maths.floor, target="cpu")
def _floor_cpu(x):
    if isinstance(x, types.Float):
        return lambda x: _llvm_floor(x)


# numba's pedantic SSA check warns "variable 'exp_v1163__vphi364_0_2.1' is not in scope"
# (a wall of text, four times per variable) wherever a function registered with
# inline="always" holds a conditional expression (``x if x < high else high``) and is
# inlined more than once into one function: on Python 3.11, not 3.12 (numba/numba#9489,
# open). The inliner leaves the phi variable out of the caller's scope; the code built
# is what it should be (the suite checks every kernel that inlines them, bit for bit,
# against tests/naive_rules.py). The training kernels inline exp and log1p several times, so
# every new one printed dozens. Silenced only for :mod:`sweep.kernels.elementary`'s functions.
_ELEMENTARY = "|".join(sorted(
    name for name, value in vars(elementary).items()
    if isinstance(value, pytypes.FunctionType) and value.__module__ == elementary.__name__))
INLINER_SCOPE_WARNING = rf"variable '({_ELEMENTARY})_v\d+__vphi\w*(\.\d+)*' is not in scope"
warnings.filterwarnings("ignore", message=INLINER_SCOPE_WARNING, category=NumbaIRAssumptionWarning)


@register_pass(mutates_CFG=True, analysis_only=False)
class InlineRegistered(InlineInlinables):
    """numba's untyped inlining pass, for the plain functions registered here with
    ``inline="always"``: their bodies go into the caller's IR before it is typed.

    Registered as overloads (which the CUDA kernels' device functions also are), each
    such function was otherwise typed and compiled on its own at every signature, then
    typed again for inlining, then once more inside its caller: the rules, the step's
    functions and the lane loops made numba's front end most of a kernel's compile.
    Inlined here, a kernel is typed once, whole. The
    overloads stay for what this pass does not reach (a call through a variable).

    Internal: ``InlineInlinables._do_work``'s contract (the call's block, its index,
    the work list) and numba's ``InlineWorker``.
    """
    _name = "sweep_inline_registered"

    def _do_work(self, state, work_list, block, i, expr, inline_worker):
        definition = state.func_ir.get_definition(expr.func)
        if getattr(definition, "op", None) == "getattr":
            function = resolve_func_from_module(state.func_ir, definition)
        else:
            function = getattr(definition, "value", None)
        if not isinstance(function, pytypes.FunctionType) or REGISTERED.get(function) != "always":
            return False
        _, _, _, new_blocks = inline_worker.inline_function(state.func_ir, block, i, function)
        work_list.extend(new_blocks)
        return True


class InliningCompiler(CompilerBase):
    """numba's nopython pipeline with :class:`InlineRegistered` after its own untyped
    inlining: the ``pipeline_class`` of every CPU kernel."""

    def define_pipelines(self):
        pipeline = DefaultPassBuilder.define_nopython_pipeline(self.state)
        pipeline.add_pass_after(InlineRegistered, InlineInlinables)
        pipeline.finalize()
        return [pipeline]


# Every plain function registered for CPU kernels (once each), with its inline option.
REGISTERED: dict = {}


def register_jitable(function=None, *, inline: str = "never"):
    """numba's ``register_jitable`` (``register_jitable(f)`` or
    ``register_jitable(inline="always")(f)``), for the CPU target only.

    numba's own registers for the "generic" target, which numba-cuda's typing
    also consults: after a CPU kernel inlined a rule (caching the rule's IR
    typed for the CPU), compiling a CUDA kernel in the same process picked up
    that cached IR and failed to lower it (``mul(omitted, omitted)``).
    :mod:`sweep.kernels.cuda` registers the same functions for its own target.

    ``error_model="numpy"``, as the kernels have: a function compiled on its own
    (``inline="never"``: a network's passes, the lane step) otherwise gets
    Python's error model, a zero check before every float division, and that
    branch kept ``tanh``'s ``e / (e + 2)`` out of the vectorized lane loops
    (found in the assembly: scalar ``xmm`` only; an MLP's forward pass ran about
    1.5 times slower for it). The bits
    are the same: a division by zero gives IEEE's inf or NaN instead of raising,
    which the kernels never relied on.
    """
    def register(function):
        overload(function, target="cpu", inline=inline, strict=False,
                 jit_options={"error_model": "numpy", "pipeline_class": InliningCompiler})(
                     lambda *args, **kwargs: function)
        REGISTERED[function] = inline
        return function
    return register if function is None else register(function)


def inlined_before_typing(function, name: str):
    """``function`` jitted with ``inline="always"``, which numba inlines into its caller's
    untyped IR, before the caller is typed: unlike a registered ``inline="always"``
    function (typed on its own, then inlined), it adds no type inference of its own.
    For a function the kernels hold in their closure.

    Internal: the dispatcher's ``_set_uuid``. numba's cache keys a kernel on a pickle of
    its closure's values, and a dispatcher pickles with a random UUID drawn at its first
    pickling: a kernel holding one missed its on-disk cache in every new process
    (numba/numba#6264, open; the fix proposed in numba/numba#6284 is not merged). The
    UUID is only the key of numba's in-process memo of unpickled dispatchers, so a
    ``name`` unique in the process (say, the function and its rule) may stand for it.
    """
    dispatcher = njit(inline="always")(function)
    dispatcher._set_uuid(f"sweep.{name}")
    return dispatcher


def compiled_once(function, name: str, **options):
    """``function`` as a disk-cached njit dispatcher named ``name``, for kernels to call
    (from their closure): compiled once per signature and loaded from numba's cache by
    every kernel that calls it, in every process, instead of compiled into each.

    ``name`` becomes the qualified name numba's cache files are named after
    (:func:`cached_as`) and stands for the dispatcher's pickling UUID, which would
    otherwise miss the calling kernels' cache in new processes (see
    :func:`inlined_before_typing`): unique in the process, the same in every process.
    """
    dispatcher = njit(cache=True, pipeline_class=InliningCompiler, **options)(cached_as(name)(function))
    dispatcher._set_uuid(f"sweep.{name}")
    return dispatcher


def forget_inlined_ir() -> None:
    """Drop the IR that CPU kernels cached for the functions they inline.

    Internal: ``_inline_overloads`` of numba's overload templates. The
    ``InlineOverloads`` pass takes a call's cached IR from *any* template of
    the called function that has it for the signature, whatever the
    template's target: after a CPU kernel inlined ``adam`` (IR typed for the
    CPU), a CUDA kernel compiled later in the same process inlined that IR
    and failed to lower it (``mul(omitted, omitted)``; found by
    ``tests/test_cuda_ptx.py``, which compiles both in one process; no
    upstream report found). :mod:`sweep.kernels.cuda` calls this before it
    compiles; a later CPU compile types the functions again (the same code).
    """
    from numba.core.typing.templates import builtin_registry

    for function, function_type in builtin_registry.globals:
        if function in REGISTERED:
            for template in getattr(function_type, "templates", ()):
                cached = getattr(template, "_inline_overloads", None)
                if cached:
                    cached.clear()


def cached_as(name: str):
    """Give a kernel the qualified name that numba's cache files are named after.

    numba names a function's on-disk cache index after its ``__qualname__``;
    every kernel is the same nested ``def kernel``, so without this they would
    all share one index and its numbered data files, and two processes
    compiling two kernels at once could each write data file ``.1`` (the
    other's machine code loaded later). See :func:`sweep.kernels.compile.cache_name`.
    """
    def rename(function):
        function.__qualname__ = name
        return function
    return rename


# A loop that scales an array of float64 in place: what LLVM vectorizes it with says how
# wide it makes the kernels' lane loops on this process's target.
_PROBE_IR = r"""
define void @vector_width_probe(ptr noalias %a, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%next, %loop]
  %p = getelementptr double, ptr %a, i64 %i
  %x = load double, ptr %p
  %y = fmul double %x, 3.0
  store double %y, ptr %p
  %next = add i64 %i, 1
  %done = icmp eq i64 %next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret void
}
"""


@functools.cache
def vector_bits() -> int:
    """The width, in bits (128, 256 or 512), of the vectors LLVM gives the CPU kernels'
    float64 lane loops in this process.

    It is LLVM's choice for numba's target (the host's CPU, or ``NUMBA_CPU_NAME`` and
    ``NUMBA_CPU_FEATURES``), not only what the CPU has: an Intel core with AVX-512
    gets 256-bit vectors (LLVM's tuning prefers them there), an AMD Zen 4 or 5
    512-bit ones. No API asks LLVM, so this compiles a one-line loop with numba's
    code generator (internal: ``codegen().create_library``) and reads the widest
    register its assembly uses (~20 ms, once per process; the code never runs).
    """
    import llvmlite.binding as llvm
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target

    library = cpu_target.target_context.codegen().create_library("vector_width_probe")
    library.add_llvm_module(llvm.parse_assembly(_PROBE_IR))
    with global_compiler_lock:
        library.finalize()
    registers = set(re.findall(r"%([xyz])mm\d+", library.get_asm_str()))
    return 512 if "z" in registers else 256 if "y" in registers else 128


def call_kernel(kernel, *args) -> None:
    """``kernel(*args)``; a cache file cut short (a disk that filled, a machine that
    stopped mid-write) makes numba raise instead of compiling afresh
    (numba/numba#10434): then flush this kernel's cache (internal: the
    dispatcher's ``_cache``) and compile it again."""
    try:
        kernel(*args)
    except (EOFError, pickle.UnpicklingError):
        kernel._cache.flush()
        kernel(*args)


@contextlib.contextmanager
def cuda_compiling_for(cc: tuple[int, int]):
    """Let numba-cuda compile device functions for ``cc`` when there is no device to ask.

    Internal: ``numba.cuda.dispatcher.get_current_device``. numba-cuda's
    ``CUDADispatcher.compile_device`` reads the current device's compute
    capability (a driver call) for every device function a kernel calls, even
    under ``compile_ptx`` (which, upstream says, should need no device:
    numba/numba#8387's review). Without a device this stands in for the
    answer, under numba-cuda's compiler lock so no other compilation sees it.
    """
    from numba import cuda
    from numba.cuda import dispatcher
    from numba.cuda.core.compiler_lock import global_compiler_lock

    if cuda.is_available():
        yield
        return
    with global_compiler_lock:
        original = dispatcher.get_current_device
        dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=cc)
        try:
            yield
        finally:
            dispatcher.get_current_device = original
