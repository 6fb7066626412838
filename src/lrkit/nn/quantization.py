"""Low-rank factors with int8 weights: PyTorch's dynamic quantisation of every linear map.

LoRD and EoRA both combine a low-rank decomposition with quantisation. :func:`quantize_int8`
replaces every ``nn.Linear`` of a model (the two factors of each
:class:`~lrkit.nn.LowRankLinear`, the narrowed maps of MoDeGPT's
:class:`~lrkit.nn.ResizedLinear`, the dense layers left) by PyTorch's dynamically quantised
linear map: int8 weights (one scale per output channel), activations quantised on the fly, for CPU
inference. Examples: ``examples/quantize_llm_folder.py``.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn

from lrkit.nn.layers import ResizedLinear
from lrkit.nn.surgery import check_model, replace_module


def quantize_int8(model):
    """A copy of ``model`` with every linear map (``nn.Linear`` and lrkit's
    :class:`~lrkit.nn.ResizedLinear`, including the factors inside low-rank layers) in
    int8, by ``torch.ao.quantization.quantize_dynamic``; for CPU inference only (the result
    does not train)."""
    check_model(model)
    model = copy.deepcopy(model)
    for name, module in list(model.named_modules()):
        if type(module) is ResizedLinear:  # PyTorch quantises the nn.Linear class only
            replace_module(model, name, _plain(module))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the int8 tensor API's deprecation notice
        return torch.ao.quantization.quantize_dynamic(
            model, {nn.Linear: torch.ao.quantization.per_channel_dynamic_qconfig},
            dtype=torch.qint8, inplace=True)


def _plain(module):
    linear = nn.Linear(module.in_features, module.out_features, bias=module.bias is not None,
                       device=module.weight.device, dtype=module.weight.dtype)
    linear.load_state_dict(module.state_dict())
    return linear
