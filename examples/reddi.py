"""The counterexamples of Reddi, Kale & Kumar (2018), "On the Convergence of Adam and Beyond", section 5.

On the feasible set [−1, 1] (``bounds`` in the grid files), with α_t = α/√t,
β₁ = 0.9, β₂ = 0.99:

* online: f_t(x) = 1010·x when t mod 101 = 1, and −10·x otherwise;
* stochastic: f_t(x) = 1010·x with probability 0.01, and −10·x otherwise.

Both have their minimum, over a period or in expectation, at x = −1. Adam
drifts to the wrong end, x = +1; AMSGrad heads for x = −1.

Each function writes the gradient of f_t and returns the loss the metrics see:
the average over a period of the online loss, (1010 − 100·10)/101 · x, and the
expectation of the stochastic one, (0.01·1010 − 0.99·10)·x = 0.2·x. So
``final_loss`` and ``distance`` measure what the paper measures.
"""
from sweep.kernels import uniform


def online(x, grad, t, key):
    slope = 1010.0 if t % 101.0 == 1.0 else -10.0
    grad[0] = slope
    return (10.0 / 101.0) * x[0]


def stochastic(x, grad, t, key):
    slope = 1010.0 if uniform(key, 0) < 0.01 else -10.0
    grad[0] = slope
    return 0.2 * x[0]
