"""A compressed ``transformers`` model as a folder that opens in one line.

``lrkit.nn.save(model, folder, tokenizer)`` writes

- ``lrkit_model.safetensors``: the weights, the factored layers' structure in its metadata
  (:func:`lrkit.nn.save`'s file form);
- ``config.json``: the model's configuration, its ``model_type`` replaced by a marker, so
  that ``AutoModel.from_pretrained(folder)`` stops at once with an error naming
  :func:`lrkit.nn.load` instead of filling the factored layers with random weights (a
  model class's own ``from_pretrained`` finds no weights file of its name and stops too);
- ``lrkit.json``: the real ``model_type``, the model class, and each replaced layer's
  structure (its rank, or its kept width);
- ``generation_config.json`` and the tokenizer's files, when there are some.

``lrkit.nn.load(folder)`` rebuilds the model class from the configuration, puts the
factored layers in and loads the weights strictly, in a fresh process, with no other
argument: ``generate()``, pipelines and the tokenizer (``AutoTokenizer.from_pretrained(
folder)``) work on it as on the original.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from lrkit.io import _umask, check_not_input, check_parent

WEIGHTS = "lrkit_model.safetensors"
MANIFEST = "lrkit.json"
#: ``model_type`` written into ``config.json``; transformers prints it in its error.
MARKER = "lrkit-factored: open this folder with lrkit.nn.load(folder)"
FORMAT = 1


def save_folder(model, folder, tokenizer=None):
    """Write ``model`` (a ``transformers`` model) and ``tokenizer`` to ``folder``, all at
    once: the folder appears complete or not at all. An existing folder is replaced only
    when it is empty or an earlier lrkit folder."""
    from lrkit.nn.weights_file import layer_specs, write_weights

    config = getattr(model, "config", None)
    if config is None or not hasattr(config, "to_dict"):
        raise ValueError(f"saving to a folder needs a transformers model (with .config); "
                         f"got {type(model).__name__}: save it to a .safetensors file")
    folder = check_folder_output(folder)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        write_weights(model, staging / WEIGHTS)
        settings = config.to_dict()
        manifest = {"format": FORMAT, "model_type": settings["model_type"],
                    "architecture": type(model).__name__,
                    "layers": layer_specs(model)}
        settings["model_type"] = MARKER
        _write_json(staging / "config.json", settings)
        _write_json(staging / MANIFEST, manifest)
        generation = getattr(model, "generation_config", None)
        if generation is not None and getattr(model, "can_generate", lambda: False)():
            generation.save_pretrained(staging)
        if tokenizer is not None:
            tokenizer.save_pretrained(staging)
        os.chmod(staging, 0o777 & ~_umask())
        _swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def load_folder(folder):
    """The ``transformers`` model of a folder written by :func:`save_folder`, in eval mode."""
    import transformers

    from lrkit.nn.weights_file import read_weights

    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        hint = (" (a plain transformers folder: open it with AutoModel.from_pretrained)"
                if (folder / "config.json").is_file() else "")
        raise ValueError(f"{folder} is not a folder written by lrkit.nn.save: no "
                         f"{MANIFEST}{hint}")
    missing = [name for name in ("config.json", WEIGHTS) if not (folder / name).is_file()]
    if missing:
        raise ValueError(f"{folder} lacks {missing[0]}: the folder is incomplete (write it "
                         "again with lrkit.nn.save)")
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{folder}: lrkit folder format {manifest.get('format')!r}; this "
                         f"lrkit reads format {FORMAT}")
    settings = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    settings["model_type"] = manifest["model_type"]
    config = transformers.AutoConfig.for_model(**settings)
    model_class = getattr(transformers, manifest["architecture"], None)
    if model_class is None:
        raise ValueError(f"{folder}: transformers {transformers.__version__} has no model "
                         f"class {manifest['architecture']}")
    with _without_initialisation():  # the weights are loaded next (2.6 s -> 0.02 s at 135M)
        model = model_class(config)
    model.tie_weights()
    if (folder / "generation_config.json").is_file():
        model.generation_config = transformers.GenerationConfig.from_pretrained(folder)
    return read_weights(model, folder / WEIGHTS).eval()


def _without_initialisation():
    """``transformers``' context that skips random initialisation, where it has one."""
    for module in ("transformers.initialization", "transformers.modeling_utils"):
        with contextlib.suppress(ImportError, AttributeError):
            return importlib.import_module(module).no_init_weights()
    return contextlib.nullcontext()


def check_folder_output(folder, inputs=(), what="output"):
    """``folder`` as a Path, after refusing one that exists and is not empty nor an lrkit
    folder, or is, holds or lies inside an input; its parent is created (and must be
    writable)."""
    folder = Path(folder)
    check_not_input(folder, inputs, what, holding=True)
    if folder.exists() and not _replaceable(folder):
        raise ValueError(f"{what} {folder} exists and is not an lrkit model folder; name a "
                         "new folder (saving never writes over a model it did not write)")
    check_parent(folder, what)
    return folder


def _replaceable(folder):
    return folder.is_dir() and (not any(folder.iterdir()) or (folder / MANIFEST).is_file())


def _swap_in(staging, folder):
    """Rename ``staging`` to ``folder``, the old folder (if any) moved aside first and
    removed after."""
    old = None
    if folder.exists():
        old = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.old."))
        os.replace(folder, old / "folder")
    os.replace(staging, folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_json(path, value):
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
