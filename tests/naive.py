"""A slow, obvious reference transcription of docs/update_rules.md.

Independent of the engine on purpose: plain Python floats, one loop per step,
one loop per coordinate, each rule written as the document states it. Only
`math` and `numpy` are imported; numpy holds the arrays and nothing else.
"""
import math

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop",
              "adam", "amsgrad", "adamw", "nadam", "adamax")

DEFAULT_OPTIONS = {
    "rmsprop": {"centered": False},
    "adamw": {"weight_decay": 1e-2},
    "nadam": {"momentum_decay": 4e-3},
    "adagrad": {"initial_accumulator": 0.0},
}


def naive_trajectory(optimizer, grad, x0, steps, alpha, beta1, beta2, eps, options=None):
    """Return an array (steps + 1, dim): row 0 is x0, row t is theta_t.

    grad(x, t) -> gradient of the objective at x for step t (t counts from 1).
    Grid axes map to each rule as in docs/update_rules.md's table.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    opts = dict(DEFAULT_OPTIONS.get(optimizer, {}))
    for key, value in (options or {}).items():
        if key not in opts:
            raise ValueError(f"{optimizer} has no option {key!r}")
        opts[key] = value

    alpha = float(alpha)
    beta1 = float(beta1)
    beta2 = float(beta2)
    eps = float(eps)
    theta = [float(v) for v in np.asarray(x0, dtype=np.float64).ravel()]
    n = len(theta)

    # Every state starts at 0 (adagrad's accumulator at its option).
    m = [0.0] * n      # first moment / momentum buffer b
    v = [0.0] * n      # second moment / square average
    a_avg = [0.0] * n  # rmsprop centered: gradient average
    u = [0.0] * n      # adadelta: delta accumulator; adamax: infinity norm
    vbar = [0.0] * n   # amsgrad: running max of v
    s = [float(opts["initial_accumulator"])] * n if optimizer == "adagrad" else [0.0] * n

    out = np.empty((steps + 1, n), dtype=np.float64)
    out[0, :] = theta

    # "How a step is computed": p1 = beta1**t and p2 = beta2**t as running products
    # (p <- p * beta each step, from 1); the step coefficients once per step, then the
    # coordinate update, each in exactly the grouping the document writes.
    p1 = 1.0
    p2 = 1.0
    mu_product = 1.0   # nadam: Pi_t, a step coefficient
    for t in range(1, steps + 1):
        g = [float(v_) for v_ in np.asarray(grad(np.array(theta, dtype=np.float64), t),
                                              dtype=np.float64).ravel()]
        p1 = p1 * beta1
        p2 = p2 * beta2
        if optimizer in ("adam", "amsgrad", "adamw", "adamax"):
            a = alpha * (1.0 / (1.0 - p1))
            c = 1.0 / math.sqrt(1.0 - p2)
        if optimizer == "adamw":
            w = 1.0 - alpha * float(opts["weight_decay"])
        if optimizer == "nadam":
            psi = float(opts["momentum_decay"])
            mu_t = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
            mu_product = mu_product * mu_t
            a = alpha * ((1.0 - mu_t) / (1.0 - mu_product))
            b = alpha * (mu_next / (1.0 - mu_product * mu_next))
            c = 1.0 / math.sqrt(1.0 - p2)

        for i in range(n):
            if optimizer == "sgd":
                theta[i] = theta[i] - alpha * g[i]

            elif optimizer == "momentum":
                mu = beta1
                m[i] = mu * m[i] + g[i]
                theta[i] = theta[i] - alpha * m[i]

            elif optimizer == "nesterov":
                mu = beta1
                m[i] = mu * m[i] + g[i]
                theta[i] = theta[i] - alpha * (g[i] + mu * m[i])

            elif optimizer == "adagrad":
                s[i] = s[i] + g[i] * g[i]
                theta[i] = theta[i] - (alpha * g[i]) / (math.sqrt(s[i]) + eps)

            elif optimizer == "adadelta":
                rho = beta2
                v[i] = rho * v[i] + (1.0 - rho) * (g[i] * g[i])
                delta = math.sqrt((u[i] + eps) / (v[i] + eps)) * g[i]
                u[i] = rho * u[i] + (1.0 - rho) * (delta * delta)
                theta[i] = theta[i] - alpha * delta

            elif optimizer == "rmsprop":
                mu = beta1
                v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
                if opts["centered"]:
                    a_avg[i] = beta2 * a_avg[i] + (1.0 - beta2) * g[i]
                    d = math.sqrt(v[i] - a_avg[i] * a_avg[i]) + eps
                else:
                    d = math.sqrt(v[i]) + eps
                if mu > 0:
                    m[i] = mu * m[i] + g[i] / d
                    theta[i] = theta[i] - alpha * m[i]
                else:
                    theta[i] = theta[i] - (alpha * g[i]) / d

            elif optimizer in ("adam", "amsgrad", "adamw"):
                if optimizer == "adamw":
                    theta[i] = theta[i] * w
                m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
                if optimizer == "amsgrad":
                    vbar[i] = max(vbar[i], v[i])
                    root = math.sqrt(vbar[i])
                else:
                    root = math.sqrt(v[i])
                theta[i] = theta[i] - a * (m[i] / (root * c + eps))

            elif optimizer == "nadam":
                m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
                theta[i] = theta[i] - (a * g[i] + b * m[i]) / (math.sqrt(v[i]) * c + eps)

            elif optimizer == "adamax":
                m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
                u[i] = max(beta2 * u[i], abs(g[i]) + eps)
                theta[i] = theta[i] - a * (m[i] / u[i])

        out[t, :] = theta
    return out


# --- Objectives, straight from the table -------------------------------------

def _rosenbrock_f(x):
    x0, x1 = float(x[0]), float(x[1])
    return (1.0 - x0) ** 2 + 100.0 * (x1 - x0 ** 2) ** 2


def _rosenbrock_g(x, t=None):
    x0, x1 = float(x[0]), float(x[1])
    return np.array([-2.0 * (1.0 - x0) - 400.0 * x0 * (x1 - x0 ** 2),
                     200.0 * (x1 - x0 ** 2)])


def _beale_f(x):
    x0, x1 = float(x[0]), float(x[1])
    return ((1.5 - x0 + x0 * x1) ** 2 + (2.25 - x0 + x0 * x1 ** 2) ** 2
            + (2.625 - x0 + x0 * x1 ** 3) ** 2)


def _beale_g(x, t=None):
    x0, x1 = float(x[0]), float(x[1])
    a = 1.5 - x0 + x0 * x1
    b = 2.25 - x0 + x0 * x1 ** 2
    c = 2.625 - x0 + x0 * x1 ** 3
    return np.array([2.0 * a * (x1 - 1.0) + 2.0 * b * (x1 ** 2 - 1.0) + 2.0 * c * (x1 ** 3 - 1.0),
                     2.0 * a * x0 + 2.0 * b * 2.0 * x0 * x1 + 2.0 * c * 3.0 * x0 * x1 ** 2])


def _booth_f(x):
    x0, x1 = float(x[0]), float(x[1])
    return (x0 + 2.0 * x1 - 7.0) ** 2 + (2.0 * x0 + x1 - 5.0) ** 2


def _booth_g(x, t=None):
    x0, x1 = float(x[0]), float(x[1])
    p = x0 + 2.0 * x1 - 7.0
    q = 2.0 * x0 + x1 - 5.0
    return np.array([2.0 * p + 4.0 * q, 4.0 * p + 2.0 * q])


def quadratic_eigenvalues(dim=2, kappa=10.0):
    """lambda_i log-spaced from 1 to kappa."""
    return np.logspace(0.0, math.log10(kappa), dim)


def make_quadratic(dim=2, kappa=10.0):
    lam = [float(v) for v in quadratic_eigenvalues(dim, kappa)]

    def f(x):
        total = 0.0
        for i in range(dim):
            total += lam[i] * float(x[i]) ** 2
        return 0.5 * total

    def g(x, t=None):
        return np.array([lam[i] * float(x[i]) for i in range(dim)])

    return f, g


naive_objectives = {
    "rosenbrock": (_rosenbrock_f, _rosenbrock_g),
    "beale": (_beale_f, _beale_g),
    "booth": (_booth_f, _booth_g),
    "quadratic": make_quadratic(2, 10.0),
}
