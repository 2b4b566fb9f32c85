"""The update rules, each declared once: its hyperparameters, its state and its arithmetic.

A rule is an :class:`Optimizer`: the hyperparameters it reads, by name (each a
:class:`Hyperparameter` with its default, valid range and the reference
library's name for it), its per-coordinate state, by name, and three plain
functions (the rounding of each is fixed in ``docs/update_rules.md``):

* ``shared(g, t, carry) -> (shared, carry)``: the step coefficients that depend
  on t and on the hyperparameters named in ``shared_by`` alone (bias
  corrections, NAdam's μ and Π): ``g`` is a record of those hyperparameters,
  ``carry`` the running products the rule carries from step to step (starting at
  ``carry``'s values), ``shared`` a tuple of floats. Kernels compute it once per
  step for every group of cells with the same ``shared_by`` values: the divisions
  and roots of a step are done once for all of them.
* ``coefficients(h, t, shared) -> k``: one cell's coefficients at step t; ``h`` is
  the record of the rule's hyperparameters, with ``h.alpha`` the step size after
  the schedule (α_t). ``k`` is any record the update reads.
* ``update(theta, grad, state, k) -> (theta, state)``: one coordinate; ``theta``
  is θ_{t−1}, ``grad`` g_t = ∇f(θ_{t−1}), ``state`` the tuple of the rule's state
  values (``state`` names them), starting at ``init(h, theta0)`` for the coordinate's
  start θ₀ (zeros by default).
* ``report(theta, state) -> x`` (optional): the point the rule reports for one
  coordinate, where it is not θ (Schedule-Free's average x; the gradient is taken
  at θ). The metrics are then f at that point, which costs a second evaluation of
  the objective per step.

Every function is plain Python on floats and small tuples, so the same source
compiles for the CPU (``numba.njit``) and the GPU (``numba.cuda.jit``) in
:mod:`sweep.kernels.compile` and :mod:`sweep.kernels.cuda`, and runs uncompiled in tests.
The kernels are built per rule from the declaration (:mod:`sweep.kernels.records`
makes the records and the loads and stores of state), so a rule with any
number of hyperparameters and state values is added here alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

from .maths import sqrt


@dataclass(frozen=True, kw_only=True)
class Hyperparameter:
    """One hyperparameter of a rule.

    Attributes:
        name: its key in grid files, ``[options.RULE]`` and the dataset (a dimension
            when swept).
        default: the value a grid that names it nowhere runs.
        minimum, maximum: the valid range's ends; ``open_minimum``/``open_maximum``
            exclude them (α > 0: ``minimum=0, open_minimum=True``).
        flag: a true/false choice (stored as 1.0/0.0 in the kernels' arrays).
        integer: a whole number (a count of steps, say).
        reference: the reference library's name for it (``lr``, ``betas[0]`` ...).
        long_name: what it is, for axis labels.
        scale: ``"log"`` or ``"linear"``: how its values are usually spread.
    """

    name: str
    default: float | bool
    minimum: float = -math.inf
    maximum: float = math.inf
    open_minimum: bool = False
    open_maximum: bool = False
    flag: bool = False
    integer: bool = False
    reference: str = ""
    long_name: str = ""
    scale: str = "linear"

    def with_default(self, default, reference: str | None = None) -> "Hyperparameter":
        """The same hyperparameter with another default (a rule's own)."""
        from dataclasses import replace

        return replace(self, default=default,
                       reference=self.reference if reference is None else reference)

    def valid(self, value) -> bool:
        """Whether ``value`` lies in the valid range (a flag: 0 or 1)."""
        if self.flag:
            return value in (0, 1)
        if not math.isfinite(value):
            return False
        above = value > self.minimum if self.open_minimum else value >= self.minimum
        below = value < self.maximum if self.open_maximum else value <= self.maximum
        return above and below and (not self.integer or float(value).is_integer())

    @property
    def rule_text(self) -> str:
        """What a valid value is, as a configuration error says it: ``must be >= 0``,
        ``must be in [0, 1)``, ``must be true or false``."""
        if self.flag:
            return "must be true or false"
        whole = " and a whole number" if self.integer else ""
        if math.isinf(self.maximum) and math.isinf(self.minimum):
            return "must be a finite number" + whole
        if math.isinf(self.maximum):
            return f"must be {'>' if self.open_minimum else '>='} {_number(self.minimum)}" + whole
        return f"must be in {self.range_text}"

    @property
    def range_text(self) -> str:
        """The valid range in words: ``(0, inf)``, ``[0, 1)``, ``true/false``."""
        if self.flag:
            return "true/false"
        low = "(" if self.open_minimum else "["
        high = ")" if self.open_maximum else "]"
        return f"{low}{_number(self.minimum)}, {_number(self.maximum)}{high}" + (
            ", whole" if self.integer else "")


def _number(value: float) -> str:
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:g}"


ALPHA = Hyperparameter(name="alpha", default=1e-3, minimum=0.0, open_minimum=True,
                       reference="lr", long_name="step size α", scale="log")
BETA1 = Hyperparameter(name="beta1", default=0.9, minimum=0.0, maximum=1.0, open_maximum=True,
                       reference="betas[0]", long_name="β₁")
BETA2 = Hyperparameter(name="beta2", default=0.999, minimum=0.0, maximum=1.0,
                       open_maximum=True, reference="betas[1]", long_name="β₂")
EPS = Hyperparameter(name="eps", default=1e-8, minimum=0.0, reference="eps", long_name="ε",
                     scale="log")
WEIGHT_DECAY = Hyperparameter(name="weight_decay", default=1e-2, minimum=0.0,
                              reference="weight_decay", long_name="decoupled weight decay λ",
                              scale="log")

# The axes every grid has (a dimension of every dataset, default one value); the others
# are dimensions where the grid sweeps them.
AXES = ("alpha", "beta1", "beta2", "eps")


# --- records -------------------------------------------------------------------

class AdamStep(NamedTuple):
    """The coefficients of the Adam family at step t (the letters of ``docs/update_rules.md``)."""

    a: float       # α_t·(1/(1 − β₁ᵗ)); NAdam: α_t·((1 − μ_t)/(1 − Π_t))
    b: float       # NAdam: α_t·(μ_{t+1}/(1 − Π_t·μ_{t+1})); AdamW: w = 1 − α_t·λ; else 0
    c: float       # 1/√(1 − β₂ᵗ)
    beta1: float
    beta2: float
    eps: float


class RAdamStep(NamedTuple):
    """RAdam's coefficients at step t (``docs/update_rules.md``)."""

    a: float          # α_t·(r_t·(√(1 − β₂ᵗ)/(1 − β₁ᵗ))) rectified, else α_t·(1/(1 − β₁ᵗ))
    rectified: float  # 1.0 where ρ_t > 5, else 0.0
    beta1: float
    beta2: float
    eps: float


class LionStep(NamedTuple):
    """Lion's coefficients at step t: α_t and w = 1 − α_t·λ."""

    alpha: float
    w: float
    beta1: float
    beta2: float


class AdaBeliefStep(NamedTuple):
    """AdaBelief's coefficients at step t: Adam's a and c, and ε_root."""

    a: float       # α_t·(1/(1 − β₁ᵗ))
    c: float       # 1/√(1 − β₂ᵗ)
    beta1: float
    beta2: float
    eps: float
    eps_root: float


class AdanStep(NamedTuple):
    """Adan's coefficients at step t (``docs/update_rules.md``)."""

    a1: float      # α_t·(1/(1 − β₁ᵗ))
    a2: float      # α_t·((1 − β₂)/(1 − β₂ᵗ))
    k3: float      # 1/(1 − β₃ᵗ)
    w: float       # 1 − α_t·λ
    first: float   # 1.0 at t = 1 (no gradient difference yet), else 0.0
    beta1: float
    beta2: float
    beta3: float
    eps: float
    eps_root: float


# --- shared step coefficients ----------------------------------------------------

def nothing_shared(g, t, carry):
    """Rules whose coefficients depend on no (β, t) alone: nothing to share."""
    return (), carry


def bias_corrections(g, t, carry):
    """Adam's bias corrections 1/(1 − β₁ᵗ) and 1/√(1 − β₂ᵗ); ``carry`` = (β₁ᵗ⁻¹, β₂ᵗ⁻¹)."""
    first = carry[0] * g.beta1
    second = carry[1] * g.beta2
    return (1.0 / (1.0 - first), 1.0 / sqrt(1.0 - second)), (first, second)


def first_bias_correction(g, t, carry):
    """AdaMax's one bias correction 1/(1 − β₁ᵗ) (its u needs none); ``carry`` = (β₁ᵗ⁻¹,)."""
    first = carry[0] * g.beta1
    return (1.0 / (1.0 - first), 0.0), (first,)


def nadam_shared(g, t, carry):
    """NAdam's μ_t = β₁(1 − ½·0.96^{tψ}), μ_{t+1}, Π_t = Π_{t−1}·μ_t (ψ the momentum decay):
    (1 − μ_t)/(1 − Π_t), μ_{t+1}/(1 − Π_t·μ_{t+1}) and 1/√(1 − β₂ᵗ); ``carry`` = (Π_{t−1},
    β₂ᵗ⁻¹, μ_t). μ_t is the previous step's μ_{t+1} (the same expression of the same
    numbers: the same bits), so that each step takes one power, not two; at t = 1 it is
    computed."""
    mu = carry[2] if t > 1.0 else g.beta1 * (1.0 - 0.5 * 0.96 ** (t * g.momentum_decay))
    mu_next = g.beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1.0) * g.momentum_decay))
    product = carry[0] * mu
    second = carry[1] * g.beta2
    return ((1.0 - mu) / (1.0 - product), mu_next / (1.0 - product * mu_next),
            1.0 / sqrt(1.0 - second)), (product, second, mu_next)


