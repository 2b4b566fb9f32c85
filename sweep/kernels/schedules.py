"""Step-size schedules: α_t = α · s(t), written once as scalar arithmetic.

``t`` is the 1-based step (a float). A schedule is picked per cell by an
integer code, so that a grid may list several without recompiling.
"""
from __future__ import annotations

import math

CONSTANT, INVERSE_SQRT, COSINE, STEP = 0, 1, 2, 3
SCHEDULES = {"constant": CONSTANT, "inverse_sqrt": INVERSE_SQRT, "cosine": COSINE, "step": STEP}


def schedule_scale(kind, t, steps, warmup, every, factor):
    """s(t) times the linear warm-up min(1, t / warmup) (none when ``warmup`` is 0).

    Args:
        kind: one of :data:`SCHEDULES`' codes.
        t: the step, from 1 (float).
        steps: steps of the run (float).
        warmup: warm-up length in steps (float, 0 for none).
        every: the step schedule's period in steps (float ≥ 1).
        factor: the step schedule's factor.
    """
    scale = 1.0
    if warmup > 0.0 and t < warmup:
        scale = t / warmup
    if kind == INVERSE_SQRT:
        scale = scale / math.sqrt(t)
    elif kind == COSINE:
        scale = scale * 0.5 * (1.0 + math.cos(math.pi * t / steps))
    elif kind == STEP:
        scale = scale * factor ** math.floor((t - 1.0) / every)
    return scale
