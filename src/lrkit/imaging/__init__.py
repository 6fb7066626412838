"""Imaging with low-rank structure: dynamic MRI as low rank plus a dynamic part with double
TV (paper 25, NumPy), and the networks that need ``lrkit[nn]``: unrolled RPCA for small targets
(RPCANet, paper 28) and learned k-space sub-sampling (DPS, paper 37)."""

from lrkit._lazy import lazy_names
from lrkit.imaging.dynamic import DynamicResult, recover_dynamic

__getattr__, __dir__ = lazy_names(__name__, {
    "RPCANet": "lrkit.imaging.unrolled_rpca",
    "soft_iou_loss": "lrkit.imaging.unrolled_rpca",
    "LearnedSampling": "lrkit.imaging.learned_sampling",
})

__all__ = ["DynamicResult", "LearnedSampling", "RPCANet", "recover_dynamic", "soft_iou_loss"]