def radam_shared(g, t, carry):
    """RAdam's ρ∞ = 2/(1 − β₂) − 1, ρ_t = ρ∞ − ((2t)·β₂ᵗ)/(1 − β₂ᵗ) and, rectified
    (ρ_t > 5), r_t·(√(1 − β₂ᵗ)/(1 − β₁ᵗ)), else 1/(1 − β₁ᵗ); and the switch (1.0/0.0);
    ``carry`` = (β₁ᵗ⁻¹, β₂ᵗ⁻¹). r_t is computed only when rectified (its root's argument
    is negative for 2 < ρ_t < 4)."""
    first = carry[0] * g.beta1
    second = carry[1] * g.beta2
    rho_inf = 2.0 / (1.0 - g.beta2) - 1.0
    rho = rho_inf - ((2.0 * t) * second) / (1.0 - second)
    on = rho > 5.0
    r = sqrt(((rho - 4.0) * (rho - 2.0) * rho_inf)
             / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho)) if on else 0.0
    rectified = r * (sqrt(1.0 - second) / (1.0 - first))
    plain = 1.0 / (1.0 - first)
    return (rectified if on else plain, 1.0 if on else 0.0), (first, second)


def adan_shared(g, t, carry):
    """Adan's 1/(1 − β₁ᵗ), (1 − β₂)/(1 − β₂ᵗ), 1/(1 − β₃ᵗ) and whether t = 1 (1.0/0.0);
    ``carry`` = (β₁ᵗ⁻¹, β₂ᵗ⁻¹, β₃ᵗ⁻¹)."""
    first = carry[0] * g.beta1
    second = carry[1] * g.beta2
    third = carry[2] * g.beta3
    return ((1.0 / (1.0 - first), (1.0 - g.beta2) / (1.0 - second), 1.0 / (1.0 - third),
             1.0 if t == 1.0 else 0.0), (first, second, third))


