"""The built-in objectives of ``docs/update_rules.md``: value and analytic gradient, written once.

Every objective has the signature ``value_and_grad(x, grad, t, key) -> float``:
``x`` and ``grad`` are 1-D float arrays of the problem's dimension, the
gradient is written into ``grad`` and the value is returned; ``t`` is the
1-based step and ``key`` identifies (seed, cell, step) for stochastic
objectives (the built-ins ignore both). Plain Python, so the same function
compiles for the CPU and the GPU in :mod:`sweep.kernels.compile` and runs uncompiled
in tests. Objectives with parameters (``dim``, ``kappa``) are built by a factory. The noisy
quadratic model's minibatch noise is drawn by the step, not here: its shape is
:attr:`Problem.noise_scale`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .random import counter_key, normal
from .step import NOISE_STREAM

TWO_PI = 2.0 * math.pi


def rosenbrock(x, grad, t, key):
    """(1 − x)² + 100 (y − x²)²; minimum 0 at (1, 1)."""
    a, b = x[0], x[1]
    valley = b - a * a
    grad[0] = -2.0 * (1.0 - a) - 400.0 * a * valley
    grad[1] = 200.0 * valley
    return (1.0 - a) ** 2 + 100.0 * valley * valley


def rosenbrock_nd(x, grad, t, key):
    """Σ_{i<n−1} 100 (x_{i+1} − x_i²)² + (1 − x_i)²; minimum 0 at (1, …, 1)."""
    n = x.shape[0]
    for i in range(n):
        grad[i] = 0.0
    value = 0.0
    for i in range(n - 1):
        valley = x[i + 1] - x[i] * x[i]
        value += 100.0 * valley * valley + (1.0 - x[i]) ** 2
        grad[i] += -400.0 * x[i] * valley - 2.0 * (1.0 - x[i])
        grad[i + 1] += 200.0 * valley
    return value


def beale(x, grad, t, key):
    """(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²; minimum 0 at (3, 0.5)."""
    a, b = x[0], x[1]
    r1 = 1.5 - a + a * b
    r2 = 2.25 - a + a * b * b
    r3 = 2.625 - a + a * b * b * b
    grad[0] = 2.0 * (r1 * (b - 1.0) + r2 * (b * b - 1.0) + r3 * (b * b * b - 1.0))
    grad[1] = 2.0 * a * (r1 + 2.0 * b * r2 + 3.0 * b * b * r3)
    return r1 * r1 + r2 * r2 + r3 * r3


def himmelblau(x, grad, t, key):
    """(x² + y − 11)² + (x + y² − 7)²; four minima, value 0."""
    a, b = x[0], x[1]
    r1 = a * a + b - 11.0
    r2 = a + b * b - 7.0
    grad[0] = 4.0 * a * r1 + 2.0 * r2
    grad[1] = 2.0 * r1 + 4.0 * b * r2
    return r1 * r1 + r2 * r2


def booth(x, grad, t, key):
    """(x + 2y − 7)² + (2x + y − 5)²; minimum 0 at (1, 3)."""
    r1 = x[0] + 2.0 * x[1] - 7.0
    r2 = 2.0 * x[0] + x[1] - 5.0
    grad[0] = 2.0 * r1 + 4.0 * r2
    grad[1] = 4.0 * r1 + 2.0 * r2
    return r1 * r1 + r2 * r2


def saddle(x, grad, t, key):
    """x² − y²: a saddle at the origin, unbounded below."""
    grad[0] = 2.0 * x[0]
    grad[1] = -2.0 * x[1]
    return x[0] * x[0] - x[1] * x[1]


def monkey_saddle(x, grad, t, key):
    """x³ − 3xy²: a monkey saddle at the origin, unbounded below."""
    a, b = x[0], x[1]
    grad[0] = 3.0 * a * a - 3.0 * b * b
    grad[1] = -6.0 * a * b
    return a * a * a - 3.0 * a * b * b


def rastrigin(x, grad, t, key):
    """10 n + Σ x_i² − 10 cos(2π x_i); minimum 0 at the origin."""
    value = 10.0 * x.shape[0]
    for i in range(x.shape[0]):
        value += x[i] * x[i] - 10.0 * math.cos(TWO_PI * x[i])
        grad[i] = 2.0 * x[i] + 10.0 * TWO_PI * math.sin(TWO_PI * x[i])
    return value


def ackley(x, grad, t, key):
    """−20 exp(−0.2 √(½(x² + y²))) − exp(½(cos 2πx + cos 2πy)) + e + 20; minimum 0 at the origin.

    The first term's gradient is 0/0 at the origin; it is taken as 0 there.
    """
    a, b = x[0], x[1]
    radius = math.sqrt(0.5 * (a * a + b * b))
    envelope = math.exp(-0.2 * radius)
    ripple = math.exp(0.5 * (math.cos(TWO_PI * a) + math.cos(TWO_PI * b)))
    scale = 2.0 * envelope / radius if radius > 0.0 else 0.0
    grad[0] = scale * a + math.pi * math.sin(TWO_PI * a) * ripple
    grad[1] = scale * b + math.pi * math.sin(TWO_PI * b) * ripple
    return -20.0 * envelope - ripple + math.e + 20.0


def styblinski_tang(x, grad, t, key):
    """½ Σ x_i⁴ − 16 x_i² + 5 x_i; minimum −39.16617 n at x_i = −2.903534."""
    value = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        value += 0.5 * (xi**4 - 16.0 * xi * xi + 5.0 * xi)
        grad[i] = 2.0 * xi**3 - 16.0 * xi + 2.5
    return value


def six_hump_camel(x, grad, t, key):
    """(4 − 2.1x² + x⁴/3) x² + xy + (−4 + 4y²) y²; two minima, value −1.0316."""
    a, b = x[0], x[1]
    grad[0] = 8.0 * a - 8.4 * a**3 + 2.0 * a**5 + b
    grad[1] = a - 8.0 * b + 16.0 * b**3
    return (4.0 - 2.1 * a * a + a**4 / 3.0) * a * a + a * b + (-4.0 + 4.0 * b * b) * b * b


def goldstein_price(x, grad, t, key):
    """[1 + (x+y+1)² P] · [30 + (2x−3y)² Q]; minimum 3 at (0, −1)."""
    a, b = x[0], x[1]
    s = a + b + 1.0
    p = 19.0 - 14.0 * a + 3.0 * a * a - 14.0 * b + 6.0 * a * b + 3.0 * b * b
    first = 1.0 + s * s * p
    d = 2.0 * a - 3.0 * b
    q = 18.0 - 32.0 * a + 12.0 * a * a + 48.0 * b - 36.0 * a * b + 27.0 * b * b
    second = 30.0 + d * d * q
    # ∂P/∂x = ∂P/∂y = −14 + 6x + 6y, and ∂s/∂x = ∂s/∂y = 1.
    dfirst = 2.0 * s * p + s * s * (-14.0 + 6.0 * a + 6.0 * b)
    dsecond_dx = 4.0 * d * q + d * d * (-32.0 + 24.0 * a - 36.0 * b)
    dsecond_dy = -6.0 * d * q + d * d * (48.0 - 36.0 * a + 54.0 * b)
    grad[0] = dfirst * second + first * dsecond_dx
    grad[1] = dfirst * second + first * dsecond_dy
    return first * second


def quadratic_eigenvalue(i, n, kappa):
    """λ_i of :func:`make_quadratic`, log-spaced from 1 to κ as ``numpy.logspace(0, log10 κ, n)``."""
    if n == 1:
        return 1.0
    if i == n - 1:
        return 10.0 ** math.log10(kappa)
    return 10.0 ** (i * (math.log10(kappa) / (n - 1)))


def make_quadratic(dim, kappa):
    """½ Σ λ_i x_i², λ_i log-spaced from 1 to ``kappa``: the condition number is κ."""
    return diagonal_quadratic(np.array([quadratic_eigenvalue(i, dim, kappa) for i in range(dim)]))


def nqm_curvatures(dim):
    """hᵢ = 1/i for i = 1 … ``dim`` of the noisy quadratic model, (dim,) float64."""
    return 1.0 / np.arange(1.0, dim + 1.0)


def nqm_start(dim):
    """The noisy quadratic model's customary θ₀, (dim,): one fixed draw of N(0, I), the
    counter generator's normals of seed 0, start 0, step 0 of the noise stream (a step the
    gradient noise never uses: it draws at steps 1 …). Zhang et al. draw θ₀ ~ N(0, I) per
    run; a fixed draw keeps the start out of the seeds' spread (the seeds vary the noise),
    and an all-equal start would let a sign-based first step (Adam's, Lion's) land on the
    minimum."""
    key = counter_key(0, 0, 0, NOISE_STREAM)
    return tuple(normal(key, i) for i in range(dim))


def diagonal_quadratic(curvatures):
    """½ Σ hᵢ xᵢ² for the (dim,) ``curvatures`` hᵢ.

    The hᵢ are computed once (a pow per coordinate and step would keep the kernels
    from vectorizing) and frozen into the compiled code.
    """
    eigenvalues = np.array(curvatures, dtype=np.float64)

    def quadratic(x, grad, t, key):
        value = 0.0
        for i in range(x.shape[0]):
            grad[i] = eigenvalues[i] * x[i]
            value += 0.5 * eigenvalues[i] * x[i] * x[i]
        return value

    return quadratic


# --- metadata ---------------------------------------------------------------

STYBLINSKI_TANG_ARGMIN = -2.903534027771177  # root of 2x³ − 16x + 2.5 = 0, 40-digit Newton
STYBLINSKI_TANG_MIN = -39.16616570377141  # per dimension
SIX_HUMP_ARGMIN = (0.08984201310031806, -0.7126564030207396)
SIX_HUMP_MIN = -1.0316284534898774


@dataclass(frozen=True)
class Problem:
    """One objective made concrete: a dimension and parameters fixed.

    Attributes:
        name: registry name.
        dim: number of coordinates.
        value_and_grad: ``(x, grad, t, key) -> float`` (plain Python).
        minimizers: known global minimizers, a tuple of ``dim``-tuples (empty if none).
        minimum: f* (NaN if unknown or unbounded).
        starts: customary start points, a tuple of ``dim``-tuples.
        box: plotting box ``((xmin, xmax), (ymin, ymax))`` over the first two coordinates.
        bound: a trajectory with some |θ_i| > bound has diverged.
        params: the objective's parameters (``dim``, ``kappa``) as given.
        model: for a model trained on data, its :class:`sweep.models.Training` (and
            ``value_and_grad`` is None: the training kernel computes the gradient).
        noise, noise_scale: the objective's own gradient noise, σ and (dim,) cᵢ: each step
            adds σ·cᵢ·zᵢ to ∂f/∂θᵢ (:func:`sweep.kernels.step.perturb`, zᵢ standard normal
            from the noise stream). The noisy quadratic model's minibatch: σ = 1/√B,
            cᵢ = √hᵢ. ``noise_scale`` None: none of its own (``objective.noise`` adds σ·zᵢ).
    """

    name: str
    dim: int
    value_and_grad: Callable
    minimizers: tuple
    minimum: float
    starts: tuple
    box: tuple
    bound: float
    params: tuple = ()
    model: object = None
    noise: float = 0.0
    noise_scale: np.ndarray | None = None


@dataclass(frozen=True, kw_only=True)
class Param:
    """One parameter a grid file may set for an objective or a model, and what it must be.

    ``sweep.config`` validates every parameter from these (so a new objective, model or
    data set is a change in its registry entry alone).

    Attributes:
        name: the key under ``[objective]``.
        kind: ``"int"``, ``"float"``, ``"bool"``, ``"str"`` or ``"ints"`` (a list of ints).
        default: the value when the key is absent (None: required, or decided elsewhere).
        lowest, highest: the bounds of a number (or of every int of ``"ints"``), inclusive.
        above: ``lowest`` is excluded (> rather than ≥).
        choices: the allowed strings of a ``"str"``.
        rule: what the bounds mean, said when they are broken (empty: the bounds alone).
    """

    name: str
    kind: str
    default: object = None
    lowest: float | None = None
    highest: float | None = None
    above: bool = False
    choices: tuple = ()
    rule: str = ""


@dataclass(frozen=True)
class Objective:
    """A registry entry. ``fixed_dim`` is None for the n-dimensional objectives,
    which take ``dim`` (at least ``min_dim``); ``schema`` says what a grid file may set;
    ``axes``, which of those the kernels read at run time (so ``[grid]`` may sweep them:
    a new value never recompiles)."""

    name: str
    fixed_dim: int | None
    build: Callable  # (dim, **params) -> Problem
    schema: tuple[Param, ...] = ()
    min_dim: int = 1
    axes: tuple[str, ...] = ()

    @property
    def params(self) -> tuple[str, ...]:
        """The names a grid file may set."""
        return tuple(param.name for param in self.schema)

    @property
    def defaults(self) -> tuple:
        """``((param, default), ...)``."""
        return tuple((param.name, param.default) for param in self.schema)


def _fixed(name, function, minimizers, minimum, starts, box, bound=1e6):
    def build(dim):
        return Problem(name, 2, function, tuple(minimizers), minimum, tuple(starts), box, bound)

    return Objective(name, 2, build)


def _repeat(pattern, dim):
    return tuple(pattern[i % len(pattern)] for i in range(dim))


def _build_rosenbrock_nd(dim):
    return Problem("rosenbrock_nd", dim, rosenbrock_nd, ((1.0,) * dim,), 0.0,
                   (_repeat((-1.2, 1.0), dim),), ((-2.0, 2.0), (-1.0, 3.0)), 1e6, (("dim", dim),))


def _build_rastrigin(dim):
    return Problem("rastrigin", dim, rastrigin, ((0.0,) * dim,), 0.0,
                   (_repeat((-2.0, 3.5), dim),), ((-5.12, 5.12), (-5.12, 5.12)), 1e6, (("dim", dim),))


def _build_styblinski_tang(dim):
    return Problem("styblinski_tang", dim, styblinski_tang, ((STYBLINSKI_TANG_ARGMIN,) * dim,),
                   STYBLINSKI_TANG_MIN * dim, ((0.0,) * dim,), ((-5.0, 5.0), (-5.0, 5.0)), 1e6,
                   (("dim", dim),))


_QUADRATICS: dict[tuple, Callable] = {}


def _build_quadratic(dim, kappa=10.0):
    # One function object per κ, so the compiled kernels can be cached by identity.
    key = (dim, float(kappa))
    if key not in _QUADRATICS:
        _QUADRATICS[key] = make_quadratic(dim, float(kappa))
    function = _QUADRATICS[key]
    return Problem("quadratic", dim, function, ((0.0,) * dim,), 0.0, ((1.0,) * dim,),
                   ((-1.5, 1.5), (-1.5, 1.5)), 1e6, (("dim", dim), ("kappa", float(kappa))))


def _build_nqm(dim, batch_size=1):
    # The compiled function depends on dim alone: every batch size runs the same kernel.
    key = ("nqm", dim)
    if key not in _QUADRATICS:
        _QUADRATICS[key] = diagonal_quadratic(nqm_curvatures(dim))
    curvatures = nqm_curvatures(dim)
    return Problem("nqm", dim, _QUADRATICS[key], ((0.0,) * dim,), 0.0, (nqm_start(dim),),
                   ((-1.5, 1.5), (-1.5, 1.5)), 1e6, (("dim", dim), ("batch_size", batch_size)),
                   noise=1.0 / math.sqrt(batch_size), noise_scale=np.sqrt(curvatures))


# The largest dimension of an n-dimensional objective: past it, a mistake, not a grid.
MAX_DIM = 100_000


def _dim(default: int) -> Param:
    return Param(name="dim", kind="int", default=default, lowest=1, highest=MAX_DIM)


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        _fixed("rosenbrock", rosenbrock, [(1.0, 1.0)], 0.0, [(-2.0, 2.0), (-1.2, 1.0)],
               ((-2.0, 2.0), (-1.0, 3.0))),
        Objective("rosenbrock_nd", None, _build_rosenbrock_nd, (_dim(2),), 2),
        _fixed("beale", beale, [(3.0, 0.5)], 0.0, [(1.0, 1.0), (1.0, 4.0), (3.0, 4.0)],
               ((-4.5, 4.5), (-4.5, 4.5))),
        _fixed("himmelblau", himmelblau,
               [(3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                (-3.779310253377747, -3.2831859912861696), (3.5844283403304917, -1.8481265269644036)],
               0.0, [(0.0, 0.0)], ((-5.0, 5.0), (-5.0, 5.0))),
        _fixed("booth", booth, [(1.0, 3.0)], 0.0, [(0.0, 0.0)], ((-10.0, 10.0), (-10.0, 10.0))),
        _fixed("saddle", saddle, [], math.nan, [(-1.0, 1e-3)], ((-1.5, 1.5), (-1.5, 1.5)), bound=1e4),
        _fixed("monkey_saddle", monkey_saddle, [], math.nan, [(-1.0, 1e-3)],
               ((-1.5, 1.5), (-1.5, 1.5)), bound=1e4),
        Objective("rastrigin", None, _build_rastrigin, (_dim(2),), 1),
        _fixed("ackley", ackley, [(0.0, 0.0)], 0.0, [(-4.0, 3.0)], ((-5.0, 5.0), (-5.0, 5.0))),
        Objective("styblinski_tang", None, _build_styblinski_tang, (_dim(2),), 1),
        _fixed("six_hump_camel", six_hump_camel,
               [SIX_HUMP_ARGMIN, (-SIX_HUMP_ARGMIN[0], -SIX_HUMP_ARGMIN[1])], SIX_HUMP_MIN,
               [(-0.5, 1.0)], ((-3.0, 3.0), (-2.0, 2.0))),
        _fixed("goldstein_price", goldstein_price, [(0.0, -1.0)], 3.0, [(0.5, 0.5)],
               ((-2.0, 2.0), (-2.0, 2.0))),
        Objective("quadratic", None, _build_quadratic,
                  (_dim(2), Param(name="kappa", kind="float", default=10.0, lowest=1.0,
                                  rule="must be >= 1 (a condition number)")), 1),
        Objective("nqm", None, _build_nqm,
                  (_dim(100), Param(name="batch_size", kind="int", default=1, lowest=1,
                                    highest=10**9, rule="must be >= 1 (examples per step)")),
                  1, axes=("batch_size",)),
    )
}


def problem(name: str, **params) -> Problem:
    """The concrete :class:`Problem` for registry ``name`` with ``params`` (``dim``, ``kappa``,
    ``batch_size``)."""
    entry = OBJECTIVES[name]
    merged = dict(entry.defaults)
    merged.update(params)
    if entry.fixed_dim is not None:
        merged.pop("dim", None)
        return entry.build(entry.fixed_dim)
    return entry.build(**merged)
