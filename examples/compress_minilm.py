"""Compress the real all-MiniLM-L6-v2 sentence-embedding model with every method.

Plain SVD, Fisher-weighted (FWSVD), activation-scaled (ASVD) and whitened (SVD-LLM) low-rank
factorisation of the attention and MLP layers, at 20 / 30 / 50 % parameter reduction; quality
is the cosine similarity of the compressed model's sentence embeddings to the original's on
held-out text. The papers' ordering whiten ≥ asvd ≥ fwsvd ≥ svd is printed and plotted to
``compression_sweep.png`` (or the path given as first argument).
"""

import sys

import lrkit.nn as lnn
from lrkit.nn.workloads import datasets, models
from lrkit.plotting import plot_quality_sweep


def main(path="compression_sweep.png"):
    model, tokenizer = models.load_minilm()
    calibration = datasets.text_batches(tokenizer, datasets.stdlib_sentences(256))
    evaluation = datasets.text_batches(tokenizer, datasets.stdlib_sentences(256, "evaluation"))
    points = lnn.quality_sweep(model, calibration, evaluation, (0.2, 0.3, 0.5),
                               progress=lambda p: print(f"{p.method:>7} {p.ratio:.0%}: "
                                                        f"similarity {p.similarity:.3f} "
                                                        f"({p.seconds:.1f} s)"))
    for ratio in (0.2, 0.3, 0.5):
        ranked = sorted((p for p in points if p.ratio == ratio), key=lambda p: -p.similarity)
        print(f"{ratio:.0%} removed: " + " > ".join(p.method for p in ranked))
    plot_quality_sweep(points, path, title="all-MiniLM-L6-v2: embedding similarity vs ratio")
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
