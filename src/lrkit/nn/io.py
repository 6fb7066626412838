"""Save compressed models and load them back: a ``.safetensors`` file into the original
architecture (:mod:`lrkit.nn.weights_file`, written atomically with the user's usual file
permissions), or, for a ``transformers`` model, a folder that :func:`load` opens alone
(:mod:`lrkit.nn.model_folder`)."""

from __future__ import annotations

from lrkit.nn.model_folder import load_folder, save_folder
from lrkit.nn.weights_file import layer_specs, read_weights, write_weights  # noqa: F401


def save(model, path, tokenizer=None):
    """Write ``model`` to ``path``.

    A path ending in ``.safetensors``: the weights (factors for the compressed layers), the
    layer structure in its metadata; :func:`load` ``(model, path)`` puts them back into
    the original architecture. Sparse buffers are stored as their ``indices`` and
    ``values``. Any other path, for a ``transformers`` model: a folder that
    ``load(path)`` opens alone, in a fresh process, as the ``transformers`` model
    (:func:`lrkit.nn.model_folder.save_folder`; ``tokenizer`` is saved beside it).
    """
    if not str(path).lower().endswith(".safetensors"):
        return save_folder(model, path, tokenizer)
    if tokenizer is not None:
        raise ValueError("tokenizer= is saved with a model folder; pass a folder path "
                         "instead of a .safetensors file")
    write_weights(model, path)
    return path


def load(model, path=None):
    """Load what :func:`save` wrote.

    ``load(folder)``: the ``transformers`` model of a folder written by ``save(model,
    folder)`` (:func:`lrkit.nn.model_folder.load_folder`). ``load(model, file)``: a
    ``.safetensors`` file put into ``model`` (the uncompressed architecture it came from):
    the compressed layers are rebuilt, then all weights are loaded strictly. Returns the
    model.
    """
    if path is None:
        return load_folder(model)
    return read_weights(model, path)
