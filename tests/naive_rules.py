"""A slow, obvious reference transcription of every update rule (docs/update_rules.md).

The eleven original rules (sgd … adamax) follow ``torch.optim`` as the table of
docs/update_rules.md maps them; radam and rprop follow ``torch.optim.RAdam`` /
``torch.optim.Rprop`` (single-tensor path, no weight decay); lion, adabelief, yogi,
adan and signum follow optax's functions of those names; schedule_free_adamw and
schedule_free_sgd follow ``optax.contrib.schedule_free_adamw`` / ``schedule_free_sgd``,
and their reported point is the one ``optax.contrib.schedule_free_eval_params`` returns.

Independent of the engine on purpose: plain Python floats, one loop per step, one
loop per coordinate, ``math`` only (numpy holds the arrays and nothing else). Every
conversion to a number goes through this module's ``float`` (tests/test_float32.py
replaces it with numpy.float32 to run every step in float32). Each rule is written in
two parts, as docs/update_rules.md pins them:

* **step coefficients**: everything that depends only on the hyperparameters and
  t (bias corrections, RAdam's rectification, Schedule-Free's averaging weight),
  computed once per step; each is marked with whether α enters it;
* **the coordinate update**: per coordinate, with the fewest divisions and roots,
  in exactly the grouping written (the grouping fixes the rounding; a compiled rule
  must evaluate the same operations in the same order to get the same bits).

α is taken constant here (the engine's schedule s(t) = 1); every place where the
engine's α_t = α·s(t) enters is marked ``# alpha_t``. Running powers p ← p·β start
at 1 and are advanced once per step.

The objectives the tests run these rules on are in tests/naive.py.
"""
import math

import numpy as np

INF = math.inf

# --- The specification: plain data --------------------------------------------------
#
# Per rule: the reference library and call, the paper, and each hyperparameter as
#   name: (default, valid range as an interval, the reference's argument name),
# in the order of the engine's columns (alpha first). Intervals are "[lo, hi)"-style
# strings ("inf" is infinity); a flag's is the set "{0, 1}". `weight_decay` is always
# decoupled: a step of α_t·λ·θ applied where the reference applies it.
#
# Defaults: the eleven rules marked "original" keep the engine's historical defaults
# (α 1e-3, β₁ 0.9, β₂ 0.999, ε 1e-8), which differ from torch's for a few (Adagrad's
# and RMSprop's lr, Adadelta's lr and rho, RMSprop's momentum and alpha); the others
# take their reference's default, None where it has none (optax's learning_rate is
# required). The original rules are recorded in tests/fixtures/torch_trajectories.json,
# the others in tests/fixtures/reference_trajectories.json.

FLAG = "{0, 1}"

