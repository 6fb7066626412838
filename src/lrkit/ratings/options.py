"""The declared choices of :class:`~lrkit.ratings.MatrixCompletion` that the command line
reads without loading the model (and scikit-learn)."""

#: ``method=`` of the default: the biased model or a plain low-rank one, whichever predicts
#: held-out entries better.
AUTO = "auto"
#: ``method=`` of the ratings model: biased alternating least squares (ALS-WR).
BIASED = "biased_als"
#: ``fill=`` rules for the entries a solver cannot reach.
FILL_RULES = ("auto", "error", "mean")
