"""Output-feature compression of embedding tables (paper 12): the closed form, its
optimality under the token shares, and ``compress(method="features")`` on a table."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import lrkit.nn as lnn  # noqa: E402
from lrkit.cli import main  # noqa: E402
from lrkit.nn.compression.embedding_features import (  # noqa: E402
    embedding_rank,
    feature_embedding,
    token_counts,
)
from lrkit.nn.layers import LowRankEmbedding  # noqa: E402
from lrkit.nn.workloads import models  # noqa: E402


def _batches(vocab=512, count=4):
    generator = torch.Generator().manual_seed(0)
    # a skewed token distribution, as in text: low ids are frequent
    return [{"input_ids": (ids := (torch.rand(8, 16, generator=generator) ** 3 * vocab).long()),
             "attention_mask": torch.ones_like(ids)} for _ in range(count)]


def test_feature_embedding_is_the_best_rank_r_map_of_the_weighted_rows():
    torch.manual_seed(0)
    table = torch.nn.Embedding(50, 12)
    counts = torch.zeros(50, dtype=torch.float64)
    counts[:10] = torch.arange(10, 0, -1, dtype=torch.float64) * 20
    layer, error = feature_embedding(table, 4, counts, unseen_share=0.3)
    E = table.weight.detach().double()
    shares = 0.7 * counts / counts.sum() + 0.3 / 50
    approx = layer(torch.arange(50)).detach().double()
    measured = (shares @ (E - approx).square().sum(1)) / (shares @ E.square().sum(1))
    assert error == pytest.approx(float(measured.sqrt()), rel=1e-5)
    # no other rank-4 affine map of the rows does better: try the unweighted PCA's
    centred = E - E.mean(0)
    Q = torch.linalg.svd(centred, full_matrices=False).Vh[:4].T
    other = E.mean(0) + (E - E.mean(0)) @ Q @ Q.T
    worse = (shares @ (E - other).square().sum(1)) / (shares @ E.square().sum(1))
    assert float(measured) <= float(worse) + 1e-12
    with pytest.raises(ValueError, match="rank"):
        feature_embedding(table, 12, counts)


def test_token_counts_skip_padding():
    model = models.tiny_bert(hidden=64)
    batch = {"input_ids": torch.tensor([[5, 6, 6, 0]]),
             "attention_mask": torch.tensor([[1, 1, 1, 0]])}
    counts = token_counts(model, model.embeddings.word_embeddings, [batch])
    assert counts[6] == 2 and counts[5] == 1 and counts[0] == 0 and counts.sum() == 3


def test_compress_features_shrinks_the_embedding_table_and_saves(tmp_path):
    model = models.tiny_bert(hidden=64)
    batches = _batches()
    name = "embeddings.word_embeddings"
    small, report = lnn.compress(model, 0.5, "features", calibration=batches,
                                 layers=[name, *lnn.linear_layers(model)])
    table = small.embeddings.word_embeddings
    assert isinstance(table, LowRankEmbedding) and table.rank == embedding_rank((512, 64), 0.5)
    row = report.layers[0]
    assert row.name == name and row.params_after <= 0.5 * row.params_before
    assert 0 < row.output_error < row.weight_error  # frequent rows are kept better
    path = tmp_path / "features.safetensors"
    lnn.save(small, path)
    fresh = lnn.load(models.tiny_bert(hidden=64, seed=5), path)
    with torch.no_grad():
        assert torch.equal(fresh(**batches[0]).last_hidden_state,
                           small(**batches[0]).last_hidden_state)
    only, _ = lnn.compress(model, 0.3, "features", calibration=batches, layers=[name])
    assert isinstance(only.embeddings.word_embeddings, LowRankEmbedding)
    assert type(only.encoder.layer[0].attention.self.query) is torch.nn.Linear


def test_an_embedding_table_is_refused_where_it_cannot_be_served():
    model = models.tiny_bert(hidden=64)
    name = "embeddings.word_embeddings"
    with pytest.raises(ValueError, match="method='features'"):
        lnn.compress(model, 0.3, "whiten", calibration=_batches(), layers=[name])
    with pytest.raises(ValueError, match="calibration"):
        lnn.compress(model, 0.3, "features", layers=[name])


def test_compress_cli_embeddings_flag_needs_features(capsys):
    assert main(["compress", "minilm", "--embeddings"]) == 1
    assert "--method features" in capsys.readouterr().err
