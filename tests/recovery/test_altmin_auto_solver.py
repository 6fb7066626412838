"""AltMin's ``solver="auto"`` (issue 43): exact row solves below rank ``AUTO_CG_RANK``,
where they are faster, and the approximate CG solves from it on."""

import numpy as np

import lrkit
from lrkit.recovery.altmin import AUTO_CG_RANK


def _run(rank, solver):
    prob = lrkit.problems.completion(120, 100, rank, 0.5, seed=0)
    return lrkit.recover(prob.operator, prob.y, rank, method="altmin", solver=solver,
                         max_iter=300, truth=prob.truth, seed=0)


def test_auto_is_exact_below_the_cut_and_cg_from_it():
    small, large = AUTO_CG_RANK - 5, AUTO_CG_RANK
    np.testing.assert_array_equal(_run(small, "auto").estimate, _run(small, "exact").estimate)
    auto, approx = _run(large, "auto"), _run(large, "approx")
    np.testing.assert_array_equal(auto.estimate, approx.estimate)
    assert not np.array_equal(auto.estimate, _run(large, "exact").estimate)
    assert auto.converged and auto.rel_error < 1e-6
