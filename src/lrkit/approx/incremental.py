"""Streaming truncated SVD over column blocks (Brand 2006)."""

from __future__ import annotations

import numpy as np

from lrkit._validation import as_real_matrix, check_int


class IncrementalSVD:
    """Rank-``rank`` SVD of ``[B_1 | B_2 | …]`` updated one column block at a time.

    Brand's update (Brand, "Fast low-rank modifications of the thin singular value
    decomposition", 2006): with ``U diag(s) Vᵀ`` the current factorisation and a new block
    ``C``, write ``C = U P + Q R`` (``P = Uᵀ C``, ``Q R`` the thin QR of the residual), so

        [U diag(s) Vᵀ | C] = [U Q] K [[V, 0], [0, I]]ᵀ,   K = [[diag(s), P], [0, R]],

    and the SVD of the small ``K = U_K Σ V_Kᵀ`` gives the new factors ``[U Q] U_K``, ``Σ``,
    ``[[V, 0], [0, I]] V_K``, truncated to ``rank``. The update is exact when the data
    have rank ≤ ``rank``. Every ``reorthogonalize_every`` blocks ``U`` is re-orthonormalised
    by a QR whose triangle is folded back into the small core, which stops the slow loss of
    orthogonality of long streams.

    Parameters
    ----------
    rank : int
    reorthogonalize_every : int, default 10
    track_right : bool, default True
        Keep ``V``; without it only ``U`` and ``s`` are updated, which is all that
        :func:`~lrkit.approx.concat_error_bound` needs.

    Examples
    --------
    >>> import numpy as np
    >>> from lrkit.approx import IncrementalSVD
    >>> A = np.random.default_rng(0).standard_normal((50, 4)) @ np.ones((4, 60))
    >>> inc = IncrementalSVD(rank=4)
    >>> for block in np.split(A, 6, axis=1):
    ...     _ = inc.update(block)
    >>> U, s, Vt = inc.factors()
    >>> bool(np.allclose((U * s) @ Vt, A))
    True
    """

    def __init__(self, rank, reorthogonalize_every=10, track_right=True):
        self.rank = check_int("rank", rank, 1)
        self.reorthogonalize_every = check_int("reorthogonalize_every", reorthogonalize_every, 1)
        self.track_right = track_right
        self.U = self.s = self.V = None
        self.n_blocks = 0

    def copy(self):
        """An independent copy of the current state."""
        twin = IncrementalSVD(self.rank, self.reorthogonalize_every, self.track_right)
        twin.U, twin.s, twin.V, twin.n_blocks = self.U, self.s, self.V, self.n_blocks
        return twin

    def update(self, block):
        """Append the columns of ``block`` (n_rows × c); returns ``self``."""
        block = as_real_matrix("block", block)
        if block.shape[1] == 0:
            raise ValueError("block has no columns")
        if self.U is None:
            U, s, Vt = np.linalg.svd(block, full_matrices=False)
            self.U, self.s = U[:, :self.rank], s[:self.rank]
            self.V = Vt[:self.rank].T if self.track_right else None
        else:
            if block.shape[0] != self.U.shape[0]:
                raise ValueError(f"block has {block.shape[0]} rows; earlier blocks had "
                                 f"{self.U.shape[0]}")
            self._append(block)
        self.n_blocks += 1
        if self.n_blocks % self.reorthogonalize_every == 0:
            self._reorthogonalize()
        return self

    def _append(self, C):
        k, c = len(self.s), C.shape[1]
        P = self.U.T @ C
        Q, R = np.linalg.qr(C - self.U @ P)
        core = np.block([[np.diag(self.s), P], [np.zeros((Q.shape[1], k)), R]])
        Uk, s, Vkt = np.linalg.svd(core, full_matrices=False)
        keep = min(self.rank, len(s))
        self.U = np.hstack([self.U, Q]) @ Uk[:, :keep]
        self.s = s[:keep]
        if self.track_right:
            n_old = self.V.shape[0]
            V = np.zeros((n_old + c, k + c))
            V[:n_old, :k] = self.V
            V[n_old:, k:] = np.eye(c)
            self.V = V @ Vkt[:keep].T

    def _reorthogonalize(self):
        Q, R = np.linalg.qr(self.U)
        Uc, s, Vct = np.linalg.svd(R * self.s, full_matrices=False)
        self.U, self.s = Q @ Uc, s
        if self.track_right:
            self.V = self.V @ Vct.T

    def factors(self):
        """``(U, s, Vt)`` of the columns seen so far."""
        if self.U is None:
            raise ValueError("no block seen yet; call update(block) first")
        if not self.track_right:
            raise ValueError("created with track_right=False: only U and s are kept")
        return self.U, self.s, self.V.T
