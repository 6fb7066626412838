"""Factorisation methods as small objects that declare the statistics they need.

Every method is a truncated SVD of a rescaled weight ``L W R`` mapped back:
``L W R = U Σ Vᵀ``,  ``B = L⁻¹ U_r Σ_r^{1/2}``,  ``A = Σ_r^{1/2} V_rᵀ R⁻¹``.

============  ==========================================  ======================================
method        scaling                                     source
============  ==========================================  ======================================
``svd``       L = R = I                                   Eckart–Young
``fwsvd``     L = diag(√I_i), I_i = Σ_j Fisher_ij         Hsu et al., ICLR 2022 (FWSVD)
``asvd``      R = diag(mean_t |x_tj|^α), α = 0.5          Yuan et al. 2023 (ASVD)
``whiten``    R = S, S Sᵀ = C = Σ_t x_t x_tᵀ (Cholesky)   Wang et al., ICLR 2025 (SVD-LLM)
``features``  PCA of the outputs: ``W ≈ Q_r Q_rᵀ W``       Unified low-rank compression of CTR
              with ``Q`` the eigenvectors of the centred   models (paper 12, atomic feature
              output covariance ``W Σ_c Wᵀ``; the bias      mimicking)
              absorbs the mean of the dropped directions
============  ==========================================  ======================================

``features`` is not a rescaling: :class:`lrkit.nn.Decomposition` handles it directly.

This module imports no PyTorch at load time, so the command line can list the methods
without it. A new method is one subclass of :class:`Factorization` and one
:func:`register_factorization` line.
"""

from __future__ import annotations

from lrkit.registry import Method, Registry

#: ASVD's exponent on the activation scale.
ASVD_ALPHA = 0.5
#: Floor of scales and eigenvalues, relative to their largest value.
FLOOR = 1e-10


class Factorization:
    """A rescaling ``(L, R)`` of a weight before its SVD.

    Attributes
    ----------
    name : str
        The ``method=`` string.
    needs : frozenset of str
        Calibration statistics it reads: ``"covariance"``, ``"abs_mean"`` (forward passes),
        ``"fisher"`` (squared gradients: calibration needs a ``loss_fn``).
    summary : str
    """

    name = ""
    needs = frozenset()
    summary = ""
    #: Declared for the registry: no options of its own; tensors in.
    options: dict = {}
    inputs = frozenset({"torch"})

    def validate(self, given):
        return Method.validate(self, given)

    @property
    def needs_data(self) -> bool:
        """Calibration batches are needed."""
        return bool(self.needs)

    @property
    def needs_loss(self) -> bool:
        """Calibration needs a loss (its gradients)."""
        return "fisher" in self.needs

    def scalings(self, W, statistics, fisher_axis="out"):
        """``(left, right)``: left a vector (diagonal) or None; right a vector, a lower
        triangular matrix or None."""
        return None, None

    def check_statistics(self, statistics):
        if self.needs and statistics is None:
            raise ValueError(f"method={self.name!r} needs calibration statistics")
        if self.needs_loss and statistics.fisher is None:
            raise ValueError(f"method={self.name!r} needs Fisher information: "
                             "calibrate with a loss_fn")


def _floored(scale):
    return scale.clamp_min(FLOOR * float(scale.max()) + 1e-300)


class PlainSVD(Factorization):
    name, summary = "svd", "truncated SVD of W (Eckart–Young)"


class FisherWeightedSVD(Factorization):
    name, needs = "fwsvd", frozenset({"fisher"})
    summary = "diag(√Fisher row sums) W (Hsu et al., ICLR 2022)"

    def scalings(self, W, statistics, fisher_axis="out"):
        importance = statistics.fisher.to(W.device).sum(dim=1 if fisher_axis == "out" else 0)
        scale = _floored(importance.sqrt())
        return (scale, None) if fisher_axis == "out" else (None, scale)


class ActivationAwareSVD(Factorization):
    name, needs = "asvd", frozenset({"abs_mean"})
    summary = "W diag(mean|x|^0.5) (Yuan et al. 2023)"

    def scalings(self, W, statistics, fisher_axis="out"):
        return None, _floored(statistics.abs_mean.to(W.device) ** ASVD_ALPHA)


class WhitenedSVD(Factorization):
    name, needs = "whiten", frozenset({"covariance"})
    summary = "W S with S Sᵀ = Σ x xᵀ: truncation error = dropped σ's (SVD-LLM)"

    def scalings(self, W, statistics, fisher_axis="out"):
        from lrkit.nn.compression.whitening import cholesky_factor

        return None, cholesky_factor(statistics.covariance.to(W.device))


#: The family of :func:`lrkit.nn.compress`'s ``method=`` (rescalings before one SVD).
FACTORIZATIONS = Registry("compress", "factorisations W ≈ B A of one weight")


def register_factorization(method: Factorization) -> Factorization:
    return FACTORIZATIONS.register(method)


class OutputFeatures(Factorization):
    name, needs = "features", frozenset({"covariance"})
    summary = "Q_r Q_rᵀ W, Q the principal directions of the outputs (feature mimicking)"


for _method in (PlainSVD(), FisherWeightedSVD(), ActivationAwareSVD(), WhitenedSVD(),
                OutputFeatures()):
    register_factorization(_method)

#: The registered ``method=`` names, in registration order.
METHODS = tuple(FACTORIZATIONS)


def get_factorization(name) -> Factorization:
    """The registered method ``name``; an unknown name lists the valid ones."""
    return FACTORIZATIONS.get(name)
