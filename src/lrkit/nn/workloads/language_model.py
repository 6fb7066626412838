"""A small decoder-only transformer and a character corpus, the workload for training in
low rank (:func:`lrkit.nn.pretrain`).

The model is GPT-style (pre-norm blocks of causal self-attention and a GELU MLP, learned
positions, an untied output head). Its linear layers are named ``attention.qkv``,
``attention.proj``, ``mlp.fc``, ``mlp.proj``; those are what low-rank methods target
(:data:`BLOCK_LAYERS`), while the embeddings and the head stay dense, as in GaLore.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lrkit._validation import check_int
from lrkit.nn.loop import TrainingHistory, train_steps

#: Substrings naming the linear layers inside the transformer blocks.
BLOCK_LAYERS = ("attention.", "mlp.")


def block_layers(name, module):
    """The ``targets=`` callable that selects the blocks' linear layers."""
    return name.startswith("blocks.") and any(key in name for key in BLOCK_LAYERS)


class CharCorpus:
    """A text as character ids, with a fixed train / validation split (the last
    ``validation`` fraction)."""

    def __init__(self, text, validation=0.05):
        if not text:
            raise ValueError("the corpus text is empty")
        self.chars = sorted(set(text))
        lookup = np.zeros(max(map(ord, self.chars)) + 1, dtype=np.int64)
        lookup[[ord(c) for c in self.chars]] = np.arange(len(self.chars))
        ids = lookup[np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]
        cut = int(len(ids) * (1 - validation))
        self.train, self.validation = torch.from_numpy(ids[:cut]), torch.from_numpy(ids[cut:])

    @property
    def vocab_size(self):
        return len(self.chars)

    def batch(self, split, batch_size, context, generator):
        """``(inputs, targets)`` of ``batch_size`` random windows of ``context`` ids."""
        data = self.train if split == "train" else self.validation
        starts = torch.randint(0, len(data) - context - 1, (batch_size,), generator=generator)
        windows = torch.stack([data[s:s + context + 1] for s in starts.tolist()])
        return windows[:, :-1], windows[:, 1:]


class Attention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, c // self.heads).unbind(2)
        out = nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
        return self.proj(out.transpose(1, 2).reshape(b, t, c))


class MLP(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, 4 * width)
        self.proj = nn.Linear(4 * width, width)

    def forward(self, x):
        return self.proj(nn.functional.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention, self.mlp = Attention(width, heads), MLP(width)

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    """Decoder-only transformer over ``vocab_size`` tokens.

    Parameters
    ----------
    vocab_size : int
    context : int
        Longest input.
    width, depth, heads : int
        Embedding width, number of blocks, attention heads (``width % heads == 0``).
    """

    def __init__(self, vocab_size, context=128, width=192, depth=4, heads=4):
        super().__init__()
        if width % heads:
            raise ValueError(f"width={width} must be a multiple of heads={heads}")
        self.context = context
        self.tokens = nn.Embedding(vocab_size, width)
        self.positions = nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1], device=ids.device))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))


def lm_loss(model, inputs, targets):
    """Mean next-token cross-entropy."""
    logits = model(inputs)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                       targets.reshape(-1))


@dataclass(kw_only=True)
class PretrainHistory(TrainingHistory):
    """What :func:`pretrain` measured: the :class:`~lrkit.nn.loop.TrainingHistory` of the
    run, whose ``evaluations`` are ``(step, validation perplexity)``."""

    @property
    def validation(self):
        """``(step, perplexity)`` on the held-out split."""
        return self.evaluations

    @property
    def perplexity(self):
        """The last validation perplexity."""
        return self.evaluations[-1][1]


@torch.no_grad()
def perplexity(model, corpus, *, batches=8, batch_size=32, seed=0):
    """``exp`` of the mean validation loss over ``batches`` fixed random windows."""
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    losses = [float(lm_loss(model, *corpus.batch("validation", batch_size, model.context,
                                                 generator))) for _ in range(batches)]
    model.train(was_training)
    return float(np.exp(np.mean(losses)))


def pretrain(model, corpus, optimizer, steps, *, batch_size=16, seed=0, eval_every=None,
             step_callback=None, progress=True):
    """Train ``model`` on ``corpus`` for ``steps`` steps of ``optimizer``.

    ``step_callback(step)`` runs after each optimizer step (periodic re-orthogonalisation or
    truncation). ``progress``: ``True`` shows a progress bar on a terminal (as
    :func:`~lrkit.nn.finetune` does), ``False`` nothing, a callable ``progress(step, loss)``
    receives the reports. Validation perplexity is measured every ``eval_every`` steps
    (default: 4 times) and at the end, outside the steps' timing.
    """
    report = progress if callable(progress) else None
    steps = check_int("steps", steps, 1)
    eval_every = eval_every or max(1, steps // 4)
    generator = torch.Generator().manual_seed(seed)
    history = PretrainHistory()

    def compute(_):
        return lm_loss(model, *corpus.batch("train", batch_size, model.context, generator))

    def evaluate(step, loss):
        if step % eval_every == 0 or step == steps:
            history.evaluations.append((step, perplexity(model, corpus)))
        if report is not None:
            report(step, loss)

    return train_steps(model, compute, steps, optimizer=optimizer, after_step=step_callback,
                       callback=evaluate, progress=report is None and bool(progress),
                       label="pre-training", history=history)
