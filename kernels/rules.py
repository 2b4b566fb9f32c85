"""The update rules of ``UPDATE_RULES.md``, each written once as scalar arithmetic.

A rule has two parts ("How a step is computed" in ``UPDATE_RULES.md``):

* **step coefficients**, which depend only on α_t, β₁, β₂, ε, the rule's
  option and t, never on θ or g. They come in two stages, so that cells that
  share β share the divisions and roots:

  - ``decay(beta1, beta2, option, t, powers) -> (Decay, Powers)``: what
    depends on (β₁, β₂, option, t) alone (bias corrections, NAdam's μ and Π),
    computed once per step for every cell with those β. ``powers`` are the
    running products the rule carries (β₁ᵗ, β₂ᵗ, NAdam's Π_t), from 1.
  - ``coefficients(alpha_t, beta1, beta2, eps, option, decay) -> Coefficients``:
    one cell's coefficients; α_t enters by one multiplication.

* **the coordinate update** ``update(theta, grad, coefficients, state) ->
  (theta, state)`` for one coordinate: the fewest correctly rounded divisions
  and square roots, in exactly the pinned grouping.

Every function is plain Python on floats and small tuples, so the same source
compiles for the CPU (``numba.njit``) and the GPU (``numba.cuda.jit``) in
:mod:`kernels.compile` and :mod:`kernels.cuda`, and runs uncompiled in tests.
No allocation, no Python objects, no branches on anything but scalars.

Conventions (torch.optim, float64): ``theta`` is θ_{t-1}, ``grad`` is
g_t = ∇f(θ_{t-1}), t counts from 1; ``state = (s0, s1, s2)`` is three floats
of per-coordinate state (a rule that needs fewer leaves the rest at 0), and
``init(option)`` gives it at t = 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

from .maths import sqrt

# Grid axes, in the order of a kernel's ``hyper`` columns and of the dataset's dimensions.
AXES = ("alpha", "beta1", "beta2", "eps")


class Powers(NamedTuple):
    """Running products a rule carries from step to step (p ← p·β each step, from 1)."""

    first: float   # β₁ᵗ (NAdam: Π_t = Π_{t−1}·μ_t)
    second: float  # β₂ᵗ


class Decay(NamedTuple):
    """The step coefficients that depend on (β₁, β₂, option, t) only, 0 where unused."""

    first: float   # 1/(1 − β₁ᵗ); NAdam: (1 − μ_t)/(1 − Π_t)
    second: float  # NAdam: μ_{t+1}/(1 − Π_t·μ_{t+1})
    root: float    # 1/√(1 − β₂ᵗ)


class Coefficients(NamedTuple):
    """One cell's step coefficients at step t (the letters of ``UPDATE_RULES.md``)."""

    a: float       # the step's scale: α_t, or α_t·(1/(1 − β₁ᵗ)), or NAdam's a
    b: float       # NAdam's b; AdamW's w = 1 − α_t·λ; 0 otherwise
    c: float       # 1/√(1 − β₂ᵗ) (Adam family, NAdam); 0 otherwise
    beta1: float   # β₁, or the momentum μ (momentum, nesterov, rmsprop)
    beta2: float   # β₂, or ρ (adadelta), or RMSprop's decay
    eps: float
    option: float  # the rule's fixed option (RMSprop: centered as 1.0/0.0)


def zero_state(option):
    """Every state starts at 0 (the default ``init``)."""
    return (0.0, 0.0, 0.0)


# --- step coefficients -------------------------------------------------------

def no_decay(beta1, beta2, option, t, powers):
    """Rules without bias corrections: nothing depends on β and t alone."""
    return Decay(first=0.0, second=0.0, root=0.0), powers


def bias_decay(beta1, beta2, option, t, powers):
    """Adam's bias corrections: 1/(1 − β₁ᵗ) and 1/√(1 − β₂ᵗ)."""
    first = powers.first * beta1
    second = powers.second * beta2
    return (Decay(first=1.0 / (1.0 - first), second=0.0, root=1.0 / sqrt(1.0 - second)),
            Powers(first=first, second=second))