# --- coefficients ----------------------------------------------------------------

def plain_coefficients(h, t, shared):
    """The hyperparameters themselves (α_t in ``h.alpha``): rules without shared coefficients."""
    return h


def adam_coefficients(h, t, shared):
    """a = α_t·(1/(1 − β₁ᵗ)), c = 1/√(1 − β₂ᵗ) (adam, amsgrad, adamax)."""
    return AdamStep(a=h.alpha * shared[0], b=0.0, c=shared[1], beta1=h.beta1, beta2=h.beta2,
                    eps=h.eps)


def adamw_coefficients(h, t, shared):
    """As Adam's, and w = 1 − α_t·λ in ``b``."""
    return AdamStep(a=h.alpha * shared[0], b=1.0 - h.alpha * h.weight_decay, c=shared[1],
                    beta1=h.beta1, beta2=h.beta2, eps=h.eps)


def nadam_coefficients(h, t, shared):
    """a = α_t·((1 − μ_t)/(1 − Π_t)), b = α_t·(μ_{t+1}/(1 − Π_t·μ_{t+1})), c as Adam's."""
    return AdamStep(a=h.alpha * shared[0], b=h.alpha * shared[1], c=shared[2], beta1=h.beta1,
                    beta2=h.beta2, eps=h.eps)


def radam_coefficients(h, t, shared):
    """a = α_t·(shared factor), the switch, β₁, β₂, ε."""
    return RAdamStep(a=h.alpha * shared[0], rectified=shared[1], beta1=h.beta1,
                     beta2=h.beta2, eps=h.eps)


def lion_coefficients(h, t, shared):
    """α_t and w = 1 − α_t·λ."""
    return LionStep(alpha=h.alpha, w=1.0 - h.alpha * h.weight_decay, beta1=h.beta1,
                    beta2=h.beta2)


def adabelief_coefficients(h, t, shared):
    """a = α_t·(1/(1 − β₁ᵗ)), c = 1/√(1 − β₂ᵗ) (:func:`bias_corrections`), and ε_root."""
    return AdaBeliefStep(a=h.alpha * shared[0], c=shared[1], beta1=h.beta1, beta2=h.beta2,
                         eps=h.eps, eps_root=h.eps_root)


def adan_coefficients(h, t, shared):
    """a₁ = α_t·(1/(1 − β₁ᵗ)), a₂ = α_t·((1 − β₂)/(1 − β₂ᵗ)), k₃, w = 1 − α_t·λ, t = 1."""
    return AdanStep(a1=h.alpha * shared[0], a2=h.alpha * shared[1], k3=shared[2],
                    w=1.0 - h.alpha * h.weight_decay, first=shared[3], beta1=h.beta1,
                    beta2=h.beta2, beta3=h.beta3, eps=h.eps, eps_root=h.eps_root)


# --- initial state ---------------------------------------------------------------

def adagrad_init(h, theta):
    """Adagrad's accumulator starts at ``initial_accumulator`` (torch's default 0)."""
    return (h.initial_accumulator,)


def rprop_init(h, theta):
    """Rprop's previous gradient starts at 0, its step size at α (before the schedule)."""
    return (0.0, h.alpha)


def yogi_init(h, theta):
    """Yogi's m and v both start at ``initial_accumulator`` (as optax's)."""
    return (h.initial_accumulator, h.initial_accumulator)


# --- coordinate updates ------------------------------------------------------------

def sgd(theta, grad, state, k):
    r"""Plain gradient descent: :math:`θ ← θ - α_t g`."""
    return theta - k.alpha * grad, state


def momentum(theta, grad, state, k):
    r"""Heavy ball as torch's SGD(momentum=μ): :math:`b ← μ b + g`, :math:`θ ← θ - α_t b`.

    Polyak (1964). μ is ``beta1``.
    """
    buf = k.beta1 * state[0] + grad
    return theta - k.alpha * buf, (buf,)


def nesterov(theta, grad, state, k):
    r"""Nesterov momentum as torch: :math:`θ ← θ - α_t (g + μ b)`, b as momentum.

    Sutskever et al. (2013). μ is ``beta1``.
    """
    buf = k.beta1 * state[0] + grad
    return theta - k.alpha * (grad + k.beta1 * buf), (buf,)


def adagrad(theta, grad, state, k):
    r"""Adagrad: :math:`s ← s + g^2`, :math:`θ ← θ - (α_t g)/(\sqrt{s} + ε)`.

    Duchi, Hazan & Singer (2011).
    """
    accumulator = state[0] + grad * grad
    return theta - (k.alpha * grad) / (sqrt(accumulator) + k.eps), (accumulator,)


def adadelta(theta, grad, state, k):
    r"""Adadelta with ρ = ``beta2``.

    :math:`v ← ρ v + (1-ρ) g^2`, :math:`Δ = \sqrt{(u+ε)/(v+ε)}\, g`,
    :math:`u ← ρ u + (1-ρ) Δ^2`, :math:`θ ← θ - α_t Δ`. Zeiler (2012).
    """
    rho = k.beta2
    square_avg = rho * state[0] + (1.0 - rho) * (grad * grad)
    delta = sqrt((state[1] + k.eps) / (square_avg + k.eps)) * grad
    delta_avg = rho * state[1] + (1.0 - rho) * (delta * delta)
    return theta - k.alpha * delta, (square_avg, delta_avg)


