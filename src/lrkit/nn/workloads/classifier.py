"""Sentence classification on top of a pretrained encoder (the adapters' real task).

:class:`SentenceClassifier` mean-pools the encoder's token states (padding excluded) and
applies a linear head named ``classifier`` (pass ``modules_to_save=["classifier"]`` to
:func:`lrkit.nn.adapt` to train it with the adapters).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def mean_pooled(model, batch):
    """Sentence embeddings: token states averaged over the attention mask (sentence-BERT)."""
    states = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
    return (states * mask).sum(1) / mask.sum(1).clamp_min(1.0)


class SentenceClassifier(nn.Module):
    """``logits = W_c · mean_pool(encoder(tokens)) + b_c``."""

    def __init__(self, encoder, num_labels=2, seed=0):
        super().__init__()
        self.encoder = encoder
        hidden = encoder.config.hidden_size
        generator = torch.Generator().manual_seed(seed)
        self.classifier = nn.Linear(hidden, num_labels)
        with torch.no_grad():
            self.classifier.weight.normal_(0.0, 0.02, generator=generator)
            self.classifier.bias.zero_()

    @torch.no_grad()
    def fit_head(self, batches):
        """Fit the head alone on the frozen encoder's sentence embeddings of labelled
        ``batches`` (a linear probe: multinomial logistic regression, scikit-learn's
        ``LogisticRegression``); returns ``self``."""
        from sklearn.linear_model import LogisticRegression

        features, labels = [], []
        for batch in batches:
            inputs = {key: value for key, value in batch.items() if key != "labels"}
            features.append(mean_pooled(self.encoder, inputs).to(torch.float64))
            labels.append(batch["labels"])
        labels = torch.cat(labels).numpy()
        if len(set(labels.tolist())) != self.classifier.out_features:
            raise ValueError(f"the batches hold {len(set(labels.tolist()))} labels; the head "
                             f"has {self.classifier.out_features}")
        probe = LogisticRegression(max_iter=2000).fit(torch.cat(features).numpy(), labels)
        weight, bias = torch.as_tensor(probe.coef_), torch.as_tensor(probe.intercept_)
        if weight.shape[0] == 1:  # two classes: one score; as two logits, the same softmax
            weight, bias = torch.cat([-weight / 2, weight / 2]), torch.cat([-bias / 2, bias / 2])
        self.classifier.weight.copy_(weight.to(self.classifier.weight.dtype))
        self.classifier.bias.copy_(bias.to(self.classifier.bias.dtype))
        return self

    def forward(self, input_ids, attention_mask, token_type_ids=None, **_):
        batch = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            batch["token_type_ids"] = token_type_ids
        return self.classifier(mean_pooled(self.encoder, batch))


def labelled_batches(tokenizer, texts, labels, batch_size=32, max_length=64):
    """Tokenised batches (dicts with ``labels``) of ``texts``, in order."""
    if len(texts) != len(labels):
        raise ValueError(f"texts and labels differ in length ({len(texts)} vs {len(labels)})")
    batches = []
    for start in range(0, len(texts), batch_size):
        batch = dict(tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                               max_length=max_length, return_tensors="pt"))
        batch["labels"] = torch.as_tensor(labels[start:start + batch_size])
        batches.append(batch)
    return batches


def classification_loss(model, batch):
    """Cross-entropy of ``model`` on a labelled batch (the ``loss_fn`` of
    :func:`lrkit.nn.adapters.finetune`)."""
    inputs = {key: value for key, value in batch.items() if key != "labels"}
    return F.cross_entropy(model(**inputs), batch["labels"])


@torch.no_grad()
def accuracy(model, batches, progress=True):
    """Fraction of correctly classified examples over labelled ``batches``: batched
    inference without gradients. ``progress``: ``True`` shows a bar per batch on a terminal,
    ``False`` nothing, a callable ``progress("accuracy", done, total)`` receives the reports."""
    from lrkit._progress import stage_bars

    batches = list(batches)
    was_training = model.training
    model.eval()
    correct = total = 0
    try:
        with torch.inference_mode(), stage_bars(progress, "evaluating") as report:
            for done, batch in enumerate(batches, start=1):
                inputs = {key: value for key, value in batch.items() if key != "labels"}
                predicted = model(**inputs).argmax(dim=-1)
                correct += int((predicted == batch["labels"]).sum())
                total += batch["labels"].numel()
                if report is not None:
                    report("accuracy", done, len(batches))
    finally:
        model.train(was_training)
    return correct / max(total, 1)