def first_bias_decay(beta1, beta2, option, t, powers):
    """AdaMax's one bias correction, 1/(1 − β₁ᵗ) (its u needs none)."""
    first = powers.first * beta1
    return Decay(first=1.0 / (1.0 - first), second=0.0, root=0.0), Powers(first, powers.second)


def nadam_decay(beta1, beta2, option, t, powers):
    """NAdam's μ_t = β₁(1 − ½·0.96^{tψ}) and μ_{t+1}, Π_t = Π_{t−1}·μ_t (ψ the option):
    (1 − μ_t)/(1 − Π_t), μ_{t+1}/(1 − Π_t·μ_{t+1}) and 1/√(1 − β₂ᵗ)."""
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * option))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1.0) * option))
    product = powers.first * mu
    second = powers.second * beta2
    return (Decay(first=(1.0 - mu) / (1.0 - product),
                  second=mu_next / (1.0 - product * mu_next),
                  root=1.0 / sqrt(1.0 - second)),
            Powers(first=product, second=second))


def plain_coefficients(alpha_t, beta1, beta2, eps, option, decay):
    """a = α_t: the rules without bias corrections."""
    return Coefficients(a=alpha_t, b=0.0, c=0.0, beta1=beta1, beta2=beta2, eps=eps,
                        option=option)


def adam_coefficients(alpha_t, beta1, beta2, eps, option, decay):
    """a = α_t·(1/(1 − β₁ᵗ)), c = 1/√(1 − β₂ᵗ) (adam, amsgrad, adamax)."""
    return Coefficients(a=alpha_t * decay.first, b=0.0, c=decay.root, beta1=beta1, beta2=beta2,
                        eps=eps, option=option)


def adamw_coefficients(alpha_t, beta1, beta2, eps, option, decay):
    """As Adam's, and w = 1 − α_t·λ (λ the option) in ``b``."""
    return Coefficients(a=alpha_t * decay.first, b=1.0 - alpha_t * option, c=decay.root,
                        beta1=beta1, beta2=beta2, eps=eps, option=option)


def nadam_coefficients(alpha_t, beta1, beta2, eps, option, decay):
    """a = α_t·((1 − μ_t)/(1 − Π_t)), b = α_t·(μ_{t+1}/(1 − Π_t·μ_{t+1})), c as Adam's."""
    return Coefficients(a=alpha_t * decay.first, b=alpha_t * decay.second, c=decay.root,
                        beta1=beta1, beta2=beta2, eps=eps, option=option)


# --- coordinate updates --------------------------------------------------------

def sgd(theta, grad, k, state):
    r"""Plain gradient descent: :math:`θ ← θ - α_t g`."""
    return theta - k.a * grad, state


def momentum(theta, grad, k, state):
    r"""Heavy ball as torch's SGD(momentum=μ): :math:`b ← μ b + g`, :math:`θ ← θ - α_t b`.

    Polyak (1964). ``state = (b, 0, 0)``; μ is the β₁ axis.
    """
    buf = k.beta1 * state[0] + grad
    return theta - k.a * buf, (buf, 0.0, 0.0)


def nesterov(theta, grad, k, state):
    r"""Nesterov momentum as torch: :math:`θ ← θ - α_t (g + μ b)`, b as momentum.

    Sutskever et al. (2013). ``state = (b, 0, 0)``; μ is the β₁ axis.
    """
    buf = k.beta1 * state[0] + grad
    return theta - k.a * (grad + k.beta1 * buf), (buf, 0.0, 0.0)


def adagrad_init(initial_accumulator):
    """Adagrad's accumulator starts at ``initial_accumulator`` (torch's default 0)."""
    return (initial_accumulator, 0.0, 0.0)


def adagrad(theta, grad, k, state):
    r"""Adagrad: :math:`s ← s + g^2`, :math:`θ ← θ - (α_t g)/(\sqrt{s} + ε)`.

    Duchi, Hazan & Singer (2011). ``state = (s, 0, 0)``.
    """
    accumulator = state[0] + grad * grad
    return theta - (k.a * grad) / (sqrt(accumulator) + k.eps), (accumulator, 0.0, 0.0)