def rmsprop(theta, grad, state, k):
    r"""RMSprop as torch: decay ``beta2`` (torch's ``alpha``), momentum μ = ``beta1``.

    :math:`v ← β_2 v + (1-β_2) g^2`, :math:`d = \sqrt{v} + ε` (centered:
    :math:`a ← β_2 a + (1-β_2) g`, :math:`d = \sqrt{v - a^2} + ε`);
    μ > 0: :math:`b ← μ b + g/d`, :math:`θ ← θ - α_t b`; μ = 0:
    :math:`θ ← θ - (α_t g)/d`. Tieleman & Hinton (2012).
    """
    decay, mu = k.beta2, k.beta1
    square_avg = decay * state[0] + (1.0 - decay) * (grad * grad)
    grad_avg = state[2]
    if k.centered != 0.0:
        grad_avg = decay * grad_avg + (1.0 - decay) * grad
        denom = sqrt(square_avg - grad_avg * grad_avg) + k.eps
    else:
        denom = sqrt(square_avg) + k.eps
    if mu > 0.0:
        buf = mu * state[1] + grad / denom
        return theta - k.alpha * buf, (square_avg, buf, grad_avg)
    return theta - (k.alpha * grad) / denom, (square_avg, 0.0, grad_avg)


def adam(theta, grad, state, k):
    r"""Adam, Kingma & Ba (2015), Algorithm 1, in the pinned grouping.

    :math:`m ← β_1 m + (1-β_1) g`, :math:`v ← β_2 v + (1-β_2) g^2`,
    :math:`θ ← θ - a\,(m/(\sqrt{v}\,c + ε))` with a = α_t/(1 − β₁ᵗ) and
    c = 1/√(1 − β₂ᵗ): √v̂ = √v·c and α·m̂ = a·m.
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * (grad * grad)
    return theta - k.a * (m / (sqrt(v) * k.c + k.eps)), (m, v)


def amsgrad(theta, grad, state, k):
    r"""AMSGrad, Reddi, Kale & Kumar (2018), with torch's max of the raw v.

    As :func:`adam` with :math:`\bar v ← \max(\bar v, v)` in the root.
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * (grad * grad)
    v_max = max(state[2], v)
    return theta - k.a * (m / (sqrt(v_max) * k.c + k.eps)), (m, v, v_max)


def adamw(theta, grad, state, k):
    r"""AdamW, Loshchilov & Hutter (2019): :math:`θ ← θ·w` (w = 1 − α_t·λ), then :func:`adam`."""
    return adam(theta * k.b, grad, state, k)


def nadam(theta, grad, state, k):
    r"""NAdam as torch, Dozat (2016), its two divisions by one denominator merged.

    m, v as :func:`adam`; :math:`θ ← θ - (a g + b m)/(\sqrt{v}\,c + ε)` (Π_t is a shared
    coefficient, not per-coordinate state).
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * (grad * grad)
    return theta - (k.a * grad + k.b * m) / (sqrt(v) * k.c + k.eps), (m, v)


def adamax(theta, grad, state, k):
    r"""AdaMax, Kingma & Ba (2015), section 7, as torch.

    :math:`u ← \max(β_2 u, |g| + ε)`, :math:`θ ← θ - a\,(m/u)`, a = α_t/(1 − β₁ᵗ).
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    u = max(k.beta2 * state[1], abs(grad) + k.eps)
    return theta - k.a * (m / u), (m, u)


def sign(x):
    """−1, 0 or 1 as ``torch.sign``/``jnp.sign`` (±0 and NaN stay as they are)."""
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else x)


def radam(theta, grad, state, k):
    r"""RAdam as torch, Liu et al. (2020).

    m, v as :func:`adam`; rectified (ρ_t > 5): :math:`θ ← θ - a\,(m/(\sqrt{v} + ε))`,
    else :math:`θ ← θ - a\,m` (ε is not scaled by the bias correction, as torch).
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * (grad * grad)
    adaptive = m / (sqrt(v) + k.eps)
    return theta - k.a * (adaptive if k.rectified != 0.0 else m), (m, v)


def rprop(theta, grad, state, k):
    r"""Rprop as torch, Riedmiller & Braun (1993): no weight backtracking.

    s = sign(g·q); Δ ← min(max(Δ·η, Δ_min), Δ_max), η = η₊, η₋ or 1 as s > 0, < 0 or
    = 0; g ← 0 where s < 0; :math:`θ ← θ - \mathrm{sign}(g)\,Δ`; q ← g.
    """
    product = grad * state[0]  # s > 0 and s < 0 are product > 0 and product < 0
    eta = k.eta_plus if product > 0.0 else (k.eta_minus if product < 0.0 else 1.0)
    size = min(max(state[1] * eta, k.step_min), k.step_max)
    kept = 0.0 if product < 0.0 else grad
    return theta - sign(kept) * size, (kept, size)


def lion(theta, grad, state, k):
    r"""Lion as optax, Chen et al. (2023).

    c = (1−β₁)·g + β₁·m; :math:`θ ← θ·w - α_t\,\mathrm{sign}(c)` (w = 1 − α_t·λ);
    m ← (1−β₂)·g + β₂·m.
    """
    c = (1.0 - k.beta1) * grad + k.beta1 * state[0]
    m = (1.0 - k.beta2) * grad + k.beta2 * state[0]
    return theta * k.w - k.alpha * sign(c), (m,)


def adabelief(theta, grad, state, k):
    r"""AdaBelief as optax, Zhuang et al. (2020).

    m as :func:`adam`; d = g − m (the new m); s ← (β₂ s + (1−β₂) d²) + ε_root;
    :math:`θ ← θ - a\,(m/(\sqrt{s}\,c + ε))`.
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    d = grad - m
    s = (k.beta2 * state[1] + (1.0 - k.beta2) * (d * d)) + k.eps_root
    return theta - k.a * (m / (sqrt(s) * k.c + k.eps)), (m, s)


