"""Model objectives: a torch network trained on a data set (``[objective] model = ...``).

The registry :data:`MODELS` names the networks of ``docs/update_rules.md`` ("Models
trained on data") and the keys a grid file may set, each a
:class:`sweep.kernels.objectives.Param` (:data:`SCHEMA`, validated by
:mod:`sweep.config` from here). :func:`build` makes a grid's parameters
concrete: the data set (:mod:`sweep.datasets`), the network's shape
(:class:`sweep.kernels.models.Network`) and what the training kernel reads
(:class:`sweep.kernels.models.ModelData`). No numba here.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from sweep.kernels.models import ACTIVATIONS, LOSSES, ModelData, Network, initial_weights
from sweep.kernels.objectives import Param, Problem

from . import datasets

# The divergence bound of a model's parameters.
DEFAULT_BOUND = 1e6
# The targets each loss needs (sweep.datasets.check_targets).
LOSS_TARGETS = {"squared": "real", "logistic": "signs", "cross_entropy": "classes"}
# Evaluation (the whole training and test sets, forward only) keeps near this share of a
# run by default ...
EVALUATION_SHARE = 0.1
# ... a sample evaluated costing this share of a sample trained: a forward pass and the
# loss's exp and log, against forward and backward (the backward pass costs less than a
# second forward one, for the first layer needs no input errors).
EVALUATION_COST = 0.7


@dataclass(frozen=True, kw_only=True)
class Model:
    """A registry entry.

    Attributes:
        name: the value of ``[objective] model``.
        losses: the losses it may train with, the first its default (``linear`` picks
            cross entropy for class labels).
        layers: whether it takes ``hidden`` and ``activation`` (an MLP).
        bias: whether ``bias`` may be set (else every layer has one).
        start: θ₀ without an explicit ``start``: ``"zeros"`` or ``"torch"`` (torch's
            default initialisation, drawn per seed).
        description: one line for ``python -m sweep list``.
    """

    name: str
    losses: tuple[str, ...]
    layers: bool
    bias: bool
    start: str
    description: str


MODELS = {model.name: model for model in (
    Model(name="linear", losses=("squared", "cross_entropy"), layers=False, bias=True,
          start="zeros", description="nn.Linear(features, outputs): least squares or softmax"),
    Model(name="logistic", losses=("logistic",), layers=False, bias=False, start="zeros",
          description="nn.Linear(features, 1) with the logistic loss, ±1 targets"),
    Model(name="mlp", losses=("cross_entropy", "squared"), layers=True, bias=False,
          start="torch", description="nn.Sequential of nn.Linear layers and tanh or relu"),
)}

# The keys of [objective] for a model, with their defaults and bounds. ``data`` is a
# string (a bundled or generated set, or an .npz file) or a table {name = ..., params}.
SCHEMA = (
    Param(name="model", kind="str", choices=tuple(MODELS)),
    Param(name="data", kind="data"),
    Param(name="hidden", kind="ints", default=(32,), lowest=1, highest=100_000,
          rule="must be positive integers (the widths of the hidden layers)"),
    Param(name="activation", kind="str", default="tanh", choices=ACTIVATIONS),
    Param(name="loss", kind="str", default=None, choices=LOSSES),
    Param(name="bias", kind="bool", default=True),
    Param(name="batch_size", kind="int", default=0, lowest=0, highest=10**9,
          rule="must be >= 0 (0: the whole training set)"),
    Param(name="test_fraction", kind="float", default=0.25, lowest=0.0, highest=1.0,
          rule="must be in [0, 1)"),
    Param(name="data_seed", kind="int", default=0, lowest=0, highest=2**63 - 1),
    Param(name="standardize", kind="bool", default=True),
    Param(name="l2", kind="float", default=0.0, lowest=0.0, rule="must be >= 0"),
    Param(name="eval_every", kind="int", default=0, lowest=0, highest=10**12,
          rule="must be >= 0 (0: often enough to cost about a tenth of the run)"),
)
PARAMS = tuple(param.name for param in SCHEMA)


@dataclass(frozen=True)
class Training:
    """A model objective made concrete (``Problem.model``).

    Attributes:
        network: the network's shape.
        data: what the training kernel reads (arrays, λ, batch size, evaluation period).
        dataset: the data set, as loaded and split.
        start: θ₀ when no start is given: ``"zeros"``, ``"torch"`` (drawn per seed), or
            ``"given"`` (the grid's ``start``).
    """

    network: Network
    data: ModelData
    dataset: datasets.DataSet
    start: str

    def initial(self, seed: int, start: int) -> np.ndarray:
        """θ₀ (dim,) of a cell with this seed and start index, when none is given."""
        if self.start == "torch":
            return initial_weights(self.network, seed, start)
        return np.zeros(self.network.dim)


def default_loss(model: Model, dataset: datasets.DataSet) -> str:
    """The loss of ``docs/update_rules.md``'s table: linear's follows the targets."""
    if model.name == "linear":
        return "cross_entropy" if dataset.targets == "classes" else "squared"
    return model.losses[0]


def network_of(model: Model, params: dict, dataset: datasets.DataSet, loss: str) -> Network:
    """The network's shape for ``dataset`` (its features and outputs)."""
    outputs = dataset.classes if loss == "cross_entropy" else \
        (dataset.outputs if dataset.targets == "real" else 1)
    hidden = tuple(params["hidden"]) if model.layers else ()
    bias = params["bias"] if model.bias else True
    return Network(sizes=(dataset.features, *hidden, outputs),
                   activation=params["activation"] if model.layers else "tanh",
                   loss=loss, bias=bias)


def default_eval_every(dataset: datasets.DataSet, batch_size: int) -> int:
    """Evaluation every this many steps costs about :data:`EVALUATION_SHARE` of the run: it
    runs forward over every sample (n_train + n_test), a step forward and backward over a
    batch (each sample :data:`EVALUATION_COST` times the cost of one evaluated)."""
    evaluation = EVALUATION_COST * (dataset.n_train + dataset.n_test)
    return max(1, math.ceil((1 - EVALUATION_SHARE) / EVALUATION_SHARE * evaluation / batch_size))


def load_data(params: dict) -> datasets.DataSet:
    """The data set a model trains on, as the grid's parameters say (an .npz file by its
    absolute path)."""
    data = params["data"]
    name, extra = (data, {}) if isinstance(data, str) else (data[0], dict(data[1]))
    return datasets.load(name, test_fraction=params["test_fraction"],
                         data_seed=params["data_seed"], standardize=params["standardize"],
                         params=extra)


@functools.cache
def build(params: tuple) -> Problem:
    """The :class:`Problem` of a model objective (``params`` as validated, a tuple of
    ``(key, value)``: hashable, so each is built once per process).

    Raises:
        sweep.datasets.DataError: the data set cannot be loaded, or does not suit the loss.
    """
    given = dict(params)
    model = MODELS[given["model"]]
    dataset = load_data(given)
    loss = given["loss"] or default_loss(model, dataset)
    if LOSS_TARGETS[loss] == "signs" and dataset.targets == "classes":
        dataset = datasets.as_signs(dataset)
    datasets.check_targets(dataset, LOSS_TARGETS[loss])
    network = network_of(model, given, dataset, loss)
    batch_size = given["batch_size"] or dataset.n_train
    eval_every = given["eval_every"] or default_eval_every(dataset, batch_size)
    data = ModelData(x_train=dataset.x_train, y_train=dataset.y_train, x_test=dataset.x_test,
                     y_test=dataset.y_test, l2=float(given["l2"]), batch_size=int(batch_size),
                     eval_every=int(eval_every), signs=dataset.targets == "signs")
    training = Training(network=network, data=data, dataset=dataset,
                        start="given" if given.get("start") else model.start)
    minimizer, minimum = _solve(network, data)
    return Problem(f"{model.name} on {dataset.name}", network.dim, None,
                   (minimizer,) if minimizer is not None else (), minimum, (), ((-1.0, 1.0),) * 2,
                   DEFAULT_BOUND, params, model=training)


def _solve(network: Network, data: ModelData) -> tuple[tuple | None, float]:
    """The minimizer and f* where they have a closed form or a convex solve: the logistic
    model with λ > 0 (Newton's method), a linear model with the squared loss (least
    squares); ``(None, nan)`` otherwise."""
    from sweep.kernels.logistic import solve

    if len(network.sizes) != 2 or data.x_train.shape[0] == 0:
        return None, math.nan
    ones = np.ones((data.x_train.shape[0], 1))
    inputs = np.hstack([data.x_train, ones]) if network.bias else data.x_train
    if network.loss == "logistic" and data.l2 > 0:
        w, value = solve(np.ascontiguousarray(inputs), data.y_train[:, 0], data.l2)
        return tuple(float(v) for v in w), value
    if network.loss == "squared":
        n, d = inputs.shape
        # min ½·mean‖Xw − y‖² + (λ/2)‖w‖²: (XᵀX/n + λI) w = Xᵀy/n, per output; lstsq for λ = 0.
        if data.l2 > 0:
            w = np.linalg.solve(inputs.T @ inputs / n + data.l2 * np.eye(d),
                                inputs.T @ data.y_train / n)
        else:
            w = np.linalg.lstsq(inputs, data.y_train, rcond=None)[0]
        residual = inputs @ w - data.y_train
        value = 0.5 * float((residual * residual).sum(axis=1).mean()) + 0.5 * data.l2 * float(
            (w * w).sum())
        # θ's layout: the weight (outputs × features) row-major, then the bias.
        weight, bias = (w[:-1], w[-1]) if network.bias else (w, np.zeros(0))
        theta = np.concatenate([weight.T.ravel(), np.ravel(bias)])
        return tuple(float(v) for v in theta), value
    return None, math.nan


def minibatches(samples: int, batch_size: int, steps: int, *, seed: int, start: int = 0
                ) -> list[np.ndarray]:
    """The rows of the training set each step trains on, as the kernels draw them.

    Args:
        samples: rows of the training set (n_train).
        batch_size: samples per step (0: the whole training set).
        steps: the number of steps.
        seed, start: the cell's seed and start index (every cell with both sees the same).

    Returns:
        ``steps`` int64 arrays of row indices: step t's minibatch is entry t − 1. An epoch
        is a permutation of the rows cut into batches (the last may be smaller), as
        torch's ``DataLoader(shuffle=True, drop_last=False)``; a cell replayed in torch
        trains on ``x_train[rows]``.
    """
    from sweep.kernels.models import batch_of_step, epoch_order

    batch_size = batch_size or samples
    order = np.empty(samples, dtype=np.int64)
    loaded = -1
    batches = []
    for step in range(steps):
        epoch, first, count = batch_of_step(step, samples, batch_size)
        if epoch != loaded:
            epoch_order(order, seed, start, epoch, batch_size)
            loaded = epoch
        batches.append(order[first:first + count].copy())
    return batches

