"""The row systems of the biased ALS-WR half step, solved for a whole ensemble at once.

With the other side fixed, model ``m`` of the ensemble solves for every row ``i`` of this
side (:mod:`lrkit.ratings.biased_als`)

    (Σ_{j ∈ Ω_i} d_j d_jᵀ + diag(p_i)) x_i = Σ_{j ∈ Ω_i} (r_ij − c_j) d_j,

with ``d_j = [g_j, 1]`` (the other side's factor and a 1 for the row's bias), ``c_j`` the
other side's bias, ``r_ij`` the centred rating and ``p_i`` the penalty (``λ n_i`` on the
factor coordinates, ``λ_b`` on the bias). The Gram matrices do not depend on the values, so
all of them, for every model, are one sparse product: ``A @ O`` with ``A`` the ``n × m``
pattern of the observations and ``O`` the other side's packed outer products
``d_j d_jᵀ`` (upper triangles, ``(k+1)(k+2)/2`` numbers a row) side by side for the models;
the right-hand sides are ``R @ D − A @ (c ∘ D)`` in the same product. That is O(|Ω| k²)
work in one call instead of a Python loop over models and row groups. The ``n · models``
systems are then solved by a Cholesky factorisation vectorised over the systems (the
systems are the last, contiguous axis), which for small ``k`` is several times faster than
LAPACK called once per system. A row with no observation solves ``diag(p) x = 0``: it
keeps a zero factor and bias (cold start).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: The solver works on groups of models and blocks of rows whose largest arrays hold at most
#: this many float64 numbers (128 MiB).
CHUNK_FLOATS = 1 << 24


class BiasedSystems:
    """The systems of one side: ``index[e]`` is the row solved for, ``other_index[e]`` the
    other side's row it is paired with.

    Parameters
    ----------
    index, other_index : integer arrays of length |Ω|
    n, n_other : int
        Number of rows on this side and on the other.
    """

    def __init__(self, index, other_index, n, n_other):
        self.n = n
        self.counts = np.bincount(index, minlength=n)
        coo = sp.coo_matrix((np.ones(len(index)), (index, other_index)), shape=(n, n_other))
        self.pattern = coo.tocsr()
        self._index, self._other_index = index, other_index

    def with_values(self, values):
        """The ``n × n_other`` matrix of ``values`` (one per entry, in the constructor's
        order; repeated pairs add up)."""
        return sp.csr_matrix((values, (self._index, self._other_index)),
                             shape=self.pattern.shape)

    def solve(self, values, other_factors, other_bias, penalty):
        """Every model's factors and biases of this side.

        Parameters
        ----------
        values : scipy.sparse.csr_matrix, shape (n, n_other)
            The centred ratings (:meth:`with_values`), shared by the models.
        other_factors : array, shape (models, n_other, k)
        other_bias : array, shape (models, n_other)
        penalty : array, shape (n, k + 1)
            Added to each system's diagonal (the same for every model).

        Returns
        -------
        factors : array, shape (models, n, k)
        bias : array, shape (models, n)
        """
        models, n_other, k = other_factors.shape
        size = k + 1
        upper_a, upper_b = np.triu_indices(size)
        packed = len(upper_a)
        position = np.empty((size, size), dtype=np.intp)
        position[upper_a, upper_b] = position[upper_b, upper_a] = np.arange(packed)
        factors, bias = np.empty((models, self.n, k)), np.empty((models, self.n))
        # Bounded memory: models in groups whose packed products fit CHUNK_FLOATS, rows in
        # blocks whose systems (and their factors) do.
        group = max(1, min(models, CHUNK_FLOATS // (n_other * (packed + 2 * size))))
        block = max(1, CHUNK_FLOATS // (2 * group * size * size))
        for first in range(0, models, group):
            chosen = slice(first, first + group)
            # The other side's rows first, so that the products read contiguous rows.
            design = np.concatenate([other_factors[chosen].transpose(1, 0, 2),
                                     np.ones((n_other, other_factors[chosen].shape[0], 1))],
                                    axis=2)
            right = np.concatenate([design[:, :, upper_a] * design[:, :, upper_b],
                                    -other_bias[chosen].T[:, :, None] * design], axis=2)
            for start in range(0, self.n, block):
                rows = slice(start, min(start + block, self.n))
                pattern, observed = ((self.pattern, values) if block >= self.n
                                     else (self.pattern[rows], values[rows]))
                solution = self._solve_rows(pattern, observed, design, right, penalty[rows],
                                            position)
                factors[chosen, rows] = solution[:k].transpose(1, 2, 0)
                bias[chosen, rows] = solution[k]
        return factors, bias

    @staticmethod
    def _solve_rows(pattern, values, design, right, penalty, position):
        """The solutions ``(size, models, rows)`` of a block of rows, for a group of models
        (``design``: the other side's ``[g, 1]``, rows first; ``right``: their packed outer
        products and ``-c · [g, 1]``)."""
        n_other, models, size = design.shape
        packed = size * (size + 1) // 2
        rows = pattern.shape[0]
        product = (pattern @ right.reshape(n_other, -1)).reshape(rows, models, -1)
        rhs = product[:, :, packed:] + (values @ design.reshape(n_other, -1)).reshape(
            rows, models, size)
        grams = product[:, :, :packed].transpose(2, 1, 0)[position]  # (size, size, models, rows)
        diagonal = np.arange(size)
        grams[diagonal, diagonal] += penalty.T[:, None, :]
        solution = spd_solve(grams.reshape(size, size, models * rows),
                             np.ascontiguousarray(rhs.transpose(2, 1, 0)).reshape(size, -1))
        return solution.reshape(size, models, rows)


def spd_solve(matrices, rhs):
    """Solve ``matrices[:, :, s] x_s = rhs[:, s]`` for every system ``s`` (symmetric positive
    definite, the systems along the last axis) by a Cholesky factorisation ``L Lᵀ`` vectorised
    over the systems: column ``j`` of ``L`` is
    ``L_jj = √(a_jj − Σ_{c<j} L_jc²)``, ``L_rj = (a_rj − Σ_{c<j} L_rc L_jc) / L_jj``,
    then two triangular substitutions. Systems that are only semidefinite (a row with fewer
    observations than unknowns and no ridge) get their minimum-norm solution instead."""
    size = matrices.shape[0]
    lower = np.empty_like(matrices)  # only the lower triangle is written and read
    x = np.array(rhs, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        for j in range(size):
            done = lower[j, :j]
            lower[j, j] = np.sqrt(matrices[j, j] - np.einsum("cs,cs->s", done, done))
            if j + 1 < size:
                lower[j + 1:, j] = (matrices[j + 1:, j]
                                    - np.einsum("rcs,cs->rs", lower[j + 1:, :j], done)
                                    ) / lower[j, j]
        for j in range(size):
            x[j] = (x[j] - np.einsum("cs,cs->s", lower[j, :j], x[:j])) / lower[j, j]
        for j in reversed(range(size)):
            x[j] = (x[j] - np.einsum("cs,cs->s", lower[j + 1:, j], x[j + 1:])) / lower[j, j]
    pivots = lower[np.arange(size), np.arange(size)]
    failed = ~np.all(np.isfinite(x) & (pivots > 0), axis=0)
    if failed.any():
        stacked = matrices[:, :, failed].transpose(2, 0, 1)
        x[:, failed] = (np.linalg.pinv(stacked, hermitian=True)
                        @ rhs[:, failed].T[:, :, None])[:, :, 0].T
    return x
