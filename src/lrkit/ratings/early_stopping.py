"""Early stopping of alternating least squares on held-out entries, shared by the in-memory
and the Dask ratings fits (:mod:`lrkit.ratings.biased_als`,
:mod:`lrkit.ratings.dask_fit`)."""

from __future__ import annotations

import numpy as np

#: A run stops once its held-out error has not improved for this many sweeps, or improved
#: by less than this relative amount in its last sweep.
PATIENCE = 1
STALL = 1e-4


def held_out_stop(curve, cold=False):
    """Whether a run whose held-out errors (one per sweep) are ``curve`` should stop: it is
    ``PATIENCE`` sweeps past its minimum, or its last sweep improved the error by less than
    ``STALL`` (relative; converged). A run from random starts (``cold``) does not stop
    before its error has fallen below its first sweep's: from small random factors ALS
    first fits the biases, and its factors take several sweeps to leave the noise
    directions and find the signal, while the held-out error stays flat or rises (a flat
    rank-10 spectrum with 45 ratings a row: 1.17, 1.19, 1.13, 1.04, 0.95, …, 0.67)."""
    if cold and min(curve) >= curve[0]:
        return False
    if len(curve) - 1 - int(np.argmin(curve)) >= PATIENCE:
        return True
    return len(curve) > 1 and curve[-2] - curve[-1] <= STALL * curve[-1]


def sweep_until_stop(advance, state, limit, cold=False):
    """Run ``state, error = advance(state)`` (one sweep and its held-out error; ``state``
    must not be changed in place) at most ``limit`` times, until :func:`held_out_stop`.

    Returns
    -------
    kept : the state at the smallest error
    curve : list of float, the error after each sweep
    stopped : bool, whether the rule stopped the run before ``limit``
    """
    curve, kept = [], state
    for _ in range(limit):
        state, error = advance(state)
        curve.append(error)
        if error == min(curve):
            kept = state
        if held_out_stop(curve, cold):
            return kept, curve, True
    return kept, curve, False
