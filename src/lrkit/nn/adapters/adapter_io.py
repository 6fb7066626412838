"""Save adapters alone (not the base model) and load them onto a base model.

Two formats:

- ``"lrkit"`` (default): one ``.safetensors`` file with every adapter tensor (trainable and
  frozen factors, such as SVFit's singular vectors) and the ``modules_to_save`` weights; each
  layer's ``spec()`` and the adapter config are in the metadata. Any method round-trips.
- ``"peft"``: a folder that ``peft.PeftModel.from_pretrained(base, folder)`` loads
  (``adapter_config.json`` and ``adapter_model.safetensors``), for every adapter with a
  LoRA form (``lora_factors``): LoRA; PiSSA as what PEFT stores for it, the change from the
  pretrained weight, a rank-2r LoRA ``[B, −B₀] [A; A₀]`` (so it loads onto the unmodified
  base model); Block-LoRA as the rank ``r / n`` LoRA its shared blocks make; and, when
  asked (``as_lora=True``), SVFit and SALT as the exact LoRA of their change. PEFT LoRA
  folders load back (as LoRA).
"""

from __future__ import annotations

import copy
import json
import os

import torch

from lrkit.io import atomic_write
from lrkit.nn.adapters.adaptation import CONFIG_ATTRIBUTE, adapter_layers
from lrkit.nn.layers import build_module
from lrkit.nn.surgery import put_module

_METADATA_KEY = "lrkit_adapter"
_FORMATS = ("lrkit", "peft")
_PEFT_PREFIX = "base_model.model."


def save_adapter(model, path, format="lrkit", extra=None, as_lora=False):
    """Write the adapters of ``model`` (see the module docstring); returns ``path``.

    ``as_lora``: with ``format="peft"``, write SVFit and SALT adapters as the LoRA that adds
    the same change to the base weight (exact; it loads back as a LoRA, not as SVFit).

    ``extra``: JSON-serialisable facts to keep with an lrkit adapter (label names, the base
    model's name); :func:`load_adapter` puts them in the loaded model's
    ``lrkit_adapter_config["extra"]``.
    """
    if format not in _FORMATS:
        raise ValueError(f"format must be one of {_FORMATS}; got {format!r}")
    layers = adapter_layers(model)
    if not layers:
        raise ValueError("model has no adapters to save (adapt it first)")
    if format == "peft":
        return _save_peft(model, layers, path, as_lora)
    from safetensors.torch import save_file

    config = dict(getattr(model, CONFIG_ATTRIBUTE, {"method": None, "modules_to_save": []}))
    if extra is not None:
        config["extra"] = extra
    tensors = {f"{name}.{key}": value.detach().contiguous().clone()
               for name, layer in layers.items() for key, value in layer.saved_state().items()}
    for module_name in config["modules_to_save"]:
        for key, value in model.get_submodule(module_name).state_dict().items():
            tensors[f"{module_name}.{key}"] = value.detach().contiguous().clone()
    metadata = {_METADATA_KEY: json.dumps({
        "config": config, "layers": {name: layer.spec() for name, layer in layers.items()}})}
    atomic_write(path, lambda temporary: save_file(tensors, temporary, metadata=metadata))
    return path


def load_adapter(model, path, inplace=False):
    """Put the adapters saved at ``path`` (an lrkit file or a PEFT LoRA folder) onto
    ``model``, the base model they were trained from. A copy unless ``inplace``; only the
    adapter and ``modules_to_save`` parameters are trainable, as after :func:`adapt`."""
    path = str(path)
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such adapter file or folder")
    if adapter_layers(model):
        raise ValueError("model already has adapters: load onto the base model")
    specs, tensors, config = (_read_peft(path) if os.path.isdir(path) else _read_lrkit(path))
    model = model if inplace else copy.deepcopy(model)
    modules = dict(model.named_modules())
    missing = [name for name in specs if type(modules.get(name)) is not torch.nn.Linear]
    if missing:
        raise ValueError(f"{path} adapts layers the model does not have as nn.Linear: "
                         f"{missing[:3]}")
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for name, spec in specs.items():
        linear = modules[name]
        if (spec["out"], spec["in"]) != tuple(linear.weight.shape):
            raise ValueError(f"{path} does not fit layer {name} of the model: adapter for "
                             f"{spec['out']}×{spec['in']}, layer {tuple(linear.weight.shape)}")
        spec = {**spec, "bias": linear.bias is not None}
        layer = build_module(spec).to(device=linear.weight.device, dtype=linear.weight.dtype)
        expected = set(layer.saved_state())
        state = {key[len(name) + 1:]: value for key, value in tensors.items()
                 if key.startswith(name + ".") and key[len(name) + 1:] in expected}
        if set(state) != expected:
            raise ValueError(f"{path}: layer {name} lacks {sorted(expected - set(state))}")
        try:
            layer.load_state_dict(state, strict=False)
        except RuntimeError as error:
            raise ValueError(f"{path} does not fit layer {name} of the model: "
                             f"{' '.join(str(error).split())[:200]}") from error
        with torch.no_grad():
            try:
                layer.rebuild(linear.weight.detach())
            except ValueError as error:
                raise ValueError(f"{path}, layer {name}: {error}") from None
        model = put_module(model, name, layer.attach(linear))
    for module_name in config["modules_to_save"]:
        module = model.get_submodule(module_name)
        prefix = module_name + "."
        module.load_state_dict({key[len(prefix):]: value for key, value in tensors.items()
                                if key.startswith(prefix)})
        for parameter in module.parameters():
            parameter.requires_grad_(True)
    setattr(model, CONFIG_ATTRIBUTE, config)
    return model


