"""Models trained on data: the networks of ``docs/update_rules.md``, forward and backward, once.

A model objective is a torch network (``nn.Linear`` layers, ``tanh`` or
``relu`` between them), so that any cell can be replayed in torch. θ is
``parameters_to_vector(net.parameters())``: layer by layer, the weight
(out × in, row-major), then the bias.

Every function here works on **lanes**: θ and the gradient are laid out
(rows, lanes), one column per grid cell, the activations (units, samples,
lanes), and every cell of a call sees the same samples. The training kernel
(:mod:`sweep.kernels.training`) runs them with many lanes, so that the lane loops
vectorize across cells; its reference runs them with one. Each lane's arithmetic is
the same in either case (the lane loop is always innermost, and nothing is summed
across lanes), so the two give the same bits.

The arithmetic, in this order (the bits depend on it; torch's differ by
rounding, about 1e-12 relative after a few hundred steps):

* a layer's output ``z_o = (…((0 + w_o1·a_1) + w_o2·a_2) … + w_on·a_n) + b_o``;
  hidden units ``a = tanh(z)`` or ``max(z, 0)``;
* per-sample losses: squared ``½·Σ_o (z_o − y_o)²``; logistic ``softplus(−y·z)``;
  cross entropy ``(m + log Σ_c e^{z_c − m}) − z_y`` with ``m = max_c z_c``;
  the batch's loss is their sum (in sample order) divided by the count;
* the gradient starts at λ·θ and adds each sample's in sample order, its output
  error ``δ = ∂ℓ/∂z / count`` (squared: z − y; logistic: −y·σ(−y·z); cross
  entropy: softmax(z) − onehot(y), the softmax as ``e^{z_c − m} / Σ``), back
  through the layers (``δ_in = Σ_o w_oj·δ_o`` in o order, times 1 − a² or [a > 0]);
* the training objective adds ``0.5·λ·Σθ²`` (every parameter) to the mean loss.

Plain Python on arrays and scalars, like the rules and objectives: the
factories below close over the network's shape (compile-time constants).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .elementary import exp, log, tanh
from .logistic import sigmoid, softplus
from .random import counter_key, uniform

ACTIVATIONS = ("tanh", "relu")
LOSSES = ("squared", "logistic", "cross_entropy")
SQUARED, LOGISTIC, CROSS_ENTROPY = range(3)
TANH, RELU = range(2)
# Samples a forward and backward pass takes at once: each weight is loaded once per tile
# (the scratch is (units, TILE, lanes): for an MLP 64-32-10 on 16 lanes, 22 kB a layer).
TILE = 32
# Terms a forward pass and a weight gradient add per pass over their accumulators.
UNROLL = 4
# The objective's random stream (sweep.kernels.step.OBJECTIVE_STREAM): the epoch's order of
# the samples is its draw at "step" epoch + 1, the initial weights its draw at step 0.
BATCH_STREAM = 0


class Network(NamedTuple):
    """The shape of a model: compile-time, so one kernel serves any data of that shape.

    Attributes:
        sizes: (features, h₁, …, outputs): the width of each layer's input, then the outputs.
        activation: ``"tanh"`` or ``"relu"`` (between layers; none after the last).
        loss: ``"squared"``, ``"logistic"`` or ``"cross_entropy"``.
        bias: whether every layer has a bias.
    """

    sizes: tuple[int, ...]
    activation: str
    loss: str
    bias: bool

    @property
    def layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def dim(self) -> int:
        """Parameters: Σ out·in (+ out with a bias) over the layers."""
        return sum(o * i + (o if self.bias else 0) for i, o in zip(self.sizes, self.sizes[1:]))

    @property
    def units(self) -> int:
        """Units computed per sample (every layer's outputs): the scratch rows."""
        return sum(self.sizes[1:])

    def offsets(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
        """Per layer, where its weight and its bias start in θ and its outputs in the scratch."""
        weights, biases, outputs = [], [], []
        position = unit = 0
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            weights.append(position)
            position += n_in * n_out
            biases.append(position)
            position += n_out if self.bias else 0
            outputs.append(unit)
            unit += n_out
        return tuple(weights), tuple(biases), tuple(outputs)


class ModelData(NamedTuple):
    """The data a training kernel reads (float64 arrays, C order), shared by every cell.

    Attributes:
        x_train: (n, features); y_train (n, k): class indices as floats, ±1, or real
            targets (k = outputs).
        x_test, y_test: (m, features), (m, k); m may be 0.
        l2: λ of the penalty (λ/2)·‖θ‖².
        batch_size: samples per step, 1 … n (n: full batch).
        eval_every: the training objective and the test metrics are evaluated every
            this many steps, and at the last step.
        signs: the targets are ±1 (the error is that of sign(ŷ)); with real targets and
            the squared loss there is no error (NaN).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    l2: float
    batch_size: int
    eval_every: int
    signs: bool


def batches_per_epoch(samples, batch_size):
    """Steps per pass over the training set: the last batch may be smaller (torch's
    DataLoader with ``drop_last=False``)."""
    return (samples + batch_size - 1) // batch_size


def epoch_order(order, seed, start, epoch, batch_size):
    """Fill ``order`` (n,) int64 with epoch ``epoch``'s permutation of 0 … n−1: a
    Fisher–Yates shuffle driven by the counter-based generator, a pure function of
    (seed, start, epoch), so every cell from one seed and start sees the same samples.

    A full batch (``batch_size`` ≥ n) takes the rows in order: the batch is the same set
    either way, and its sums then run as a plain gradient descent's do."""
    samples = order.shape[0]
    for i in range(samples):
        order[i] = i
    if batch_size >= samples:
        return
    key = counter_key(seed, start, epoch + 1, BATCH_STREAM)
    for i in range(samples - 1, 0, -1):
        j = min(int(uniform(key, i) * (i + 1)), i)
        order[i], order[j] = order[j], order[i]


def batch_of_step(step, samples, batch_size):
    """``(epoch, first, count)`` of step t = step + 1: its epoch, and the slice
    ``order[first:first + count]`` of that epoch's permutation it trains on."""
    per_epoch = batches_per_epoch(samples, batch_size)
    epoch = step // per_epoch
    first = (step - epoch * per_epoch) * batch_size
    return epoch, first, min(batch_size, samples - first)


def initial_weights(network: Network, seed: int, start: int) -> np.ndarray:
    """θ₀ (dim,) drawn as torch's default ``nn.Linear`` initialisation: every weight and
    bias of a layer uniform on [−1/√in, 1/√in] (kaiming_uniform with a = √5), from the
    counter-based generator at (seed, start): the same distribution as torch's, not its
    draws (a replay loads θ₀ into the torch network)."""
    key = counter_key(seed, start, 0, BATCH_STREAM)
    theta = np.empty(network.dim)
    weights, biases, _ = network.offsets()
    for layer, (n_in, n_out) in enumerate(zip(network.sizes, network.sizes[1:])):
        bound = 1.0 / math.sqrt(n_in)
        stop = biases[layer] + (n_out if network.bias else 0)
        for i in range(weights[layer], stop):
            theta[i] = (2.0 * uniform(key, i) - 1.0) * bound
    return theta


def network_functions(network: Network, lanes: int):
    """``(gradient, evaluate, parts)`` of ``network`` on ``lanes`` lanes, plain Python over
    tiles of samples and lanes.

    ``lanes`` is a constant of the functions (every array's last axis has that many), so
    that compiled, the lane loops have a known trip count: LLVM then unrolls them into
    whole vectors and keeps values in registers across the sample loops (an MLP 64-32-10
    on 32 lanes trained 1.2–1.35× faster than with the count read from the arrays).

    Samples go through the network :data:`TILE` at a time: a weight (one value per lane)
    is loaded once for every sample of the tile, as a batched matrix product does, and
    each lane's sums still run in the order the module doc gives (over inputs for an
    output, over outputs for an input error, over samples for a gradient): the same bits
    as one sample at a time.

    ``gradient(theta, grad, acts, deltas, x, y, order, first, count, l2)``: ∇ of the
    mean loss over rows ``order[first:first + count]`` of (x, y), plus λ·θ, into
    ``grad`` (dim, lanes); ``acts`` and ``deltas`` (units, TILE, lanes) are scratch.

    ``evaluate(theta, acts, x, y, rows, signs, loss, error)``: per lane, the mean loss over
    every row of (x, y), taken in order (``rows``: 0, 1, … at least as long as x), into ``loss`` (lanes,) and the share misclassified into ``error`` (by
    argmax for cross entropy, by sign where ``signs``, else NaN; both NaN without rows).
    """
    sizes = network.sizes
    layers = network.layers
    weights, biases, outputs = network.offsets()
    bias = network.bias
    activation = ACTIVATIONS.index(network.activation)
    loss_kind = LOSSES.index(network.loss)
    last = outputs[layers - 1]
    n_outputs = sizes[layers]

    def forward(theta, acts, x, order, first, count):
        """Every layer's outputs for rows ``order[first:first + count]`` of x, into
        ``acts[:, :count]``."""
        for layer in range(layers):
            n_in = sizes[layer]
            n_out = sizes[layer + 1]
            w0 = weights[layer]
            u_out = outputs[layer]
            u_in = outputs[layer - 1] if layer > 0 else 0
            for o in range(n_out):
                unit = u_out + o
                for sample in range(count):
                    for lane in range(lanes):
                        acts[unit, sample, lane] = 0.0
                row_start = w0 + o * n_in
                # Four inputs a pass, ((z + w₀a₀) + w₁a₁) + …: the order of one input a
                # pass (the same bits), with a quarter of the loads and stores of z.
                unrolled = n_in - n_in % UNROLL
                for j in range(0, unrolled, UNROLL):
                    w = row_start + j
                    if layer == 0:  # the samples themselves, the same for every lane
                        for sample in range(count):
                            row = order[first + sample]
                            x0, x1, x2, x3 = x[row, j], x[row, j + 1], x[row, j + 2], x[row, j + 3]
                            for lane in range(lanes):
                                acts[unit, sample, lane] = (((acts[unit, sample, lane]
                                                              + theta[w, lane] * x0)
                                                             + theta[w + 1, lane] * x1)
                                                            + theta[w + 2, lane] * x2) \
                                    + theta[w + 3, lane] * x3
                    else:
                        a = u_in + j
                        for sample in range(count):
                            for lane in range(lanes):
                                acts[unit, sample, lane] = (((acts[unit, sample, lane]
                                                              + theta[w, lane] * acts[a, sample, lane])
                                                             + theta[w + 1, lane] * acts[a + 1, sample, lane])
                                                            + theta[w + 2, lane] * acts[a + 2, sample, lane]) \
                                    + theta[w + 3, lane] * acts[a + 3, sample, lane]
                for j in range(unrolled, n_in):
                    if layer == 0:
                        for sample in range(count):
                            xj = x[order[first + sample], j]
                            for lane in range(lanes):
                                acts[unit, sample, lane] += theta[row_start + j, lane] * xj
                    else:
                        for sample in range(count):
                            for lane in range(lanes):
                                acts[unit, sample, lane] += theta[row_start + j, lane] * \
                                    acts[u_in + j, sample, lane]
                if bias:
                    for sample in range(count):
                        for lane in range(lanes):
                            acts[unit, sample, lane] += theta[biases[layer] + o, lane]
                if layer < layers - 1:
                    for sample in range(count):
                        if activation == TANH:
                            for lane in range(lanes):
                                acts[unit, sample, lane] = tanh(acts[unit, sample, lane])
                        else:
                            for lane in range(lanes):
                                z = acts[unit, sample, lane]
                                acts[unit, sample, lane] = z if z > 0.0 else 0.0

    def sample_loss(acts, y, row, sample, lane):
        """The loss of one lane's outputs (after :func:`forward`) for tile sample ``sample``,
        row ``row`` of y."""
        if loss_kind == SQUARED:
            total = 0.0
            for o in range(n_outputs):
                difference = acts[last + o, sample, lane] - y[row, o]
                total += difference * difference
            return 0.5 * total
        if loss_kind == LOGISTIC:
            return softplus(-y[row, 0] * acts[last, sample, lane])
        top = acts[last, sample, lane]
        for c in range(1, n_outputs):
            z = acts[last + c, sample, lane]
            top = z if z > top else top
        total = 0.0
        for c in range(n_outputs):
            total += exp(acts[last + c, sample, lane] - top)
        return (top + log(total)) - acts[last + int(y[row, 0]), sample, lane]

    def sample_wrong(acts, y, row, sample, lane, signs):
        """1.0 if one lane's outputs misclassify the sample, else 0.0 (NaN: no classes)."""
        if loss_kind == CROSS_ENTROPY:
            best = 0
            for c in range(1, n_outputs):
                if acts[last + c, sample, lane] > acts[last + best, sample, lane]:
                    best = c
            return 1.0 if best != int(y[row, 0]) else 0.0
        if signs:  # ±1 targets: the sign of the output (0 is wrong either way)
            return 1.0 if y[row, 0] * acts[last, sample, lane] <= 0.0 else 0.0
        return math.nan

    def add_losses(acts, y, row, sample, signs, loss, error):
        """Add one sample's loss and misclassification to every lane's ``loss``, ``error``."""
        for lane in range(lanes):
            loss[lane] += sample_loss(acts, y, row, sample, lane)
            error[lane] += sample_wrong(acts, y, row, sample, lane, signs)

    def output_error(acts, deltas, y, row, sample, count):
        """δ = ∂ℓ/∂z / count at the outputs of every lane, into ``deltas`` (one call a
        sample: the lane loops inside, where the squared and logistic ones vectorize)."""
        if loss_kind == SQUARED:
            for o in range(n_outputs):
                for lane in range(lanes):
                    deltas[last + o, sample, lane] = \
                        (acts[last + o, sample, lane] - y[row, o]) / count
        elif loss_kind == LOGISTIC:
            label = y[row, 0]
            for lane in range(lanes):
                deltas[last, sample, lane] = \
                    (-label * sigmoid(-label * acts[last, sample, lane])) / count
        else:
            softmax_error(acts, deltas, y, row, sample, count)

    def softmax_error(acts, deltas, y, row, sample, count):
        """Cross entropy's δ = (softmax(z) − onehot(y)) / count for every lane, classes
        outside and lanes inside (so exp vectorizes across lanes).

        Each lane's arithmetic is that of one lane at a time: m = max_c z_c (the first
        largest), e_c = e^{z_c − m}, Σ = ((e₀ + e₁) + e₂) + …, δ_c = (e_c / Σ − [c = y]) /
        count. ``deltas[last]`` holds m, then Σ, until δ₀ is written last; e_c overwrite the
        outputs' activations, which nothing reads after this (the backward pass reads the
        inputs of each layer, never the outputs of the last)."""
        for lane in range(lanes):
            deltas[last, sample, lane] = acts[last, sample, lane]
        for c in range(1, n_outputs):
            for lane in range(lanes):
                z = acts[last + c, sample, lane]
                top = deltas[last, sample, lane]
                deltas[last, sample, lane] = z if z > top else top
        for c in range(n_outputs):
            for lane in range(lanes):
                acts[last + c, sample, lane] = exp(acts[last + c, sample, lane]
                                                   - deltas[last, sample, lane])
        for lane in range(lanes):
            deltas[last, sample, lane] = acts[last, sample, lane]  # 0 + e₀ = e₀
        for c in range(1, n_outputs):
            for lane in range(lanes):
                deltas[last, sample, lane] += acts[last + c, sample, lane]
        label = int(y[row, 0])
        for c in range(n_outputs - 1, -1, -1):  # δ₀ last: deltas[last] holds Σ until then
            hot = 1.0 if c == label else 0.0
            for lane in range(lanes):
                deltas[last + c, sample, lane] = (acts[last + c, sample, lane]
                                                  / deltas[last, sample, lane] - hot) / count

    def backward(theta, grad, acts, deltas, x, order, first, count):
        """Add the tile's gradients to ``grad`` (sample by sample, in order, for each
        parameter), from the output errors in ``deltas``."""
        for layer in range(layers - 1, -1, -1):
            n_in = sizes[layer]
            n_out = sizes[layer + 1]
            w0 = weights[layer]
            u_out = outputs[layer]
            u_in = outputs[layer - 1] if layer > 0 else 0
            for o in range(n_out):
                unit = u_out + o
                row_start = w0 + o * n_in
                # Samples outside, inputs inside: consecutive updates touch different
                # weights (a row of the layer, in L1), not one weight 32 times over (a chain
                # of dependent adds); each weight still sums its samples in order, four
                # samples a pass (((g + δ₀a₀) + δ₁a₁) + …, as the forward pass).
                unrolled = count - count % UNROLL
                for sample in range(0, unrolled, UNROLL):
                    if layer == 0:
                        r0, r1 = order[first + sample], order[first + sample + 1]
                        r2, r3 = order[first + sample + 2], order[first + sample + 3]
                        for j in range(n_in):
                            x0, x1, x2, x3 = x[r0, j], x[r1, j], x[r2, j], x[r3, j]
                            for lane in range(lanes):
                                grad[row_start + j, lane] = (((grad[row_start + j, lane]
                                                               + deltas[unit, sample, lane] * x0)
                                                              + deltas[unit, sample + 1, lane] * x1)
                                                             + deltas[unit, sample + 2, lane] * x2) \
                                    + deltas[unit, sample + 3, lane] * x3
                    else:
                        for j in range(n_in):
                            a = u_in + j
                            for lane in range(lanes):
                                grad[row_start + j, lane] = (((grad[row_start + j, lane]
                                                               + deltas[unit, sample, lane]
                                                               * acts[a, sample, lane])
                                                              + deltas[unit, sample + 1, lane]
                                                              * acts[a, sample + 1, lane])
                                                             + deltas[unit, sample + 2, lane]
                                                             * acts[a, sample + 2, lane]) \
                                    + deltas[unit, sample + 3, lane] * acts[a, sample + 3, lane]
                for sample in range(unrolled, count):
                    if layer == 0:
                        row = order[first + sample]
                        for j in range(n_in):
                            xj = x[row, j]
                            for lane in range(lanes):
                                grad[row_start + j, lane] += deltas[unit, sample, lane] * xj
                    else:
                        for j in range(n_in):
                            for lane in range(lanes):
                                grad[row_start + j, lane] += deltas[unit, sample, lane] * \
                                    acts[u_in + j, sample, lane]
                if bias:
                    b = biases[layer] + o
                    for sample in range(count):
                        for lane in range(lanes):
                            grad[b, lane] += deltas[unit, sample, lane]
            if layer > 0:  # the errors of this layer's inputs, through the weights before the step
                for j in range(n_in):
                    for sample in range(count):
                        for lane in range(lanes):
                            deltas[u_in + j, sample, lane] = 0.0
                for o in range(n_out):
                    row_start = w0 + o * n_in
                    for j in range(n_in):
                        for sample in range(count):
                            for lane in range(lanes):
                                deltas[u_in + j, sample, lane] += theta[row_start + j, lane] * \
                                    deltas[u_out + o, sample, lane]
                for j in range(n_in):
                    for sample in range(count):
                        if activation == TANH:
                            for lane in range(lanes):
                                a = acts[u_in + j, sample, lane]
                                deltas[u_in + j, sample, lane] *= 1.0 - a * a
                        else:
                            for lane in range(lanes):
                                kept = deltas[u_in + j, sample, lane]
                                deltas[u_in + j, sample, lane] = \
                                    kept if acts[u_in + j, sample, lane] > 0.0 else 0.0

    def gradient(theta, grad, acts, deltas, x, y, order, first, count, l2):
        dim = theta.shape[0]
        tile = acts.shape[1]
        for i in range(dim):
            for lane in range(lanes):
                grad[i, lane] = l2 * theta[i, lane]
        for start in range(0, count, tile):
            size = min(tile, count - start)
            forward(theta, acts, x, order, first + start, size)
            for sample in range(size):
                output_error(acts, deltas, y, order[first + start + sample], sample, count)
            backward(theta, grad, acts, deltas, x, order, first + start, size)

    def evaluate(theta, acts, x, y, order, signs, loss, error):
        tile = acts.shape[1]
        rows = x.shape[0]
        for lane in range(lanes):
            loss[lane] = 0.0
            error[lane] = 0.0
        for start in range(0, rows, tile):
            size = min(tile, rows - start)
            forward(theta, acts, x, order, start, size)
            for sample in range(size):
                add_losses(acts, y, start + sample, sample, signs, loss, error)
        for lane in range(lanes):
            loss[lane] = loss[lane] / rows if rows > 0 else math.nan
            error[lane] = error[lane] / rows if rows > 0 else math.nan

    return gradient, evaluate, (forward, sample_loss, sample_wrong, add_losses, softmax_error,
                                output_error, backward)


def penalty(theta, lane):
    """Σ_i θ_i² of one lane (the training objective adds 0.5·λ times it)."""
    total = 0.0
    for i in range(theta.shape[0]):
        total += theta[i, lane] * theta[i, lane]
    return total