def yogi(theta, grad, state, k):
    r"""Yogi as optax, Zaheer et al. (2018).

    m as :func:`adam`; q = g²; v ← v − (1−β₂)q if v > q, v + (1−β₂)q if v < q, else v;
    :math:`θ ← θ - a\,(m/(\sqrt{v}\,c + ε))`.
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    q = grad * grad
    change = (1.0 - k.beta2) * q
    old = state[1]
    v = (old - change) if old > q else ((old + change) if old < q else old)
    return theta - k.a * (m / (sqrt(v) * k.c + k.eps)), (m, v)


def adan(theta, grad, state, k):
    r"""Adan as optax, Xie et al. (2022) (each β the decay of the old average).

    δ = 0 at t = 1, else g − q; m ← β₁ m + (1−β₁) g; v ← β₂ v + (1−β₂) δ;
    u = g + (1−β₂) δ; n ← β₃ n + (1−β₃) u²;
    :math:`θ ← θ·w - (a_1 m + a_2 v)/(\sqrt{n k_3 + ε_{root}} + ε)`; q ← g.
    """
    difference = grad - state[3]
    delta = 0.0 if k.first != 0.0 else difference
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * delta
    u = grad + (1.0 - k.beta2) * delta
    n = k.beta3 * state[2] + (1.0 - k.beta3) * (u * u)
    step = (k.a1 * m + k.a2 * v) / (sqrt(n * k.k3 + k.eps_root) + k.eps)
    return theta * k.w - step, (m, v, n, grad)


def signum(theta, grad, state, k):
    r"""Signum as optax, Bernstein et al. (2018): m ← β₁ m + (1−β₁) g,
    :math:`θ ← θ - α_t\,\mathrm{sign}(m)`."""
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    return theta - k.alpha * sign(m), (m,)


# --- Schedule-Free (Defazio et al. 2024, as optax.contrib) ------------------------------

class ScheduleFreeStep(NamedTuple):
    """Schedule-Free AdamW's coefficients: its hyperparameters and c = 1/√(1 − β₂ᵗ)."""

    alpha: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    weight_lr_power: float
    c: float


def second_bias_correction(g, t, carry):
    """1/√(1 − β₂ᵗ) alone; ``carry`` = (β₂ᵗ⁻¹,)."""
    second = carry[0] * g.beta2
    return (1.0 / sqrt(1.0 - second),), (second,)


def schedule_free_adamw_coefficients(h, t, shared):
    return ScheduleFreeStep(alpha=h.alpha, beta1=h.beta1, beta2=h.beta2, eps=h.eps,
                            weight_decay=h.weight_decay, weight_lr_power=h.weight_lr_power,
                            c=shared[0])


def schedule_free_init(h, theta):
    """z and x start at θ₀ (so y₀ = θ₀ exactly); the running maximum of α_t and the weight
    sum at 0."""
    return (theta, theta, 0.0, 0.0)


def schedule_free_adamw_init(h, theta):
    """As :func:`schedule_free_init`, with v = 0 after z and x."""
    return (theta, theta, 0.0, 0.0, 0.0)


def schedule_free_weight(alpha_max, alpha_t, weight_sum, power):
    """The averaging weight of a step: ``(α̂, W, κ)`` with α̂ = max(α̂, α_t), W ← W + α̂^P and
    κ = α̂^P/W (0 while W = 0, optax's guard). Per cell (it holds α_t), kept in every
    coordinate's state: each coordinate computes the same values."""
    alpha_max = max(alpha_max, alpha_t)
    weight = alpha_max ** power
    total = weight_sum + weight
    kappa = weight / total if total > 0.0 else 0.0
    return alpha_max, total, kappa


def schedule_free_sgd(theta, grad, state, k):
    r"""Schedule-Free SGD: θ is y, where the gradient is taken; the state is (z, x, α̂, W).

    :math:`z ← z − α_t (g + λ y)`, :math:`x ← (1 − κ) x + κ z`, :math:`y ← β_1 x + (1 − β_1) z`.
    """
    alpha_max, total, kappa = schedule_free_weight(state[2], k.alpha, state[3],
                                                   k.weight_lr_power)
    keep = 1.0 - kappa
    z = state[0] - k.alpha * (grad + k.weight_decay * theta)
    x = keep * state[1] + kappa * z
    return k.beta1 * x + (1.0 - k.beta1) * z, (z, x, alpha_max, total)


def schedule_free_adamw(theta, grad, state, k):
    r"""Schedule-Free AdamW: as :func:`schedule_free_sgd` with z's step scaled by Adam's
    bias-corrected RMS, :math:`z ← z − α_t (g/(\sqrt{v}\,c + ε) + λ y)`; state (z, x, v, α̂, W)."""
    alpha_max, total, kappa = schedule_free_weight(state[3], k.alpha, state[4],
                                                   k.weight_lr_power)
    keep = 1.0 - kappa
    v = k.beta2 * state[2] + (1.0 - k.beta2) * (grad * grad)
    z = state[0] - k.alpha * (grad / (sqrt(v) * k.c + k.eps) + k.weight_decay * theta)
    x = keep * state[1] + kappa * z
    return k.beta1 * x + (1.0 - k.beta1) * z, (z, x, v, alpha_max, total)


def schedule_free_report(theta, state):
    """The reported point of Schedule-Free: the average x (``schedule_free_eval_params``)."""
    return state[1]


