"""Per-example gradients of LoRA factors and linear layers in one backward pass.

DP-SGD clips each example's gradient, so it needs every example's gradient, not their sum.
For a layer ``y = W x`` applied to the tokens ``x_t`` of example ``i``, the gradient of that
example's loss is ``Σ_t g_t x_tᵀ``, where ``g_t = ∂ℓ_i/∂y_t`` (Goodfellow 2015; the
technique Opacus builds on). One forward pass records each layer's input, one backward pass
its output gradient, and an ``einsum`` over the tokens gives all ``n`` gradients at once:

- ``nn.Linear``: ``∂ℓ_i/∂W = Σ_t g_t x_tᵀ``, ``∂ℓ_i/∂b = Σ_t g_t``;
- LoRA, ``y = W₀ x + s B A x``: ``∂ℓ_i/∂B = s Σ_t g_t (A x_t)ᵀ``,
  ``∂ℓ_i/∂A = s Σ_t (Bᵀ g_t) x_tᵀ``.

This is exact when each example's loss depends on its own rows only (no batch
normalisation) and the batch loss is the mean of the examples' losses, which is what the
backward pass sees: its output gradients carry a factor ``1/n`` that is taken back out.
"""

from __future__ import annotations

import torch
from torch import nn

from lrkit.nn.adapters.lora import LoRALinear


def _owners(model, parameters):
    """``{id(parameter): (module, attribute)}`` for parameters whose per-example gradient
    has a closed form here; ``None`` when any parameter has none."""
    owners = {}
    for module in model.modules():
        if type(module) is LoRALinear and not module.options["deactivation"]:
            names = ("lora_A", "lora_B")
        elif type(module) is nn.Linear:
            names = ("weight", "bias")
        else:
            continue
        for name in names:
            parameter = getattr(module, name, None)
            if isinstance(parameter, nn.Parameter):
                owners[id(parameter)] = (module, name)
    if not all(id(p) in owners for p in parameters):
        return None
    return owners


def per_example_gradients(model, parameters, batch, loss_fn, n):
    """Each example's gradient of ``parameters``: a list of tensors of shape
    ``(n, *p.shape)``, or ``None`` when some parameter is not a LoRA factor or an
    ``nn.Linear``'s weight or bias (then take them one example at a time).

    Parameters
    ----------
    model : torch.nn.Module
    parameters : list of torch.nn.Parameter
    batch
        What ``loss_fn`` takes; ``n`` examples along the first axis.
    loss_fn : callable(model, batch) -> scalar tensor, the mean of the examples' losses
    n : int
    """
    owners = _owners(model, parameters)
    if owners is None:
        return None
    modules = {id(module): module for module, _ in owners.values()}
    records = {key: [] for key in modules}   # (input, output gradient) per call

    def remember(key):
        def hook(module, inputs, output):
            entry = [inputs[0].detach(), None]
            records[key].append(entry)
            if output.requires_grad:
                output.register_hook(lambda g: entry.__setitem__(1, g.detach()))
        return hook

    handles = [module.register_forward_hook(remember(key)) for key, module in modules.items()]
    try:
        torch.autograd.grad(loss_fn(model, batch), list(parameters), allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    gradients = []
    for p in parameters:
        module, name = owners[id(p)]
        gradients.append(n * _gradient(module, name, records[id(module)], n))
    return gradients


def _gradient(module, name, calls, n):
    """``Σ`` over the module's calls of each example's gradient of ``module.<name>``."""
    parameter = getattr(module, name)
    total = parameter.new_zeros(n, *parameter.shape)
    for x, g in calls:
        if g is None:
            continue
        x, g = x.reshape(n, -1, x.shape[-1]), g.reshape(n, -1, g.shape[-1])
        if name == "weight":
            total += torch.einsum("nto,nti->noi", g, x)
        elif name == "bias":
            total += g.sum(1)
        elif name == "lora_B":
            total += module.scaling * torch.einsum("nto,ntr->nor", g, x @ module.lora_A.T)
        else:  # lora_A
            total += module.scaling * torch.einsum("ntr,nti->nri", g @ module.lora_B, x)
    return total
