"""Statistical estimation with low-rank structure: PLAIN tensor subspaces (paper 4),
rotationally invariant denoising and GAMP-RIE (paper 19), low-rank Q-functions with
entrywise (ℓ∞) guarantees (paper 43)."""

from lrkit.estimation.denoising import DENOISE_METHODS, DenoiseResult, denoise
from lrkit.estimation.harmonic_subspace import TensorSubspaceResult, tensor_subspace
from lrkit.estimation.q_estimation import Q_METHODS, QEstimate, estimate_q
from lrkit.estimation.quadratic_network import QuadraticNetworkFit, gamp_rie, gamp_rie_error

__all__ = ["DENOISE_METHODS", "DenoiseResult", "QEstimate", "Q_METHODS",
           "QuadraticNetworkFit", "TensorSubspaceResult", "denoise", "estimate_q",
           "gamp_rie", "gamp_rie_error", "tensor_subspace"]