# --- the declaration ---------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Optimizer:
    """One update rule, declared: what it reads, what it keeps, how it steps.

    Attributes:
        name: the name used in grid files and in the dataset's ``optimizer`` coordinate.
        hyperparameters: what it reads, in the order of a kernel's ``hyper`` columns
            (``alpha`` first: the schedule scales it).
        state: the names of its per-coordinate state values.
        update: ``(theta, grad, state, k) -> (theta, state)`` for one coordinate.
        coefficients: ``(h, t, shared) -> k``.
        shared: ``(g, t, carry) -> (shared, carry)``; ``shared_by`` names what ``g`` holds.
        shared_by: the hyperparameters ``shared`` reads (cells that agree on them share it).
        carry: the initial running products of ``shared``.
        init: ``(h, theta0) -> state`` at t = 0 for a coordinate starting at θ₀ (None:
            every state value starts at 0).
        report: ``(theta, state) -> x``, the reported point of a coordinate, or None (θ).
        reference: the equivalent call of the reference library.
        paper: where the rule comes from.
        source: for a user's rule, the file it was read from (None for built-ins).
    """

    name: str
    hyperparameters: tuple[Hyperparameter, ...]
    state: tuple[str, ...]
    update: Callable
    coefficients: Callable = plain_coefficients
    shared: Callable = nothing_shared
    shared_by: tuple[str, ...] = ()
    carry: tuple[float, ...] = ()
    init: Callable | None = None
    report: Callable | None = None
    reference: str = ""
    paper: str = ""
    source: str | None = field(default=None, compare=False)

    def __post_init__(self):
        names = self.names
        if not names or names[0] != "alpha":
            raise ValueError(f"{self.name}: the first hyperparameter must be alpha")
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a hyperparameter is declared twice")
        missing = [name for name in self.shared_by if name not in names]
        if missing:
            raise ValueError(f"{self.name}: shared_by names {missing}, not hyperparameters")

    @property
    def names(self) -> tuple[str, ...]:
        """The hyperparameters' names, in column order."""
        return tuple(h.name for h in self.hyperparameters)

    @property
    def axes(self) -> tuple[str, ...]:
        """The hyperparameters it reads (an axis it does not read is computed once)."""
        return self.names

    def hyperparameter(self, name: str) -> Hyperparameter:
        return self.hyperparameters[self.names.index(name)]

    @property
    def defaults(self) -> dict[str, float]:
        return {h.name: h.default for h in self.hyperparameters}

    @property
    def shared_columns(self) -> tuple[int, ...]:
        """The ``hyper`` columns of ``shared_by``."""
        return tuple(self.names.index(name) for name in self.shared_by)

    @property
    def shares(self) -> bool:
        """Whether the rule has shared step coefficients."""
        return self.shared is not nothing_shared

    @property
    def functions(self) -> tuple[Callable, ...]:
        """The plain functions a kernel calls for this rule."""
        return tuple(f for f in (self.shared, self.coefficients, self.update, self.init,
                                 self.report) if f is not None)


def _hyper(*items) -> tuple[Hyperparameter, ...]:
    return tuple(items)


def _beta(base: Hyperparameter, default: float, reference: str, *,
          closed: bool = False) -> Hyperparameter:
    """``base`` (β₁ or β₂) with a rule's default and reference name; ``closed``: β = 1 allowed."""
    from dataclasses import replace

    return replace(base, default=default, reference=reference,
                   open_maximum=base.open_maximum and not closed)


WEIGHT_LR_POWER = Hyperparameter(name="weight_lr_power", default=2.0, minimum=0.0,
                                 reference="weight_lr_power",
                                 long_name="power P of the averaging weight α̂^P")


def _schedule_free_beta1() -> Hyperparameter:
    """Schedule-Free's interpolation β₁ ∈ (0, 1] (optax divides by it)."""
    from dataclasses import replace

    return replace(BETA1, default=0.9, minimum=0.0, open_minimum=True, maximum=1.0,
                   open_maximum=False, reference="b1")


ALPHA_OPTAX = ALPHA.with_default(1e-3, "learning_rate")  # optax has no default: torch's Adam's
BETA3 = Hyperparameter(name="beta3", default=0.99, minimum=0.0, maximum=1.0, open_maximum=True,
                       reference="b3", long_name="β₃")
EPS_ROOT = Hyperparameter(name="eps_root", default=1e-8, minimum=0.0, reference="eps_root",
                          long_name="ε inside the root", scale="log")


ADAM_FAMILY = _hyper(ALPHA, BETA1, BETA2, EPS)

OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in (
        Optimizer(name="sgd", hyperparameters=_hyper(ALPHA), state=(), update=sgd,
                  reference="torch.optim.SGD(lr)", paper="Robbins & Monro (1951)"),
        Optimizer(name="momentum",
                  hyperparameters=_hyper(ALPHA, BETA1.with_default(0.9, "momentum")),
                  state=("momentum_buffer",), update=momentum,
                  reference="torch.optim.SGD(lr, momentum=β₁)", paper="Polyak (1964)"),
        Optimizer(name="nesterov",
                  hyperparameters=_hyper(ALPHA, BETA1.with_default(0.9, "momentum")),
                  state=("momentum_buffer",), update=nesterov,
                  reference="torch.optim.SGD(lr, momentum=β₁, nesterov=True)",
                  paper="Sutskever, Martens, Dahl & Hinton (2013)"),
        Optimizer(name="adagrad",
                  hyperparameters=_hyper(ALPHA, EPS, Hyperparameter(
                      name="initial_accumulator", default=0.0, minimum=0.0,
                      reference="initial_accumulator_value",
                      long_name="initial accumulator s₀")),
                  state=("sum",), update=adagrad, init=adagrad_init,
                  reference="torch.optim.Adagrad(lr, eps=ε)",
                  paper="Duchi, Hazan & Singer (2011)"),
        Optimizer(name="adadelta",
                  hyperparameters=_hyper(ALPHA, BETA2.with_default(0.999, "rho"), EPS),
                  state=("square_avg", "acc_delta"), update=adadelta,
                  reference="torch.optim.Adadelta(lr, rho=β₂, eps=ε)", paper="Zeiler (2012)"),
        Optimizer(name="rmsprop",
                  hyperparameters=_hyper(ALPHA, BETA1.with_default(0.9, "momentum"),
                                         BETA2.with_default(0.999, "alpha"), EPS,
                                         Hyperparameter(name="centered", default=False,
                                                        flag=True, reference="centered",
                                                        long_name="centered")),
                  state=("square_avg", "momentum_buffer", "grad_avg"), update=rmsprop,
                  reference="torch.optim.RMSprop(lr, alpha=β₂, eps=ε, momentum=β₁)",
                  paper="Tieleman & Hinton (2012)"),
        Optimizer(name="adam", hyperparameters=ADAM_FAMILY, state=("m", "v"), update=adam,
                  coefficients=adam_coefficients, shared=bias_corrections,
                  shared_by=("beta1", "beta2"), carry=(1.0, 1.0),
                  reference="torch.optim.Adam(lr, betas=(β₁, β₂), eps=ε)",
                  paper="Kingma & Ba (2015)"),
        Optimizer(name="amsgrad", hyperparameters=ADAM_FAMILY, state=("m", "v", "v_max"),
                  update=amsgrad, coefficients=adam_coefficients, shared=bias_corrections,
                  shared_by=("beta1", "beta2"), carry=(1.0, 1.0),
                  reference="torch.optim.Adam(..., amsgrad=True)",
                  paper="Reddi, Kale & Kumar (2018)"),
        Optimizer(name="adamw", hyperparameters=(*ADAM_FAMILY, WEIGHT_DECAY), state=("m", "v"),
                  update=adamw, coefficients=adamw_coefficients, shared=bias_corrections,
                  shared_by=("beta1", "beta2"), carry=(1.0, 1.0),
                  reference="torch.optim.AdamW(lr, betas, eps, weight_decay=λ)",
                  paper="Loshchilov & Hutter (2019)"),
        Optimizer(name="nadam",
                  hyperparameters=(*ADAM_FAMILY, Hyperparameter(
                      name="momentum_decay", default=4e-3, minimum=0.0,
                      reference="momentum_decay", long_name="momentum decay ψ")),
                  state=("m", "v"), update=nadam, coefficients=nadam_coefficients,
                  shared=nadam_shared, shared_by=("beta1", "beta2", "momentum_decay"),
                  carry=(1.0, 1.0, 0.0), reference="torch.optim.NAdam(..., momentum_decay=ψ)",
                  paper="Dozat (2016)"),
        Optimizer(name="adamax", hyperparameters=ADAM_FAMILY, state=("m", "u"), update=adamax,
                  coefficients=adam_coefficients, shared=first_bias_correction,
                  shared_by=("beta1",), carry=(1.0,),
                  reference="torch.optim.Adamax(lr, betas, eps)", paper="Kingma & Ba (2015)"),
        Optimizer(name="radam",
                  hyperparameters=_hyper(ALPHA, BETA1, BETA2, EPS),
                  state=("m", "v"), update=radam, coefficients=radam_coefficients,
                  shared=radam_shared, shared_by=("beta1", "beta2"), carry=(1.0, 1.0),
                  reference="torch.optim.RAdam(lr, betas=(β₁, β₂), eps=ε)",
                  paper="Liu et al. (2020)"),
        Optimizer(name="rprop",
                  hyperparameters=_hyper(
                      Hyperparameter(name="alpha", default=1e-2, minimum=0.0,
                                     open_minimum=True, reference="lr",
                                     long_name="initial step size α", scale="log"),
                      Hyperparameter(name="eta_minus", default=0.5, minimum=0.0, maximum=1.0,
                                     open_minimum=True, open_maximum=True,
                                     reference="etas[0]", long_name="step size decrease η₋"),
                      Hyperparameter(name="eta_plus", default=1.2, minimum=1.0,
                                     open_minimum=True, reference="etas[1]",
                                     long_name="step size increase η₊"),
                      Hyperparameter(name="step_min", default=1e-6, minimum=0.0,
                                     reference="step_sizes[0]",
                                     long_name="smallest step size Δ_min", scale="log"),
                      Hyperparameter(name="step_max", default=50.0, minimum=0.0,
                                     open_minimum=True, reference="step_sizes[1]",
                                     long_name="largest step size Δ_max", scale="log")),
                  state=("prev", "step_size"), update=rprop, init=rprop_init,
                  reference="torch.optim.Rprop(lr, etas=(η₋, η₊), step_sizes=(Δ_min, Δ_max))",
                  paper="Riedmiller & Braun (1993)"),
        Optimizer(name="lion",
                  hyperparameters=_hyper(ALPHA_OPTAX, _beta(BETA1, 0.9, "b1", closed=True),
                                         _beta(BETA2, 0.99, "b2"),
                                         WEIGHT_DECAY.with_default(1e-3)),
                  state=("m",), update=lion, coefficients=lion_coefficients,
                  reference="optax.lion(learning_rate, b1, b2, weight_decay=λ)",
                  paper="Chen et al. (2023)"),
        Optimizer(name="adabelief",
                  hyperparameters=_hyper(ALPHA_OPTAX, _beta(BETA1, 0.9, "b1"),
                                         _beta(BETA2, 0.999, "b2"), EPS.with_default(1e-16),
                                         EPS_ROOT.with_default(1e-16)),
                  state=("m", "s"), update=adabelief, coefficients=adabelief_coefficients,
                  shared=bias_corrections, shared_by=("beta1", "beta2"), carry=(1.0, 1.0),
                  reference="optax.adabelief(learning_rate, b1, b2, eps, eps_root)",
                  paper="Zhuang et al. (2020)"),
        Optimizer(name="yogi",
                  hyperparameters=_hyper(ALPHA_OPTAX, _beta(BETA1, 0.9, "b1"),
                                         _beta(BETA2, 0.999, "b2"), EPS.with_default(1e-3),
                                         Hyperparameter(
                                             name="initial_accumulator", default=1e-6,
                                             minimum=0.0,
                                             reference="initial_accumulator_value",
                                             long_name="initial moments m₀ = v₀")),
                  state=("m", "v"), update=yogi, coefficients=adam_coefficients,
                  shared=bias_corrections, shared_by=("beta1", "beta2"), carry=(1.0, 1.0),
                  init=yogi_init, reference="optax.yogi(learning_rate, b1, b2, eps)",
                  paper="Zaheer et al. (2018)"),
        Optimizer(name="adan",
                  hyperparameters=_hyper(ALPHA_OPTAX, _beta(BETA1, 0.98, "b1"),
                                         _beta(BETA2, 0.92, "b2"), BETA3,
                                         EPS, EPS_ROOT, WEIGHT_DECAY.with_default(0.0)),
                  state=("m", "v", "n", "prev_grad"), update=adan,
                  coefficients=adan_coefficients, shared=adan_shared,
                  shared_by=("beta1", "beta2", "beta3"), carry=(1.0, 1.0, 1.0),
                  reference="optax.adan(learning_rate, b1, b2, b3, eps, eps_root, "
                            "weight_decay=λ)",
                  paper="Xie et al. (2022)"),
        Optimizer(name="signum",
                  hyperparameters=_hyper(ALPHA_OPTAX, _beta(BETA1, 0.9, "beta")),
                  state=("m",), update=signum,
                  reference="optax.signum(learning_rate, beta)",
                  paper="Bernstein et al. (2018)"),
        Optimizer(name="schedule_free_sgd",
                  hyperparameters=_hyper(ALPHA.with_default(1.0, "learning_rate"),
                                         _schedule_free_beta1(), WEIGHT_DECAY.with_default(
                                             0.0, "weight_decay (None = 0)"), WEIGHT_LR_POWER),
                  state=("z", "x", "alpha_max", "weight_sum"), update=schedule_free_sgd,
                  init=schedule_free_init, report=schedule_free_report,
                  reference="optax.contrib.schedule_free_sgd(learning_rate, b1, weight_decay, "
                            "weight_lr_power); reported: schedule_free_eval_params",
                  paper="Defazio et al. (2024)"),
        Optimizer(name="schedule_free_adamw",
                  hyperparameters=_hyper(ALPHA.with_default(0.0025, "learning_rate"),
                                         _schedule_free_beta1(), _beta(BETA2, 0.999, "b2"), EPS,
                                         WEIGHT_DECAY.with_default(0.0, "weight_decay"),
                                         WEIGHT_LR_POWER),
                  state=("z", "x", "v", "alpha_max", "weight_sum"), update=schedule_free_adamw,
                  coefficients=schedule_free_adamw_coefficients, shared=second_bias_correction,
                  shared_by=("beta2",), carry=(1.0,), init=schedule_free_adamw_init,
                  report=schedule_free_report,
                  reference="optax.contrib.schedule_free_adamw(learning_rate, b1, b2, eps, "
                            "weight_decay, weight_lr_power); reported: "
                            "schedule_free_eval_params",
                  paper="Defazio et al. (2024)"),
    )
}