def adadelta(theta, grad, k, state):
    r"""Adadelta with ρ on the β₂ axis.

    :math:`v ← ρ v + (1-ρ) g^2`, :math:`Δ = \sqrt{(u+ε)/(v+ε)}\, g`,
    :math:`u ← ρ u + (1-ρ) Δ^2`, :math:`θ ← θ - α_t Δ`.
    Zeiler (2012). ``state = (v, u, 0)``.
    """
    rho = k.beta2
    square_avg = rho * state[0] + (1.0 - rho) * (grad * grad)
    delta = sqrt((state[1] + k.eps) / (square_avg + k.eps)) * grad
    delta_avg = rho * state[1] + (1.0 - rho) * (delta * delta)
    return theta - k.a * delta, (square_avg, delta_avg, 0.0)


def rmsprop(theta, grad, k, state):
    r"""RMSprop as torch: decay on the β₂ axis, momentum μ on the β₁ axis.

    :math:`v ← β_2 v + (1-β_2) g^2`, :math:`d = \sqrt{v} + ε` (centered,
    option ≠ 0: :math:`a ← β_2 a + (1-β_2) g`, :math:`d = \sqrt{v - a^2} + ε`);
    μ > 0: :math:`b ← μ b + g/d`, :math:`θ ← θ - α_t b`; μ = 0:
    :math:`θ ← θ - (α_t g)/d`. Tieleman & Hinton (2012). ``state = (v, b, a)``.
    """
    decay, mu = k.beta2, k.beta1
    square_avg = decay * state[0] + (1.0 - decay) * (grad * grad)
    grad_avg = state[2]
    if k.option != 0.0:
        grad_avg = decay * grad_avg + (1.0 - decay) * grad
        denom = sqrt(square_avg - grad_avg * grad_avg) + k.eps
    else:
        denom = sqrt(square_avg) + k.eps
    if mu > 0.0:
        buf = mu * state[1] + grad / denom
        return theta - k.a * buf, (square_avg, buf, grad_avg)
    return theta - (k.a * grad) / denom, (square_avg, 0.0, grad_avg)


def adam(theta, grad, k, state):
    r"""Adam, Kingma & Ba (2015), Algorithm 1, in the pinned grouping.

    :math:`m ← β_1 m + (1-β_1) g`, :math:`v ← β_2 v + (1-β_2) g^2`,
    :math:`θ ← θ - a\,(m/(\sqrt{v}\,c + ε))` with a = α_t/(1 − β₁ᵗ) and
    c = 1/√(1 − β₂ᵗ): √v̂ = √v·c and α·m̂ = a·m. ``state = (m, v, 0)``.
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * (grad * grad)
    return theta - k.a * (m / (sqrt(v) * k.c + k.eps)), (m, v, 0.0)


def amsgrad(theta, grad, k, state):
    r"""AMSGrad, Reddi, Kale & Kumar (2018), with torch's max of the raw v.

    As :func:`adam` with :math:`\bar v ← \max(\bar v, v)` in the root.
    ``state = (m, v, v̄)``.
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * (grad * grad)
    v_max = max(state[2], v)
    return theta - k.a * (m / (sqrt(v_max) * k.c + k.eps)), (m, v, v_max)


def adamw(theta, grad, k, state):
    r"""AdamW, Loshchilov & Hutter (2019): :math:`θ ← θ·w` (w = 1 − α_t·λ), then :func:`adam`.

    ``state = (m, v, 0)``.
    """
    return adam(theta * k.b, grad, k, state)