RULES = {
    "sgd": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.SGD(params, lr)",
        "paper": "Robbins & Monro 1951, A Stochastic Approximation Method",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
        },
    },
    "momentum": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.SGD(params, lr, momentum=beta1)",
        "paper": "Polyak 1964, Some Methods of Speeding up the Convergence of Iteration "
                 "Methods",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "momentum"),
        },
    },
    "nesterov": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.SGD(params, lr, momentum=beta1, nesterov=True)",
        "paper": "Sutskever, Martens, Dahl & Hinton 2013, On the Importance of "
                 "Initialization and Momentum in Deep Learning",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "momentum"),
        },
    },
    "adagrad": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.Adagrad(params, lr, eps=eps, "
                     "initial_accumulator_value=initial_accumulator)",
        "paper": "Duchi, Hazan & Singer 2011, Adaptive Subgradient Methods for Online "
                 "Learning and Stochastic Optimization",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "eps": (1e-8, "[0, inf)", "eps"),
            "initial_accumulator": (0.0, "[0, inf)", "initial_accumulator_value"),
        },
    },
    "adadelta": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.Adadelta(params, lr, rho=beta2, eps=eps)",
        "paper": "Zeiler 2012, ADADELTA: An Adaptive Learning Rate Method",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta2": (0.999, "[0, 1)", "rho"),
            "eps": (1e-8, "[0, inf)", "eps"),
        },
    },
    "rmsprop": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.RMSprop(params, lr, alpha=beta2, eps=eps, momentum=beta1, "
                     "centered=centered)",
        "paper": "Tieleman & Hinton 2012, Lecture 6.5, rmsprop: Divide the Gradient by a "
                 "Running Average of its Recent Magnitude",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "momentum"),
            "beta2": (0.999, "[0, 1)", "alpha"),
            "eps": (1e-8, "[0, inf)", "eps"),
            "centered": (False, FLAG, "centered"),
        },
    },
    "adam": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.Adam(params, lr, betas=(beta1, beta2), eps=eps)",
        "paper": "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "betas[0]"),
            "beta2": (0.999, "[0, 1)", "betas[1]"),
            "eps": (1e-8, "[0, inf)", "eps"),
        },
    },
    "amsgrad": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.Adam(params, lr, betas=(beta1, beta2), eps=eps, "
                     "amsgrad=True)",
        "paper": "Reddi, Kale & Kumar 2018, On the Convergence of Adam and Beyond",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "betas[0]"),
            "beta2": (0.999, "[0, 1)", "betas[1]"),
            "eps": (1e-8, "[0, inf)", "eps"),
        },
    },
    "adamw": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.AdamW(params, lr, betas=(beta1, beta2), eps=eps, "
                     "weight_decay=weight_decay)",
        "paper": "Loshchilov & Hutter 2019, Decoupled Weight Decay Regularization",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "betas[0]"),
            "beta2": (0.999, "[0, 1)", "betas[1]"),
            "eps": (1e-8, "[0, inf)", "eps"),
            "weight_decay": (1e-2, "[0, inf)", "weight_decay"),
        },
    },
    "nadam": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.NAdam(params, lr, betas=(beta1, beta2), eps=eps, "
                     "momentum_decay=momentum_decay)",
        "paper": "Dozat 2016, Incorporating Nesterov Momentum into Adam",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "betas[0]"),
            "beta2": (0.999, "[0, 1)", "betas[1]"),
            "eps": (1e-8, "[0, inf)", "eps"),
            "momentum_decay": (4e-3, "[0, inf)", "momentum_decay"),
        },
    },
    "adamax": {
        "library": "torch",
        "original": True,
        "reference": "torch.optim.Adamax(params, lr, betas=(beta1, beta2), eps=eps)",
        "paper": "Kingma & Ba 2015, Adam: A Method for Stochastic Optimization "
                 "(section 7, AdaMax)",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "betas[0]"),
            "beta2": (0.999, "[0, 1)", "betas[1]"),
            "eps": (1e-8, "[0, inf)", "eps"),
        },
    },
    "radam": {
        "library": "torch",
        "reference": "torch.optim.RAdam(params, lr, betas=(beta1, beta2), eps)",
        "paper": "Liu et al. 2020, On the Variance of the Adaptive Learning Rate and Beyond",
        "hyperparameters": {
            "alpha": (1e-3, "(0, inf)", "lr"),
            "beta1": (0.9, "[0, 1)", "betas[0]"),
            "beta2": (0.999, "[0, 1)", "betas[1]"),
            "eps": (1e-8, "[0, inf)", "eps"),
        },
    },
    "rprop": {
        "library": "torch",
        "reference": "torch.optim.Rprop(params, lr, etas=(eta_minus, eta_plus), "
                     "step_sizes=(step_min, step_max))",
        "paper": "Riedmiller & Braun 1993, A Direct Adaptive Method for Faster "
                 "Backpropagation Learning: The RPROP Algorithm",
        "hyperparameters": {
            "alpha": (1e-2, "(0, inf)", "lr"),
            "eta_minus": (0.5, "(0, 1)", "etas[0]"),
            "eta_plus": (1.2, "(1, inf)", "etas[1]"),
            "step_min": (1e-6, "[0, inf)", "step_sizes[0]"),
            "step_max": (50.0, "(0, inf)", "step_sizes[1]"),
        },
    },
    "lion": {
        "library": "optax",
        "reference": "optax.lion(learning_rate, b1, b2, weight_decay=weight_decay)",
        "paper": "Chen et al. 2023, Symbolic Discovery of Optimization Algorithms",
        "hyperparameters": {
            "alpha": (None, "(0, inf)", "learning_rate"),
            "beta1": (0.9, "[0, 1]", "b1"),
            "beta2": (0.99, "[0, 1)", "b2"),
            "weight_decay": (1e-3, "[0, inf)", "weight_decay"),
        },
    },
    "adabelief": {
        "library": "optax",
        "reference": "optax.adabelief(learning_rate, b1, b2, eps, eps_root)",
        "paper": "Zhuang et al. 2020, AdaBelief Optimizer: Adapting Stepsizes by the "
                 "Belief in Observed Gradients",
        "hyperparameters": {
            "alpha": (None, "(0, inf)", "learning_rate"),
            "beta1": (0.9, "[0, 1)", "b1"),
            "beta2": (0.999, "[0, 1)", "b2"),
            "eps": (1e-16, "[0, inf)", "eps"),
            "eps_root": (1e-16, "[0, inf)", "eps_root"),
        },
    },
    "yogi": {
        "library": "optax",
        "reference": "optax.yogi(learning_rate, b1, b2, eps); initial_accumulator is "
                     "optax.scale_by_yogi's initial_accumulator_value",
        "paper": "Zaheer et al. 2018, Adaptive Methods for Nonconvex Optimization",
        "hyperparameters": {
            "alpha": (None, "(0, inf)", "learning_rate"),
            "beta1": (0.9, "[0, 1)", "b1"),
            "beta2": (0.999, "[0, 1)", "b2"),
            "eps": (1e-3, "[0, inf)", "eps"),
            "initial_accumulator": (1e-6, "[0, inf)", "initial_accumulator_value"),
        },
    },
    "adan": {
        "library": "optax",
        "reference": "optax.adan(learning_rate, b1, b2, b3, eps, eps_root, weight_decay)",
        "paper": "Xie et al. 2022, Adan: Adaptive Nesterov Momentum Algorithm for "
                 "Faster Optimizing Deep Models",
        "hyperparameters": {
            "alpha": (None, "(0, inf)", "learning_rate"),
            "beta1": (0.98, "[0, 1)", "b1"),
            "beta2": (0.92, "[0, 1)", "b2"),
            "beta3": (0.99, "[0, 1)", "b3"),
            "eps": (1e-8, "[0, inf)", "eps"),
            "eps_root": (1e-8, "[0, inf)", "eps_root"),
            "weight_decay": (0.0, "[0, inf)", "weight_decay"),
        },
    },
    "signum": {
        "library": "optax",
        "reference": "optax.signum(learning_rate, beta)",
        "paper": "Bernstein et al. 2018, signSGD: Compressed Optimisation for "
                 "Non-Convex Problems",
        "hyperparameters": {
            "alpha": (None, "(0, inf)", "learning_rate"),
            "beta1": (0.9, "[0, 1)", "beta"),
        },
    },
    "schedule_free_adamw": {
        "library": "optax",
        "reference": "optax.contrib.schedule_free_adamw(learning_rate, b1=beta1, b2=beta2, "
                     "eps, weight_decay, weight_lr_power); reported point: "
                     "optax.contrib.schedule_free_eval_params",
        "paper": "Defazio et al. 2024, The Road Less Scheduled",
        "hyperparameters": {
            "alpha": (0.0025, "(0, inf)", "learning_rate"),
            "beta1": (0.9, "(0, 1]", "b1"),
            "beta2": (0.999, "[0, 1)", "b2"),
            "eps": (1e-8, "[0, inf)", "eps"),
            "weight_decay": (0.0, "[0, inf)", "weight_decay"),
            "weight_lr_power": (2.0, "[0, inf)", "weight_lr_power"),
        },
    },
    "schedule_free_sgd": {
        "library": "optax",
        "reference": "optax.contrib.schedule_free_sgd(learning_rate, b1=beta1, "
                     "weight_decay, weight_lr_power); reported point: "
                     "optax.contrib.schedule_free_eval_params",
        "paper": "Defazio et al. 2024, The Road Less Scheduled",
        "hyperparameters": {
            "alpha": (1.0, "(0, inf)", "learning_rate"),
            "beta1": (0.9, "(0, 1]", "b1"),
            "weight_decay": (0.0, "[0, inf)", "weight_decay (None = 0)"),
            "weight_lr_power": (2.0, "[0, inf)", "weight_lr_power"),
        },
    },
}

