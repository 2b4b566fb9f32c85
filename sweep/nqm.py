"""The noisy quadratic model's expected loss in closed form (Zhang et al. 2019).

The built-in objective ``nqm`` (:mod:`sweep.kernels.objectives`) is
f(θ) = ½ Σᵢ hᵢ θᵢ², hᵢ = 1/i for i = 1 … dim, whose minibatch gradient of B examples is
gᵢ = hᵢ θᵢ + √(hᵢ/B)·zᵢ (zᵢ standard normal, drawn afresh at every step). For a rule
that is linear in θ and g, the second moments of each coordinate follow a linear
recursion, so E[f(θ_t)] = ½ Σᵢ hᵢ E[θᵢ,t²] needs no sampling:

* SGD, θ ← θ − α g: sᵢ ← (1 − αhᵢ)² sᵢ + α² hᵢ/B, with sᵢ = E[θᵢ²];
* heavy-ball momentum as torch (``momentum``: v ← μ v + g, θ ← θ − α v): with
  a = 1 − αhᵢ and nᵢ = hᵢ/B, the moments (s, c, w) = (E[θ²], E[θv], E[v²]) step as

  s ← a² s − 2aαμ c + α²μ² w + α² n,
  c ← a h s + μ(a − αh) c − αμ² w − α n,
  w ← h² s + 2hμ c + μ² w + n,

  from v₀ = 0 (SGD is μ = 0).

Adam and the other adaptive rules are not linear in g: their curves come from the
engine's runs (the mean over seeds), not from here.
"""
from __future__ import annotations

import numpy as np

from sweep.kernels.objectives import nqm_curvatures, nqm_start

# The rules with a closed form here.
CLOSED_FORMS = ("sgd", "momentum")


def expected_loss(optimizer: str, *, alpha, batch_size, dim: int, steps: int, beta1=0.9,
                  start=None) -> np.ndarray:
    """E[f(θ_t)] for t = 0 … ``steps`` of ``optimizer`` on the noisy quadratic model.

    Args:
        optimizer: ``"sgd"`` or ``"momentum"`` (the engine's rules of those names, without a
            schedule or warm-up).
        alpha: the step size α; an array broadcasts with ``batch_size`` and ``beta1``.
        batch_size: B, examples per step (≥ 1), array-like.
        dim: the model's number of coordinates (hᵢ = 1/i, i = 1 … dim).
        steps: the number of steps.
        beta1: momentum's μ (ignored by ``sgd``), array-like.
        start: θ₀, (dim,) or one number for every coordinate; default the objective's
            customary start (:func:`sweep.kernels.objectives.nqm_start`). For a random θ₀
            (the paper's N(0, I)) give √E[θ₀ᵢ²] (1): the curve depends on θ₀'s second
            moments alone.

    Returns:
        ``(*S, steps + 1)`` float64, ``S`` the broadcast shape of the array arguments: the
        expected noise-free loss at θ_t (what the engine's ``loss`` records, in the mean
        over seeds). Infinite or NaN where the run diverges in expectation.
    """
    if optimizer not in CLOSED_FORMS:
        raise ValueError(f"no closed form for {optimizer!r}: only {', '.join(CLOSED_FORMS)}")
    if optimizer == "sgd":
        beta1 = 0.0
    alpha, batch_size, beta1 = np.broadcast_arrays(
        *(np.asarray(value, dtype=np.float64) for value in (alpha, batch_size, beta1)))
    if np.any(batch_size < 1):
        raise ValueError("batch_size must be >= 1")
    h = nqm_curvatures(dim)
    start = np.asarray(nqm_start(dim) if start is None else start, dtype=np.float64)
    # Every array (*S, dim): the cells' hyperparameters against the coordinates.
    alpha, mu, noise = alpha[..., None], beta1[..., None], h / batch_size[..., None]
    a = 1.0 - alpha * h
    s = np.broadcast_to(start * start, np.broadcast_shapes(a.shape, mu.shape)).copy()
    c, w = np.zeros_like(s), np.zeros_like(s)
    curve = np.empty(s.shape[:-1] + (steps + 1,))
    curve[..., 0] = 0.5 * (s @ h)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            s, c, w = (a * a * s - 2.0 * a * alpha * mu * c + (alpha * mu) ** 2 * w
                       + alpha * alpha * noise,
                       a * h * s + mu * (a - alpha * h) * c - alpha * mu * mu * w - alpha * noise,
                       h * h * s + 2.0 * h * mu * c + mu * mu * w + noise)
            curve[..., t] = 0.5 * (s @ h)
    return curve


def steps_to_target(curve: np.ndarray, target: float) -> np.ndarray:
    """The first t with ``curve[..., t]`` ≤ ``target`` (float, NaN where never): the
    engine's ``steps_to_tol`` of an expected-loss curve (f* = 0, tol = target)."""
    below = curve <= target
    first = np.argmax(below, axis=-1).astype(np.float64)
    return np.where(below.any(axis=-1), first, np.nan)