def nadam(theta, grad, k, state):
    r"""NAdam as torch, Dozat (2016), its two divisions by one denominator merged.

    m, v as :func:`adam`; :math:`θ ← θ - (a g + b m)/(\sqrt{v}\,c + ε)`.
    ``state = (m, v, 0)`` (Π_t is a step coefficient, not per-coordinate state).
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    v = k.beta2 * state[1] + (1.0 - k.beta2) * (grad * grad)
    return theta - (k.a * grad + k.b * m) / (sqrt(v) * k.c + k.eps), (m, v, 0.0)


def adamax(theta, grad, k, state):
    r"""AdaMax, Kingma & Ba (2015), section 7, as torch.

    :math:`u ← \max(β_2 u, |g| + ε)`, :math:`θ ← θ - a\,(m/u)`, a = α_t/(1 − β₁ᵗ).
    ``state = (m, u, 0)``.
    """
    m = k.beta1 * state[0] + (1.0 - k.beta1) * grad
    u = max(k.beta2 * state[1], abs(grad) + k.eps)
    return theta - k.a * (m / u), (m, u, 0.0)


@dataclass(frozen=True, kw_only=True)
class Optimizer:
    """One update rule and what it needs.

    Attributes:
        name: the name used in grid files and in the dataset's ``optimizer`` coordinate.
        update: the coordinate update ``(theta, grad, coefficients, state) -> (theta, state)``.
        axes: the grid axes the rule reads; the others are computed once and broadcast.
        decay: ``(beta1, beta2, option, t, powers) -> (Decay, Powers)``.
        coefficients: ``(alpha_t, beta1, beta2, eps, option, decay) -> Coefficients``.
        init: ``option -> state`` at t = 0.
        states: how many of the three state values the rule uses (the first ``states``;
            the others it leaves at 0, so kernels need not keep them).
        option: name of the rule's fixed option (``[options.NAME]`` key), or None.
        option_default: its default value.
        torch: the equivalent ``torch.optim`` call, for the documentation.
    """

    name: str
    update: Callable
    axes: tuple[str, ...]
    decay: Callable = no_decay
    coefficients: Callable = plain_coefficients
    init: Callable = zero_state
    states: int = 3
    option: str | None = None
    option_default: float | bool = 0.0
    torch: str = ""

    @property
    def functions(self) -> tuple[Callable, ...]:
        """The plain functions a kernel calls for this rule: (decay, coefficients, update, init)."""
        return (self.decay, self.coefficients, self.update, self.init)


OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in (
        Optimizer(name="sgd", update=sgd, axes=("alpha",), states=0, torch="SGD(lr)"),
        Optimizer(name="momentum", update=momentum, axes=("alpha", "beta1"), states=1,
                  torch="SGD(lr, momentum=μ)"),
        Optimizer(name="nesterov", update=nesterov, axes=("alpha", "beta1"), states=1,
                  torch="SGD(lr, momentum=μ, nesterov=True)"),
        Optimizer(name="adagrad", update=adagrad, axes=("alpha", "eps"), init=adagrad_init, states=1,
                  option="initial_accumulator", option_default=0.0, torch="Adagrad(lr, eps=ε)"),
        Optimizer(name="adadelta", update=adadelta, axes=("alpha", "beta2", "eps"), states=2,
                  torch="Adadelta(lr, rho=ρ, eps=ε)"),
        Optimizer(name="rmsprop", update=rmsprop, axes=AXES, option="centered",
                  option_default=False, torch="RMSprop(lr, alpha=β₂, eps=ε, momentum=β₁)"),
        Optimizer(name="adam", update=adam, axes=AXES, decay=bias_decay, states=2,
                  coefficients=adam_coefficients, torch="Adam(lr, betas, eps)"),
        Optimizer(name="amsgrad", update=amsgrad, axes=AXES, decay=bias_decay,
                  coefficients=adam_coefficients, torch="Adam(..., amsgrad=True)"),
        Optimizer(name="adamw", update=adamw, axes=AXES, decay=bias_decay, states=2,
                  coefficients=adamw_coefficients, option="weight_decay", option_default=1e-2,
                  torch="AdamW(..., weight_decay=λ)"),
        Optimizer(name="nadam", update=nadam, axes=AXES, decay=nadam_decay, states=2,
                  coefficients=nadam_coefficients, option="momentum_decay", option_default=4e-3,
                  torch="NAdam(..., momentum_decay=ψ)"),
        Optimizer(name="adamax", update=adamax, axes=AXES, decay=first_bias_decay, states=2,
                  coefficients=adam_coefficients, torch="Adamax(lr, betas, eps)"),
    )
}