def _read_lrkit(path):
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as error:  # safetensors raises its own error types for damaged files
        raise ValueError(f"{path} is not a readable safetensors file: {error}") from error
    if _METADATA_KEY not in metadata:
        raise ValueError(f"{path} was not written by lrkit.nn.save_adapter (no adapter "
                         "metadata)")
    saved = json.loads(metadata[_METADATA_KEY])
    return saved["layers"], tensors, saved["config"]


def _save_peft(model, layers, path, as_lora):
    from safetensors.torch import save_file

    forms = {layer.kind: layer.PEFT_FORM for layer in layers.values()}
    kinds = sorted(kind for kind, form in forms.items() if form is None)
    if kinds:
        raise ValueError(f"format='peft' writes adapters with a LoRA form (LoRA, PiSSA, "
                         f"Block-LoRA; SVFit and SALT with as_lora=True); {kinds[0]} has "
                         "none: save it with format='lrkit'")
    delta = sorted(kind for kind, form in forms.items() if form == "delta")
    if delta and not as_lora:
        raise ValueError(f"{delta[0]} has no PEFT form of its own; pass as_lora=True to "
                         "write its change from the base weight as the equal LoRA (it "
                         "then loads back as a LoRA)")
    config = getattr(model, CONFIG_ATTRIBUTE, {"modules_to_save": []})
    if config["modules_to_save"]:
        raise ValueError("format='peft' does not write modules_to_save; use format='lrkit'")
    tensors, ranks = {}, {}
    for name, layer in layers.items():
        B, A = layer.lora_factors()
        tensors[f"{_PEFT_PREFIX}{name}.lora_A.weight"] = A.contiguous().clone()
        tensors[f"{_PEFT_PREFIX}{name}.lora_B.weight"] = B.contiguous().clone()
        ranks[name] = A.shape[0]
    rank = max(ranks.values())
    peft_config = {
        "peft_type": "LORA", "task_type": None, "base_model_name_or_path": None,
        "r": rank, "lora_alpha": rank, "target_modules": sorted(layers),
        "rank_pattern": {n: r for n, r in ranks.items() if r != rank},
        "alpha_pattern": {n: r for n, r in ranks.items() if r != rank},
        "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": False,
        "init_lora_weights": True, "use_rslora": False, "use_dora": False,
        "modules_to_save": None, "inference_mode": True,
    }
    if os.path.isfile(path):
        raise ValueError(f"{path} is a file; format='peft' writes a folder")
    os.makedirs(path, exist_ok=True)
    atomic_write(os.path.join(path, "adapter_model.safetensors"),
                 lambda temporary: save_file(tensors, temporary, metadata={"format": "pt"}))
    atomic_write(os.path.join(path, "adapter_config.json"),
                 lambda temporary: _write_json(peft_config, temporary))
    return path


def _write_json(data, path):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)


def _read_peft(folder):
    from safetensors import safe_open

    config_path = os.path.join(folder, "adapter_config.json")
    weights_path = os.path.join(folder, "adapter_model.safetensors")
    if not (os.path.isfile(config_path) and os.path.isfile(weights_path)):
        raise ValueError(f"{folder} is not a PEFT adapter folder (adapter_config.json and "
                         "adapter_model.safetensors)")
    with open(config_path, encoding="utf-8") as handle:
        config = json.load(handle)
    if config.get("peft_type") != "LORA" or config.get("use_dora") or config.get("use_rslora"):
        raise ValueError(f"{folder}: only plain PEFT LoRA adapters load into lrkit")
    with safe_open(weights_path, framework="pt") as handle:
        raw = {key: handle.get_tensor(key) for key in handle.keys()}
    specs, tensors = {}, {}
    for key, value in raw.items():
        if not key.endswith(".lora_A.weight"):
            continue
        name = key[len(_PEFT_PREFIX):-len(".lora_A.weight")]
        rank = value.shape[0]
        alpha = _pattern(config, "alpha_pattern", name, config.get("lora_alpha", rank))
        B = raw[f"{_PEFT_PREFIX}{name}.lora_B.weight"]
        specs[name] = {"type": "lora", "in": value.shape[1], "out": B.shape[0], "rank": rank,
                       "bias": True, "alpha": float(alpha), "options": {}}
        tensors[f"{name}.lora_A"], tensors[f"{name}.lora_B"] = value, B
    return specs, tensors, {"method": "lora", "modules_to_save": []}


def _pattern(config, key, name, default):
    for pattern, value in (config.get(key) or {}).items():
        if name == pattern or name.endswith("." + pattern):
            return value
    return default