OPTIMIZERS = tuple(RULES)
# The eleven the engine started with (torch_trajectories.json), and the rules added since
# (reference_trajectories.json).
ORIGINAL_RULES = tuple(name for name, rule in RULES.items() if rule.get("original", False))
ADDED_RULES = tuple(name for name in RULES if name not in ORIGINAL_RULES)
SCHEDULE_FREE = ("schedule_free_adamw", "schedule_free_sgd")
# The axes every engine grid has (sweep.trajectory takes all four); a rule reads those
# its hyperparameters name and ignores the others.
GRID_AXES = ("alpha", "beta1", "beta2", "eps")


def defaults(optimizer):
    """The rule's defaults, {name: default} (None where the reference has none; the
    original rules' are the engine's historical ones)."""
    return {name: spec[0] for name, spec in RULES[optimizer]["hyperparameters"].items()}


def in_range(value, interval):
    """Whether value lies in an interval written "[lo, hi)", "(0, inf)", ... or is one of
    a set written "{0, 1}" (a flag)."""
    if interval.startswith("{"):
        return any(value == float(item) for item in interval[1:-1].split(","))
    lo_text, hi_text = interval[1:-1].split(",")
    lo, hi = float(lo_text), float(hi_text)
    above = value >= lo if interval[0] == "[" else value > lo
    below = value <= hi if interval[-1] == "]" else value < hi
    return math.isfinite(value) and above and below


def hyperparameters(optimizer, **given):
    """The full hyperparameter dict: the given values, the defaults filled in, checked."""
    if optimizer not in RULES:
        raise ValueError(f"unknown optimizer {optimizer!r}")
    spec = RULES[optimizer]["hyperparameters"]
    unknown = set(given) - set(spec)
    if unknown:
        raise ValueError(f"{optimizer} has no hyperparameter {sorted(unknown)}")
    out = {}
    for name, (default, interval, _) in spec.items():
        value = given.get(name, default)
        if value is None:
            raise ValueError(f"{optimizer}: {name} has no default; give it")
        value = float(value)
        if not in_range(value, interval):
            raise ValueError(f"{optimizer}: {name} = {value} outside {interval}")
        out[name] = value
    if optimizer == "rprop" and out["step_min"] > out["step_max"]:
        raise ValueError("rprop: step_min > step_max")
    return out


def hyperparameters_at(optimizer, axes, options=None):
    """What a rule reads at a point of an engine grid, by the names of ``RULES``.

    ``axes`` maps the grid's axes (``GRID_AXES``) to values; other keys are ignored, so
    a recorded case will do. Of the axes, only those the rule names are kept (sgd reads
    α alone). ``options`` are the rule's other hyperparameters, passed on as they are
    (a name the rule does not have is an error in :func:`hyperparameters`).
    """
    names = RULES[optimizer]["hyperparameters"]
    read = {name: axes[name] for name in GRID_AXES if name in names and name in axes}
    return {**read, **(options or {})}


def sign(x):
    """-1, 0 or 1 as torch.sign / jnp.sign (0 stays 0; NaN stays NaN)."""
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return x


# --- The driver -------------------------------------------------------------------------

def naive_run(optimizer, grad, x0, steps, **given):
    """Run one rule; return (trajectory, eval_trajectory), each an array (steps + 1, dim).

    ``trajectory[t]`` is θ_t, the iterate where step t + 1 takes its gradient
    (row 0 is x0). ``eval_trajectory[t]`` is the point the rule reports: θ_t itself,
    except for the schedule-free rules, where it is the average x_t (what
    ``optax.contrib.schedule_free_eval_params`` returns) while θ_t is the
    interpolation y_t where the gradient is taken.

    grad(x, t) -> the gradient at x for step t (t counts from 1). Hyperparameters go
    by the names of ``RULES``; missing ones take its default.
    """
    hp = hyperparameters(optimizer, **given)
    theta = [float(v) for v in np.asarray(x0, dtype=np.float64).ravel()]
    rule = _RUNNERS[optimizer]
    out = np.empty((steps + 1, len(theta)), dtype=np.float64)
    out_eval = np.empty_like(out)
    out[0, :] = theta
    out_eval[0, :] = theta
    step = rule(theta, hp)   # a closure over the rule's state: step(t, g) -> reported
    for t in range(1, steps + 1):
        g = [float(v) for v in np.asarray(grad(np.array(theta, dtype=np.float64), t),
                                          dtype=np.float64).ravel()]
        reported = step(t, g)          # updates theta in place
        out[t, :] = theta
        out_eval[t, :] = reported
    return out, out_eval


