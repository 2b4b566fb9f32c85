"""The update rules of ``UPDATE_RULES.md``, each written once as scalar arithmetic.

Every rule acts on one coordinate of one trajectory. It is a plain Python
function of floats and small tuples, so that the very same function compiles
for the CPU (``numba.njit``) and the GPU (``numba.cuda.jit(device=True)``) in
:mod:`kernels.compile`, and runs uncompiled in tests. No allocation, no Python
objects, no branches on anything but scalars.

Conventions, shared by all rules (they follow ``torch.optim``, float64):

* ``theta`` is θ_{t-1}, ``grad`` is g_t = ∇f(θ_{t-1}), ``t`` counts from 1.
* ``hyper = (alpha, beta1, beta2, eps, option, beta1_power, beta2_power)``:
  the grid point (α already scheduled: α_t); ``option`` is the rule's one
  fixed option (see :data:`OPTIMIZERS`), 0.0 where it has none;
  ``beta1_power`` and ``beta2_power`` are β₁ᵗ and β₂ᵗ for the bias
  corrections. The kernels carry them as running products (one
  multiplication a step instead of a ``pow`` per cell: it keeps the cell loop
  vectorizable); torch calls ``pow``, which differs by a few ulps.
* ``state = (s0, s1, s2)``: three floats of per-coordinate state; a rule that
  needs fewer leaves the rest at 0. ``init(option)`` gives the state at t = 0.
* The rule returns ``(theta_t, state_t)``.

Operations are grouped as torch groups them (``addcmul``: ``(1 − β) · (g · g)``),
so that rounding matches torch.optim's as closely as a scalar loop can.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .maths import sqrt

# Grid axes, in the order of ``hyper`` and of the dataset's dimensions.
AXES = ("alpha", "beta1", "beta2", "eps")


def zero_state(option):
    """Every state starts at 0 (the default ``init``)."""
    return (0.0, 0.0, 0.0)


def sgd(theta, grad, t, hyper, state):
    r"""Plain gradient descent: :math:`θ_t = θ_{t-1} - α g_t`."""
    alpha = hyper[0]
    return theta - alpha * grad, state


def momentum(theta, grad, t, hyper, state):
    r"""Heavy ball as torch's SGD(momentum=μ): :math:`b_t = μ b_{t-1} + g_t`, :math:`θ_t = θ_{t-1} - α b_t`.

    Polyak (1964). ``state = (b, 0, 0)``; μ is the β₁ axis.
    """
    alpha, mu = hyper[0], hyper[1]
    buf = mu * state[0] + grad
    return theta - alpha * buf, (buf, 0.0, 0.0)


def nesterov(theta, grad, t, hyper, state):
    r"""Nesterov momentum as torch: :math:`θ_t = θ_{t-1} - α (g_t + μ b_t)`, b_t as momentum.

    Sutskever et al. (2013). ``state = (b, 0, 0)``; μ is the β₁ axis.
    """
    alpha, mu = hyper[0], hyper[1]
    buf = mu * state[0] + grad
    return theta - alpha * (grad + mu * buf), (buf, 0.0, 0.0)


def adagrad_init(initial_accumulator):
    """Adagrad's accumulator starts at ``initial_accumulator`` (torch's default 0)."""
    return (initial_accumulator, 0.0, 0.0)


def adagrad(theta, grad, t, hyper, state):
    r"""Adagrad: :math:`s_t = s_{t-1} + g_t^2`, :math:`θ_t = θ_{t-1} - α g_t / (\sqrt{s_t} + ε)`.

    Duchi, Hazan & Singer (2011). ``state = (s, 0, 0)``.
    """
    alpha, eps = hyper[0], hyper[3]
    accumulator = state[0] + grad * grad
    return theta - alpha * grad / (sqrt(accumulator) + eps), (accumulator, 0.0, 0.0)


def adadelta(theta, grad, t, hyper, state):
    r"""Adadelta with ρ on the β₂ axis.

    :math:`v_t = ρ v_{t-1} + (1-ρ) g_t^2`, :math:`Δ_t = \sqrt{u_{t-1}+ε}/\sqrt{v_t+ε}\, g_t`,
    :math:`u_t = ρ u_{t-1} + (1-ρ) Δ_t^2`, :math:`θ_t = θ_{t-1} - α Δ_t`.
    Zeiler (2012). ``state = (v, u, 0)``.
    """
    alpha, rho, eps = hyper[0], hyper[2], hyper[3]
    square_avg = rho * state[0] + (1.0 - rho) * (grad * grad)
    delta = sqrt(state[1] + eps) / sqrt(square_avg + eps) * grad
    delta_avg = rho * state[1] + (1.0 - rho) * (delta * delta)
    return theta - alpha * delta, (square_avg, delta_avg, 0.0)


def rmsprop(theta, grad, t, hyper, state):
    r"""RMSprop as torch: decay on the β₂ axis, momentum μ on the β₁ axis.

    :math:`v_t = β_2 v_{t-1} + (1-β_2) g_t^2`, :math:`d_t = \sqrt{v_t} + ε`
    (centered, ``option != 0``: :math:`a_t = β_2 a_{t-1} + (1-β_2) g_t`,
    :math:`d_t = \sqrt{v_t - a_t^2} + ε`); μ > 0: :math:`b_t = μ b_{t-1} + g_t/d_t`,
    :math:`θ_t = θ_{t-1} - α b_t`; μ = 0: :math:`θ_t = θ_{t-1} - α g_t/d_t`.
    Tieleman & Hinton (2012). ``state = (v, b, a)``.
    """
    alpha, mu, decay, eps, centered = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    square_avg = decay * state[0] + (1.0 - decay) * (grad * grad)
    grad_avg = state[2]
    if centered != 0.0:
        grad_avg = decay * grad_avg + (1.0 - decay) * grad
        denom = sqrt(square_avg - grad_avg * grad_avg) + eps
    else:
        denom = sqrt(square_avg) + eps
    if mu > 0.0:
        buf = mu * state[1] + grad / denom
        return theta - alpha * buf, (square_avg, buf, grad_avg)
    return theta - alpha * grad / denom, (square_avg, 0.0, grad_avg)


def adam(theta, grad, t, hyper, state):
    r"""Adam, Kingma & Ba (2015), Algorithm 1.

    :math:`m_t = β_1 m_{t-1} + (1-β_1) g_t`, :math:`v_t = β_2 v_{t-1} + (1-β_2) g_t^2`,
    :math:`θ_t = θ_{t-1} - α \hat m_t / (\sqrt{\hat v_t} + ε)` with the bias
    corrections :math:`\hat m_t = m_t/(1-β_1^t)`, :math:`\hat v_t = v_t/(1-β_2^t)`.
    ``state = (m, v, 0)``.
    """
    alpha, beta1, beta2, eps = hyper[0], hyper[1], hyper[2], hyper[3]
    m = beta1 * state[0] + (1.0 - beta1) * grad
    v = beta2 * state[1] + (1.0 - beta2) * (grad * grad)
    m_hat = m / (1.0 - hyper[5])
    v_hat = v / (1.0 - hyper[6])
    return theta - alpha * m_hat / (sqrt(v_hat) + eps), (m, v, 0.0)


def amsgrad(theta, grad, t, hyper, state):
    r"""AMSGrad, Reddi, Kale & Kumar (2018), with torch's max of the raw v.

    As :func:`adam` with :math:`\bar v_t = \max(\bar v_{t-1}, v_t)` and
    :math:`θ_t = θ_{t-1} - α \hat m_t / (\sqrt{\bar v_t/(1-β_2^t)} + ε)`.
    ``state = (m, v, v̄)``.
    """
    alpha, beta1, beta2, eps = hyper[0], hyper[1], hyper[2], hyper[3]
    m = beta1 * state[0] + (1.0 - beta1) * grad
    v = beta2 * state[1] + (1.0 - beta2) * (grad * grad)
    v_max = max(state[2], v)
    m_hat = m / (1.0 - hyper[5])
    return theta - alpha * m_hat / (sqrt(v_max / (1.0 - hyper[6])) + eps), (m, v, v_max)


def adamw(theta, grad, t, hyper, state):
    r"""AdamW, Loshchilov & Hutter (2019): :math:`θ ← θ_{t-1}(1 - αλ)`, then the :func:`adam` step.

    λ (``weight_decay``) is the option. ``state = (m, v, 0)``.
    """
    alpha, weight_decay = hyper[0], hyper[4]
    return adam(theta * (1.0 - alpha * weight_decay), grad, t, hyper, state)


def nadam_init(momentum_decay):
    """NAdam's running product of μ_i starts at 1 (the empty product)."""
    return (0.0, 0.0, 1.0)


