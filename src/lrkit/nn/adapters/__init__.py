"""Adapter layers: a frozen pretrained ``nn.Linear`` plus a small trainable update.

Importing this package registers every method in :data:`ADAPTERS`
(``lora``, ``pissa``, ``block_lora``, ``svfit``, ``salt``, ``snell``); SNELL layers share
one budget through :class:`lrkit.nn.adapters.snella.SparsityAllocator` (SNELLA). Fine-tuning a
compressed model without adapters, through its own low-rank factors, is
:func:`lrkit.nn.adapters.welore.welore_coft` (WeLore-COFT).
"""

from lrkit.nn.adapters.base import ADAPTERS, AdapterLinear
from lrkit.nn.adapters.lora import BlockLoRALinear, LoRALinear, PiSSALinear
from lrkit.nn.adapters.snell import SNELLLinear
from lrkit.nn.adapters.spectral import SALTLinear, SVFitLinear

__all__ = ["ADAPTERS", "AdapterLinear", "BlockLoRALinear", "LoRALinear", "PiSSALinear",
           "SALTLinear", "SNELLLinear", "SVFitLinear"]