# --- rules of a user's own ---------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RuleSpec:
    """A rule written by a user (``[rules.NAME]`` in a grid file), as plain data: what any
    process needs to load it again (a Dask worker, say).

    Attributes:
        name: its name in ``sweep.optimizers``.
        file: the absolute path of its Python file; ``digest`` the hash of its text.
        function: ``function(theta, grad, state, t, h) -> (theta, state)``.
        hyperparameters: ``((name, default), ...)``, ``alpha`` first.
        state: the names of its per-coordinate state values, each starting at 0.
    """

    name: str
    file: str
    function: str
    digest: str
    hyperparameters: tuple[tuple[str, float], ...]
    state: tuple[str, ...]


def user_coefficients(h, t, shared):
    """A user's rule reads the step and its hyperparameters in its update: ``(t, h)``."""
    return (t, h)


def user_rule(spec: RuleSpec, function) -> Optimizer:
    """The :class:`Optimizer` of a user's ``function(theta, grad, state, t, h)``: its update
    calls it with the step t (a float, from 1) and the record of its hyperparameters
    (``h.alpha`` after the schedule). Every hyperparameter but α may be any finite number
    (α > 0); no shared coefficients (the function computes what it needs each step)."""

    def update(theta, grad, state, k):
        return function(theta, grad, state, k[0], k[1])

    update.__qualname__ = f"user_rule_{spec.name}_{spec.digest}.update"
    declared = tuple(
        ALPHA.with_default(float(default), "alpha") if name == "alpha" else
        Hyperparameter(name=name, default=float(default), reference=name, long_name=name)
        for name, default in spec.hyperparameters)
    return Optimizer(name=spec.name, hyperparameters=declared, state=tuple(spec.state),
                     update=update, coefficients=user_coefficients,
                     reference=f"{spec.function} in {spec.file}",
                     source=f"{spec.file}:{spec.function}:{spec.digest}")