def nadam(theta, grad, t, hyper, state):
    r"""NAdam as torch, Dozat (2016), with ψ (``momentum_decay``) the option.

    :math:`μ_t = β_1(1 - ½·0.96^{tψ})`, :math:`Π_t = \prod_{i≤t} μ_i`,
    :math:`θ_t = θ_{t-1} - α(1-μ_t)/(1-Π_t)\, g_t/(\sqrt{\hat v_t}+ε) - α μ_{t+1}/(1-Π_t μ_{t+1})\, m_t/(\sqrt{\hat v_t}+ε)`.
    ``state = (m, v, Π)``.
    """
    alpha, beta1, beta2, eps, momentum_decay = hyper[0], hyper[1], hyper[2], hyper[3], hyper[4]
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = state[2] * mu
    m = beta1 * state[0] + (1.0 - beta1) * grad
    v = beta2 * state[1] + (1.0 - beta2) * (grad * grad)
    denom = sqrt(v / (1.0 - hyper[6])) + eps
    theta = theta - alpha * (1.0 - mu) / (1.0 - mu_product) * grad / denom
    theta = theta - alpha * mu_next / (1.0 - mu_product * mu_next) * m / denom
    return theta, (m, v, mu_product)


def adamax(theta, grad, t, hyper, state):
    r"""AdaMax, Kingma & Ba (2015), section 7, as torch.

    :math:`u_t = \max(β_2 u_{t-1}, |g_t| + ε)`, :math:`θ_t = θ_{t-1} - α/(1-β_1^t)\, m_t/u_t`.
    ``state = (m, u, 0)``.
    """
    alpha, beta1, beta2, eps = hyper[0], hyper[1], hyper[2], hyper[3]
    m = beta1 * state[0] + (1.0 - beta1) * grad
    u = max(beta2 * state[1], abs(grad) + eps)
    return theta - alpha / (1.0 - hyper[5]) * m / u, (m, u, 0.0)


