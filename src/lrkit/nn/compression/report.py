"""What :func:`lrkit.nn.compress` reports: one row per layer, and the totals."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LayerReport:
    """One layer's outcome. ``rank`` is what the layer kept: the rank of its factors, or,
    with ``kept="width"`` (MoDeGPT's structured compression), the number of neurons or
    head coordinates it kept; None: the layer stayed dense."""

    name: str
    shape: tuple
    rank: int | None
    params_before: int
    params_after: int
    weight_error: float
    output_error: float
    kept: str = "rank"

    @property
    def kept_text(self):
        """``"rank 32"``, ``"width 1075"`` or ``"dense"``."""
        return "dense" if self.rank is None else f"{self.kept} {self.rank}"


@dataclass
class CompressionReport:
    """Per-layer outcome of :func:`compress` (``rank=None``: the layer stayed dense)."""

    method: str
    ratio: float
    allocation: str
    seconds: float
    layers: list = field(default_factory=list)
    #: Gains measured by ``allocation="sensitivity"`` (pass back as ``sensitivities=``).
    sensitivities: dict | None = None

    @property
    def params_before(self):
        return sum(layer.params_before for layer in self.layers)

    @property
    def params_after(self):
        return sum(layer.params_after for layer in self.layers)

    @property
    def achieved_ratio(self):
        """Fraction of the targeted layers' parameters actually removed."""
        return 1.0 - self.params_after / self.params_before

    def rows(self):
        """One row of strings per layer: the columns of :data:`COLUMNS`."""
        return [(r.name, f"{r.shape[0]}x{r.shape[1]}", r.kept_text,
                 f"{r.params_before:,}", f"{r.params_after:,}", f"{r.weight_error:.3f}",
                 f"{r.output_error:.3f}") for r in self.layers]

    @property
    def title(self):
        target = "ranks from the data" if self.ratio is None else f"ratio {self.ratio:g}"
        return (f"lrkit compress: {self.method}, {target} ({self.allocation}), "
                f"removed {self.achieved_ratio:.1%} in {self.seconds:.1f} s")

    def __str__(self):
        rows = [COLUMNS, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                           for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                 for row in rows]
        return "\n".join([self.title, *lines])


#: Column names of :meth:`CompressionReport.rows`.
COLUMNS = ("layer", "shape", "kept", "params before", "params after", "weight err.",
           "output err.")
