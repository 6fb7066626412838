"""WeLore's fine-tuning mode (WeLore-COFT): train only the low-rank components.

WeLore (Jaiswal et al. 2024, "From GaLore to WeLore") cuts each weight matrix to the rank its
min–max normalised spectrum supports (``lnn.compress(..., allocation="welore")``, one global
threshold on the normalised singular values). The matrices that come out as factors
``W ≈ B A`` are the *low-rank components* (LRCs); those whose spectrum is too flat stay dense,
the *non-low-rank components* (N-LRCs). The paper's gradient argument is that the LRCs are
where the gradients have been low rank all along, so they are the ones worth training:
WeLore-COFT fine-tunes the factors ``B``, ``A`` (and bias) of every LRC and freezes every
N-LRC, the embeddings and the norms. The trainable parameters, their gradients and AdamW's
two moments then scale with ``Σ r_ℓ (m_ℓ + n_ℓ)`` over the LRCs instead of the whole model.

>>> small, _ = lnn.compress(model, 0.5, "svd", allocation="welore")    # doctest: +SKIP
>>> tuned = lnn.welore_coft(small, modules_to_save=["classifier"])  # doctest: +SKIP
>>> lnn.finetune(tuned, batches, loss_fn)                             # doctest: +SKIP
"""

from __future__ import annotations

import copy

from torch import nn

from lrkit.nn.adapters.adaptation import _check_modules
from lrkit.nn.layers import LowRankLinear


def low_rank_components(model):
    """``{name: LowRankLinear}``: the layers of a compressed ``model`` held as factors
    (WeLore's LRCs)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LowRankLinear)}


def welore_coft(model, *, modules_to_save=(), inplace=False):
    """Freeze ``model`` except the factors of its low-rank components (WeLore-COFT).

    Parameters
    ----------
    model : torch.nn.Module
        A compressed model: :func:`lrkit.nn.compress`'s output, best with
        ``allocation="welore"`` (the paper's split into LRCs and N-LRCs).
    modules_to_save : sequence of str
        Modules left fully trainable besides the LRCs (a new task head).
    inplace : bool, default False
        Modify ``model`` rather than a copy.

    Returns
    -------
    torch.nn.Module
        The model with only the LRCs' parameters (and ``modules_to_save``) trainable; its
        outputs are unchanged. It is a whole compressed model (no adapter to merge): save
        it with :func:`lrkit.nn.save`.
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    modules_to_save = _check_modules(model, modules_to_save)
    if not low_rank_components(model):
        raise ValueError("model has no low-rank components: compress it first, e.g. "
                         "lnn.compress(model, 0.5, 'svd', allocation='welore')")
    tuned = model if inplace else copy.deepcopy(model)
    for parameter in tuned.parameters():
        parameter.requires_grad_(False)
    trained = [*low_rank_components(tuned).values(),
               *(tuned.get_submodule(name) for name in modules_to_save)]
    for module in trained:
        for parameter in module.parameters():
            parameter.requires_grad_(True)
    return tuned
