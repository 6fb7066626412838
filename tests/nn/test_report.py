"""CompressionReport (lrkit.nn.compression.report) and the factorisation registry."""

import pytest

from lrkit.nn.compression.methods import FACTORIZATIONS, get_factorization
from lrkit.nn.compression.report import COLUMNS, CompressionReport, LayerReport


def _report():
    return CompressionReport("whiten", 0.3, "uniform", 1.25, layers=[
        LayerReport("a", (8, 4), 2, 32, 24, 0.1, 0.2),
        LayerReport("b", (4, 4), None, 16, 16, 0.0, 0.0),
        LayerReport("mlp", (1536, 384), 1075, 589824, 412800, 0.3, 0.1, kept="width"),
    ])


def test_totals_rows_and_text():
    report = _report()
    assert (report.params_before, report.params_after) == (48 + 589824, 40 + 412800)
    assert report.rows() == [("a", "8x4", "rank 2", "32", "24", "0.100", "0.200"),
                             ("b", "4x4", "dense", "16", "16", "0.000", "0.000"),
                             ("mlp", "1536x384", "width 1075", "589,824", "412,800", "0.300",
                              "0.100")]
    text = str(report).splitlines()
    assert text[0] == "lrkit compress: whiten, ratio 0.3 (uniform), removed 30.0% in 1.2 s"
    assert text[1].split() == ["layer", "shape", "kept", "params", "before", "params", "after",
                               "weight", "err.", "output", "err."]
    assert len(text) == 2 + len(report.layers) and len(COLUMNS) == 7
    rmt = CompressionReport("whiten", None, "rmt", 0.5, layers=report.layers)
    assert "ranks from the data" in rmt.title


def test_every_factorization_is_registered_with_its_needs():
    assert set(FACTORIZATIONS) >= {"svd", "fwsvd", "asvd", "whiten", "features"}
    assert get_factorization("fwsvd").needs_loss and not get_factorization("svd").needs
    with pytest.raises(ValueError, match="method must be one of"):
        get_factorization("qr")