def naive_trajectory(optimizer, grad, x0, steps, **hyperparameters):
    """θ_t for t = 0 … steps, an array (steps + 1, dim): where each gradient is taken.

    See :func:`naive_run`; for every rule but the schedule-free ones this is also the
    reported point.
    """
    return naive_run(optimizer, grad, x0, steps, **hyperparameters)[0]


def naive_eval_trajectory(optimizer, grad, x0, steps, **hyperparameters):
    """The reported point for t = 0 … steps (schedule-free: the average x_t)."""
    return naive_run(optimizer, grad, x0, steps, **hyperparameters)[1]


# --- The rules --------------------------------------------------------------------------
#
# Each factory takes θ (a list it updates in place) and the full hyperparameter dict,
# sets up the per-coordinate state, and returns step(t, g), called once per step:
# step coefficients first, then one loop over the coordinates.

# The eleven original rules (torch.optim, the engine's first table).

def _sgd(theta, hp):
    """SGD as torch.optim.SGD (Robbins & Monro 1951).

    No state, no step coefficients. Coordinate (0 ÷, 0 √): θ ← θ − α_t·g.
    """
    alpha = hp["alpha"]
    n = len(theta)

    def step(t, g):
        for i in range(n):
            theta[i] = theta[i] - alpha * g[i]                  # alpha_t
        return list(theta)

    return step


def _momentum(theta, hp):
    """Heavy ball as torch.optim.SGD(momentum=μ) (Polyak 1964); μ is beta1.

    State per coordinate: the buffer b = 0. No step coefficients.
    Coordinate (0 ÷, 0 √): b ← μ·b + g; θ ← θ − α_t·b.
    """
    alpha, mu = hp["alpha"], hp["beta1"]
    n = len(theta)
    buffer = [0.0] * n

    def step(t, g):
        for i in range(n):
            buffer[i] = mu * buffer[i] + g[i]
            theta[i] = theta[i] - alpha * buffer[i]             # alpha_t
        return list(theta)

    return step


def _nesterov(theta, hp):
    """Nesterov momentum as torch.optim.SGD(momentum=μ, nesterov=True) (Sutskever et al.
    2013); μ is beta1.

    State per coordinate: the buffer b = 0. No step coefficients.
    Coordinate (0 ÷, 0 √): b ← μ·b + g; θ ← θ − α_t·(g + μ·b) (the new b).
    """
    alpha, mu = hp["alpha"], hp["beta1"]
    n = len(theta)
    buffer = [0.0] * n

    def step(t, g):
        for i in range(n):
            buffer[i] = mu * buffer[i] + g[i]
            theta[i] = theta[i] - alpha * (g[i] + mu * buffer[i])   # alpha_t
        return list(theta)

    return step


def _adagrad(theta, hp):
    """Adagrad as torch.optim.Adagrad (Duchi, Hazan & Singer 2011).

    State per coordinate: the sum s = initial_accumulator. No step coefficients.
    Coordinate (1 ÷, 1 √): s ← s + g·g; θ ← θ − (α_t·g)/(√s + ε).
    """
    alpha, eps = hp["alpha"], hp["eps"]
    n = len(theta)
    total = [hp["initial_accumulator"]] * n

    def step(t, g):
        for i in range(n):
            total[i] = total[i] + g[i] * g[i]
            theta[i] = theta[i] - (alpha * g[i]) / (math.sqrt(total[i]) + eps)   # alpha_t
        return list(theta)

    return step


def _adadelta(theta, hp):
    """Adadelta as torch.optim.Adadelta (Zeiler 2012); ρ is beta2.

    State per coordinate: v = 0 (the square average), u = 0 (the delta average). No
    step coefficients. Coordinate (1 ÷, 1 √): v ← ρ·v + (1−ρ)·(g·g);
    Δ = √((u + ε)/(v + ε))·g; u ← ρ·u + (1−ρ)·(Δ·Δ); θ ← θ − α_t·Δ.
    """
    alpha, rho, eps = hp["alpha"], hp["beta2"], hp["eps"]
    n = len(theta)
    square_avg = [0.0] * n
    delta_avg = [0.0] * n

    def step(t, g):
        for i in range(n):
            square_avg[i] = rho * square_avg[i] + (1.0 - rho) * (g[i] * g[i])
            delta = math.sqrt((delta_avg[i] + eps) / (square_avg[i] + eps)) * g[i]
            delta_avg[i] = rho * delta_avg[i] + (1.0 - rho) * (delta * delta)
            theta[i] = theta[i] - alpha * delta                 # alpha_t
        return list(theta)

    return step


