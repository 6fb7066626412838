"""Robust PCA separates a static background from a moving object (Candès et al. 2011).

The video is built from scikit-learn's sample photographs (a real scene with changing
illumination and a real moving patch), so the exact split is known. Each column of the
matrix is one frame; principal component pursuit returns the background as the low-rank
part and the moving patch as the sparse part. Saves ``background_separation.png`` (or the
path given as first argument).
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import lrkit  # noqa: E402
from lrkit.problems import datasets  # noqa: E402


def main(path="background_separation.png"):
    video = datasets.frame_sequence(n_frames=60, size=80, patch=14, seed=0)
    dec = lrkit.rpca(video.matrix, method="pcp")
    error = lrkit.relative_error(dec.low_rank, video.background)
    print(f"{dec}; background relative error {error:.2e}")
    frames = (0, 30, 59)
    fig, axes = plt.subplots(3, len(frames), figsize=(3.2 * len(frames), 6.6))
    for col, t in enumerate(frames):
        for row, (label, data) in enumerate((("frame", video.matrix),
                                             ("low rank (background)", dec.low_rank),
                                             ("sparse (foreground)", dec.sparse))):
            ax = axes[row, col]
            scale = {"vmin": -0.6, "vmax": 0.6} if row == 2 else {"vmin": 0.0, "vmax": 1.2}
            ax.imshow(data[:, t].reshape(video.frame_shape), cmap="gray", **scale)
            ax.set_title(f"{label}, t={t}", fontsize=8)
            ax.axis("off")
    fig.suptitle(f"PCP on {video.matrix.shape[1]} frames: background error {error:.1e}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"saved {path}")


if __name__ == "__main__":
    main(*sys.argv[1:])