@dataclass(frozen=True)
class Optimizer:
    """One update rule and what it needs.

    Attributes:
        name: the name used in grid files and in the dataset's ``optimizer`` coordinate.
        update: the scalar rule ``(theta, grad, t, hyper, state) -> (theta, state)``.
        axes: the grid axes the rule reads; the others are computed once and broadcast.
        init: ``option -> state`` at t = 0.
        option: name of the rule's fixed option (``[options.NAME]`` key), or None.
        option_default: its default value.
        torch: the equivalent ``torch.optim`` call, for the documentation.
    """

    name: str
    update: Callable
    axes: tuple[str, ...]
    init: Callable = zero_state
    option: str | None = None
    option_default: float | bool = 0.0
    torch: str = ""


OPTIMIZERS: dict[str, Optimizer] = {
    o.name: o
    for o in (
        Optimizer("sgd", sgd, ("alpha",), torch="SGD(lr)"),
        Optimizer("momentum", momentum, ("alpha", "beta1"), torch="SGD(lr, momentum=μ)"),
        Optimizer("nesterov", nesterov, ("alpha", "beta1"), torch="SGD(lr, momentum=μ, nesterov=True)"),
        Optimizer("adagrad", adagrad, ("alpha", "eps"), init=adagrad_init,
                  option="initial_accumulator", option_default=0.0, torch="Adagrad(lr, eps=ε)"),
        Optimizer("adadelta", adadelta, ("alpha", "beta2", "eps"), torch="Adadelta(lr, rho=ρ, eps=ε)"),
        Optimizer("rmsprop", rmsprop, AXES, option="centered", option_default=False,
                  torch="RMSprop(lr, alpha=β₂, eps=ε, momentum=β₁)"),
        Optimizer("adam", adam, AXES, torch="Adam(lr, betas, eps)"),
        Optimizer("amsgrad", amsgrad, AXES, torch="Adam(..., amsgrad=True)"),
        Optimizer("adamw", adamw, AXES, option="weight_decay", option_default=1e-2,
                  torch="AdamW(..., weight_decay=λ)"),
        Optimizer("nadam", nadam, AXES, init=nadam_init, option="momentum_decay",
                  option_default=4e-3, torch="NAdam(..., momentum_decay=ψ)"),
        Optimizer("adamax", adamax, AXES, torch="Adamax(lr, betas, eps)"),
    )
}