def _rmsprop(theta, hp):
    """RMSprop as torch.optim.RMSprop (Tieleman & Hinton 2012): decay beta2 (torch's
    alpha), momentum μ = beta1.

    State per coordinate: v = 0, the buffer b = 0, the gradient average a = 0 (used
    when centered). No step coefficients. Coordinate (1 ÷, 1 √):
    v ← β₂·v + (1−β₂)·(g·g); d = √v + ε (centered: a ← β₂·a + (1−β₂)·g,
    d = √(v − a·a) + ε); μ > 0: b ← μ·b + g/d, θ ← θ − α_t·b;
    μ = 0: θ ← θ − (α_t·g)/d (torch keeps no buffer then).
    """
    alpha, mu, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    centered = hp["centered"]
    n = len(theta)
    square_avg = [0.0] * n
    buffer = [0.0] * n
    grad_avg = [0.0] * n

    def step(t, g):
        for i in range(n):
            square_avg[i] = beta2 * square_avg[i] + (1.0 - beta2) * (g[i] * g[i])
            if centered:
                grad_avg[i] = beta2 * grad_avg[i] + (1.0 - beta2) * g[i]
                denom = math.sqrt(square_avg[i] - grad_avg[i] * grad_avg[i]) + eps
            else:
                denom = math.sqrt(square_avg[i]) + eps
            if mu > 0:
                buffer[i] = mu * buffer[i] + g[i] / denom
                theta[i] = theta[i] - alpha * buffer[i]         # alpha_t
            else:
                theta[i] = theta[i] - (alpha * g[i]) / denom    # alpha_t
        return list(theta)

    return step


def _adam(theta, hp):
    """Adam as torch.optim.Adam (Kingma & Ba 2015, Algorithm 1), in the pinned grouping.

    State per coordinate: m = 0, v = 0. Step coefficients: a = α_t·(1/(1 − p₁)) (α),
    c = 1/√(1 − p₂) (β₂, t only). Coordinate (1 ÷, 1 √): m ← β₁·m + (1−β₁)·g;
    v ← β₂·v + (1−β₂)·(g·g); θ ← θ − a·(m/(√v·c + ε)) (√v̂ = √v·c and α·m̂ = a·m).
    """
    alpha, beta1, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    n = len(theta)
    m = [0.0] * n
    v = [0.0] * n
    powers = [1.0, 1.0]

    def step(t, g):
        powers[0] = powers[0] * beta1
        powers[1] = powers[1] * beta2
        a = alpha * (1.0 / (1.0 - powers[0]))                   # alpha_t
        c = 1.0 / math.sqrt(1.0 - powers[1])
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
            theta[i] = theta[i] - a * (m[i] / (math.sqrt(v[i]) * c + eps))
        return list(theta)

    return step


def _amsgrad(theta, hp):
    """AMSGrad as torch.optim.Adam(amsgrad=True) (Reddi, Kale & Kumar 2018): the running
    maximum of the raw v (torch's), not of the bias-corrected one.

    State per coordinate: m = 0, v = 0, v̄ = 0. Step coefficients as adam's.
    Coordinate (1 ÷, 1 √): m, v as adam; v̄ ← max(v̄, v); θ ← θ − a·(m/(√v̄·c + ε)).
    """
    alpha, beta1, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    n = len(theta)
    m = [0.0] * n
    v = [0.0] * n
    v_max = [0.0] * n
    powers = [1.0, 1.0]

    def step(t, g):
        powers[0] = powers[0] * beta1
        powers[1] = powers[1] * beta2
        a = alpha * (1.0 / (1.0 - powers[0]))                   # alpha_t
        c = 1.0 / math.sqrt(1.0 - powers[1])
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
            v_max[i] = max(v_max[i], v[i])
            theta[i] = theta[i] - a * (m[i] / (math.sqrt(v_max[i]) * c + eps))
        return list(theta)

    return step


def _adamw(theta, hp):
    """AdamW as torch.optim.AdamW (Loshchilov & Hutter 2019).

    State per coordinate: m = 0, v = 0. Step coefficients as adam's, and
    w = 1 − α_t·λ (α). Coordinate (1 ÷, 1 √): θ ← θ·w, then adam's update from that θ
    (the decay uses θ before the step, as torch).
    """
    alpha, beta1, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    weight_decay = hp["weight_decay"]
    n = len(theta)
    m = [0.0] * n
    v = [0.0] * n
    powers = [1.0, 1.0]

    def step(t, g):
        powers[0] = powers[0] * beta1
        powers[1] = powers[1] * beta2
        a = alpha * (1.0 / (1.0 - powers[0]))                   # alpha_t
        c = 1.0 / math.sqrt(1.0 - powers[1])
        w = 1.0 - alpha * weight_decay                          # alpha_t
        for i in range(n):
            theta[i] = theta[i] * w
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
            theta[i] = theta[i] - a * (m[i] / (math.sqrt(v[i]) * c + eps))
        return list(theta)

    return step


def _nadam(theta, hp):
    """NAdam as torch.optim.NAdam (Dozat 2016), its two divisions by one denominator
    merged; ψ is momentum_decay.

    State per coordinate: m = 0, v = 0. Step coefficients (β₁, β₂, ψ, t; α by one
    multiplication): μ_t = β₁·(1 − ½·0.96^{t·ψ}), μ_{t+1} likewise, Π_t = Π_{t−1}·μ_t
    (Π₀ = 1: a step coefficient, not per-coordinate state), a = α_t·((1 − μ_t)/(1 − Π_t)),
    b = α_t·(μ_{t+1}/(1 − Π_t·μ_{t+1})), c = 1/√(1 − p₂).
    Coordinate (1 ÷, 1 √): m, v as adam; θ ← θ − (a·g + b·m)/(√v·c + ε).
    """
    alpha, beta1, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    psi = hp["momentum_decay"]
    n = len(theta)
    m = [0.0] * n
    v = [0.0] * n
    scalars = {"p2": 1.0, "mu_product": 1.0}

    def step(t, g):
        scalars["p2"] = scalars["p2"] * beta2
        mu_t = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        scalars["mu_product"] = scalars["mu_product"] * mu_t
        mu_product = scalars["mu_product"]
        a = alpha * ((1.0 - mu_t) / (1.0 - mu_product))                 # alpha_t
        b = alpha * (mu_next / (1.0 - mu_product * mu_next))            # alpha_t
        c = 1.0 / math.sqrt(1.0 - scalars["p2"])
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
            theta[i] = theta[i] - (a * g[i] + b * m[i]) / (math.sqrt(v[i]) * c + eps)
        return list(theta)

    return step


def _adamax(theta, hp):
    """AdaMax as torch.optim.Adamax (Kingma & Ba 2015, section 7).

    State per coordinate: m = 0, the infinity norm u = 0. Step coefficient:
    a = α_t·(1/(1 − p₁)) (α; u needs no bias correction).
    Coordinate (1 ÷, 0 √): m as adam; u ← max(β₂·u, |g| + ε); θ ← θ − a·(m/u).
    """
    alpha, beta1, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    n = len(theta)
    m = [0.0] * n
    norm = [0.0] * n
    powers = [1.0]

    def step(t, g):
        powers[0] = powers[0] * beta1
        a = alpha * (1.0 / (1.0 - powers[0]))                   # alpha_t
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            norm[i] = max(beta2 * norm[i], abs(g[i]) + eps)
            theta[i] = theta[i] - a * (m[i] / norm[i])
        return list(theta)

    return step


# The rules added from torch.optim and optax.

def _radam(theta, hp):
    """RAdam as torch.optim.RAdam (Liu et al. 2020).

    State per coordinate: m = 0, v = 0. Step coefficients (β₁, β₂, t; α by one
    multiplication): p₁ = β₁ᵗ, p₂ = β₂ᵗ (running products), ρ∞ = 2/(1 − β₂) − 1,
    ρ_t = ρ∞ − ((2t)·p₂)/(1 − p₂); rectified iff ρ_t > 5, then
    r_t = √(((ρ_t − 4)·(ρ_t − 2)·ρ∞)/((ρ∞ − 4)·(ρ∞ − 2)·ρ_t)) and
    a = α_t·(r_t·(√(1 − p₂)/(1 − p₁))); else a = α_t·(1/(1 − p₁)).
    Coordinate: m ← β₁·m + (1−β₁)·g; v ← β₂·v + (1−β₂)·(g·g);
    rectified: θ ← θ − a·(m/(√v + ε)) (1 ÷, 1 √); else θ ← θ − a·m.
    torch adds ε to √v before the bias correction √(1 − β₂ᵗ) multiplies the
    quotient, so ε is not scaled by the correction here (unlike adam's).
    """
    alpha, beta1, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    n = len(theta)
    m = [0.0] * n
    v = [0.0] * n
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    powers = [1.0, 1.0]

    def step(t, g):
        # step coefficients: no alpha except in a
        powers[0] = powers[0] * beta1
        powers[1] = powers[1] * beta2
        p1, p2 = powers
        rho = rho_inf - ((2.0 * t) * p2) / (1.0 - p2)
        rectified = rho > 5.0
        if rectified:
            r = math.sqrt(((rho - 4.0) * (rho - 2.0) * rho_inf)
                          / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho))
            a = alpha * (r * (math.sqrt(1.0 - p2) / (1.0 - p1)))   # alpha_t
        else:
            a = alpha * (1.0 / (1.0 - p1))                          # alpha_t
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
            if rectified:
                theta[i] = theta[i] - a * (m[i] / (math.sqrt(v[i]) + eps))
            else:
                theta[i] = theta[i] - a * m[i]
        return list(theta)

    return step


def _rprop(theta, hp):
    """Rprop as torch.optim.Rprop (Riedmiller & Braun 1993; torch's variant: no
    weight backtracking, the gradient is zeroed after a sign change).

    State per coordinate: the previous (possibly zeroed) gradient q = 0 and the step
    size Δ = α (α enters only here: torch reads lr once, to fill Δ; see the doc).
    No step coefficients. Coordinate (0 ÷, 0 √):
    s = sign(g·q); η = η₊ if s > 0, η₋ if s < 0, 1 if s = 0;
    Δ ← min(max(Δ·η, Δ_min), Δ_max); if s < 0: g ← 0;
    θ ← θ − sign(g)·Δ; q ← g.
    """
    eta_minus, eta_plus = hp["eta_minus"], hp["eta_plus"]
    step_min, step_max = hp["step_min"], hp["step_max"]
    n = len(theta)
    prev = [0.0] * n
    size = [hp["alpha"]] * n           # alpha_t: only alpha_1, at initialisation

    def step(t, g):
        for i in range(n):
            s = sign(g[i] * prev[i])
            if s > 0.0:
                eta = eta_plus
            elif s < 0.0:
                eta = eta_minus
            else:
                eta = 1.0
            # torch clamp_(min, max): max first, then min
            size[i] = min(max(size[i] * eta, step_min), step_max)
            gi = 0.0 if s < 0.0 else g[i]
            theta[i] = theta[i] - sign(gi) * size[i]
            prev[i] = gi
        return list(theta)

    return step


def _lion(theta, hp):
    """Lion as optax.lion (Chen et al. 2023).

    State per coordinate: m = 0. Step coefficient: w = 1 − α_t·λ (depends on α).
    Coordinate (0 ÷, 0 √): c = (1−β₁)·g + β₁·m; θ ← θ·w − α_t·sign(c);
    m ← (1−β₂)·g + β₂·m. The decay uses θ before the step, as optax's
    add_decayed_weights (θ − α_t·(sign(c) + λ·θ) there; θ·w − α_t·sign(c) here).
    """
    alpha, beta1, beta2, lam = hp["alpha"], hp["beta1"], hp["beta2"], hp["weight_decay"]
    n = len(theta)
    m = [0.0] * n

    def step(t, g):
        w = 1.0 - alpha * lam                                 # alpha_t
        for i in range(n):
            c = (1.0 - beta1) * g[i] + beta1 * m[i]
            theta[i] = theta[i] * w - alpha * sign(c)        # alpha_t
            m[i] = (1.0 - beta2) * g[i] + beta2 * m[i]
        return list(theta)

    return step


def _adabelief(theta, hp):
    """AdaBelief as optax.adabelief (Zhuang et al. 2020).

    State per coordinate: m = 0, s = 0. Step coefficients as adam's:
    a = α_t·(1/(1 − p₁)) (α), c = 1/√(1 − p₂) (β₂, t only).
    Coordinate (1 ÷, 1 √): m ← β₁·m + (1−β₁)·g; d = g − m (the new m);
    s ← (β₂·s + (1−β₂)·(d·d)) + ε_root; θ ← θ − a·(m/(√s·c + ε)).
    ε_root is added to the state s every step (optax stores s + ε_root), ε outside
    the root of the bias-corrected s, as optax.
    """
    alpha, beta1, beta2 = hp["alpha"], hp["beta1"], hp["beta2"]
    eps, eps_root = hp["eps"], hp["eps_root"]
    n = len(theta)
    m = [0.0] * n
    s = [0.0] * n
    powers = [1.0, 1.0]

    def step(t, g):
        powers[0] = powers[0] * beta1
        powers[1] = powers[1] * beta2
        a = alpha * (1.0 / (1.0 - powers[0]))                   # alpha_t
        c = 1.0 / math.sqrt(1.0 - powers[1])
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            d = g[i] - m[i]
            s[i] = (beta2 * s[i] + (1.0 - beta2) * (d * d)) + eps_root
            theta[i] = theta[i] - a * (m[i] / (math.sqrt(s[i]) * c + eps))
        return list(theta)

    return step


def _yogi(theta, hp):
    """Yogi as optax.yogi (Zaheer et al. 2018).

    State per coordinate: m = v = initial_accumulator (optax fills both moments with
    it; the bias corrections still divide by 1 − βᵗ). Step coefficients as adam's:
    a = α_t·(1/(1 − p₁)) (α), c = 1/√(1 − p₂).
    Coordinate (1 ÷, 1 √): m ← β₁·m + (1−β₁)·g; q = g·g;
    v ← v − (1−β₂)·q if v > q, v + (1−β₂)·q if v < q, v if v = q
    (= v − (1−β₂)·sign(v − q)·q, the same bits); θ ← θ − a·(m/(√v·c + ε)).
    optax.yogi's eps_root is 0 and not exposed; it is not a hyperparameter here.
    """
    alpha, beta1, beta2, eps = hp["alpha"], hp["beta1"], hp["beta2"], hp["eps"]
    n = len(theta)
    m = [hp["initial_accumulator"]] * n
    v = [hp["initial_accumulator"]] * n
    powers = [1.0, 1.0]

    def step(t, g):
        powers[0] = powers[0] * beta1
        powers[1] = powers[1] * beta2
        a = alpha * (1.0 / (1.0 - powers[0]))                   # alpha_t
        c = 1.0 / math.sqrt(1.0 - powers[1])
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            q = g[i] * g[i]
            if v[i] > q:
                v[i] = v[i] - (1.0 - beta2) * q
            elif v[i] < q:
                v[i] = v[i] + (1.0 - beta2) * q
            theta[i] = theta[i] - a * (m[i] / (math.sqrt(v[i]) * c + eps))
        return list(theta)

    return step


def _adan(theta, hp):
    """Adan as optax.adan (Xie et al. 2022), with optax's convention that each β is the
    decay of the old average (optax's b1 = 0.98 is the paper's β₁ = 0.02).

    State per coordinate: m = v = n = 0 and the previous gradient q = 0 (four floats).
    Step coefficients (β's, t; α by one multiplication): p₁, p₂, p₃ running powers;
    a₁ = α_t·(1/(1 − p₁)), a₂ = α_t·((1 − β₂)/(1 − p₂)), k₃ = 1/(1 − p₃),
    w = 1 − α_t·λ; at t = 1 the gradient difference is 0 (optax's `t == 0` branch).
    Coordinate (1 ÷, 1 √): δ = 0 at t = 1, else g − q;
    m ← β₁·m + (1−β₁)·g; v ← β₂·v + (1−β₂)·δ; u = g + (1−β₂)·δ;
    n ← β₃·n + (1−β₃)·(u·u); θ ← θ·w − (a₁·m + a₂·v)/(√(n·k₃ + ε_root) + ε); q ← g.
    ε_root sits inside the root, added to the bias-corrected n, as optax.
    """
    alpha, beta1, beta2, beta3 = hp["alpha"], hp["beta1"], hp["beta2"], hp["beta3"]
    eps, eps_root, lam = hp["eps"], hp["eps_root"], hp["weight_decay"]
    n_coords = len(theta)
    m = [0.0] * n_coords
    v = [0.0] * n_coords
    nn = [0.0] * n_coords
    prev = [0.0] * n_coords
    powers = [1.0, 1.0, 1.0]

    def step(t, g):
        powers[0] = powers[0] * beta1
        powers[1] = powers[1] * beta2
        powers[2] = powers[2] * beta3
        a1 = alpha * (1.0 / (1.0 - powers[0]))                  # alpha_t
        a2 = alpha * ((1.0 - beta2) / (1.0 - powers[1]))        # alpha_t
        k3 = 1.0 / (1.0 - powers[2])
        w = 1.0 - alpha * lam                                   # alpha_t
        first = t == 1
        for i in range(n_coords):
            delta = 0.0 if first else g[i] - prev[i]
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1.0 - beta2) * delta
            u = g[i] + (1.0 - beta2) * delta
            nn[i] = beta3 * nn[i] + (1.0 - beta3) * (u * u)
            theta[i] = theta[i] * w - (a1 * m[i] + a2 * v[i]) / (
                math.sqrt(nn[i] * k3 + eps_root) + eps)
            prev[i] = g[i]
        return list(theta)

    return step


def _signum(theta, hp):
    """Signum as optax.signum (Bernstein et al. 2018): the sign of an undebiased EMA.

    State per coordinate: m = 0. No step coefficients.
    Coordinate (0 ÷, 0 √): m ← β₁·m + (1−β₁)·g; θ ← θ − α_t·sign(m).
    """
    alpha, beta1 = hp["alpha"], hp["beta1"]
    n = len(theta)
    m = [0.0] * n

    def step(t, g):
        for i in range(n):
            m[i] = beta1 * m[i] + (1.0 - beta1) * g[i]
            theta[i] = theta[i] - alpha * sign(m[i])             # alpha_t
        return list(theta)

    return step


def _schedule_free(theta, hp, adam):
    """Schedule-Free SGD / AdamW as optax.contrib (Defazio et al. 2024).

    Three sequences: z (the base optimizer's iterate), x (the weighted average of z,
    the reported point) and y = β₁·x + (1−β₁)·z, where the gradient is taken. Here θ
    is y; the per-coordinate state is z = x = θ₀ (and v = 0 for AdamW). θ₀ = y₀ is
    the start itself (not β₁·x₀ + (1−β₁)·z₀, which may differ from it in the last bit).

    Per-cell scalar state, advanced once per step (both depend on α_t, so cells
    that differ in α cannot share them): the running maximum α̂ = max(α̂, α_t)
    (from 0) and the weight sum W ← W + α̂^P (from 0), P = weight_lr_power.
    Step coefficients: κ = α̂^P/W (0 if W = 0, optax's NaN guard), 1 − κ; β₁, 1 − β₁;
    AdamW also c = 1/√(1 − β₂ᵗ) (β₂, t only). κ depends on α.
    Coordinate: SGD (0 ÷, 0 √): z ← z − α_t·(g + λ·y); AdamW (1 ÷, 1 √):
    v ← β₂·v + (1−β₂)·(g·g), z ← z − α_t·(g/(√v·c + ε) + λ·y); then both
    x ← (1 − κ)·x + κ·z; y ← β₁·x + (1−β₁)·z (the new x and z).
    The decay λ·y is taken at y, where the gradient is (optax passes y as params).
    """
    alpha, beta1, lam, power = hp["alpha"], hp["beta1"], hp["weight_decay"], hp["weight_lr_power"]
    beta2 = hp.get("beta2", 0.0)
    eps = hp.get("eps", 0.0)
    n = len(theta)
    z = list(theta)
    x = list(theta)
    v = [0.0] * n
    scalars = {"alpha_max": 0.0, "weight_sum": 0.0, "p2": 1.0}

    def step(t, g):
        # per-cell scalar state: alpha_t enters alpha_max, hence weight and kappa
        scalars["alpha_max"] = max(scalars["alpha_max"], alpha)             # alpha_t
        weight = scalars["alpha_max"] ** power
        scalars["weight_sum"] = scalars["weight_sum"] + weight
        total = scalars["weight_sum"]
        kappa = weight / total if total > 0.0 else 0.0
        keep = 1.0 - kappa
        if adam:
            scalars["p2"] = scalars["p2"] * beta2
            c = 1.0 / math.sqrt(1.0 - scalars["p2"])
        for i in range(n):
            y = theta[i]
            if adam:
                v[i] = beta2 * v[i] + (1.0 - beta2) * (g[i] * g[i])
                z[i] = z[i] - alpha * (g[i] / (math.sqrt(v[i]) * c + eps) + lam * y)  # alpha_t
            else:
                z[i] = z[i] - alpha * (g[i] + lam * y)                               # alpha_t
            x[i] = keep * x[i] + kappa * z[i]
            theta[i] = beta1 * x[i] + (1.0 - beta1) * z[i]
        return list(x)

    return step


_RUNNERS = {
    "sgd": _sgd,
    "momentum": _momentum,
    "nesterov": _nesterov,
    "adagrad": _adagrad,
    "adadelta": _adadelta,
    "rmsprop": _rmsprop,
    "adam": _adam,
    "amsgrad": _amsgrad,
    "adamw": _adamw,
    "nadam": _nadam,
    "adamax": _adamax,
    "radam": _radam,
    "rprop": _rprop,
    "lion": _lion,
    "adabelief": _adabelief,
    "yogi": _yogi,
    "adan": _adan,
    "signum": _signum,
    "schedule_free_adamw": lambda theta, hp: _schedule_free(theta, hp, adam=True),
    "schedule_free_sgd": lambda theta, hp: _schedule_free(theta, hp, adam=False),
}
assert set(_RUNNERS) == set(RULES)
