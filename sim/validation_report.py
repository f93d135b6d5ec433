"""The report of a validation: every target against its band, as a figure (embedded) and a table
in ``validation.html`` (jinja2); rows outside their band are marked, never left out."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .validation import OUTSIDE, WITHIN, band, interval, measured_under, show  # noqa: E402
from .writing import png_bytes, render_html  # noqa: E402

if TYPE_CHECKING:
    from .validation import ValidationResults


def figure(targets: pd.DataFrame) -> bytes:
    """One row per target of a validation table (``sim.validation.table``), on the scale of its
    band (0 = lo, 1 = hi): the band, the published figure and the model's mean with its 95%
    interval. PNG bytes."""
    t = targets.iloc[::-1]
    width = (t["band_hi"] - t["band_lo"]).to_numpy()

    def scaled(col: str) -> np.ndarray:
        return (t[col].to_numpy(dtype=float) - t["band_lo"].to_numpy()) / width

    y = np.arange(len(t))
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.42 * len(t)))
    ax.barh(y, 1.0, left=0.0, height=0.6, color="#cfe8cf", label="band")
    ax.plot(scaled("figure"), y, "kd", label="published figure")
    model, lo, hi = scaled("model"), scaled("model_lo"), scaled("model_hi")
    colours = ["#2a7a2a" if s == WITHIN else "#c0392b" for s in t["status"]]
    for yi, m, a, b, colour in zip(y, model, lo, hi, colours):
        ax.errorbar([m], [yi], xerr=[[np.nan_to_num(m - a)], [np.nan_to_num(b - m)]], fmt="none", ecolor=colour,
                    capsize=3)
    ax.scatter(model, y, c=colours, zorder=3, label="model (95% CI)")
    ax.set_yticks(y, t["target"])
    ax.set_xlabel("position in the band (0 = its low end, 1 = its high end)")
    ax.axvline(0, color="#888", lw=0.6)
    ax.axvline(1, color="#888", lw=0.6)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return png_bytes(fig)


def target_rows(targets: pd.DataFrame) -> list[dict]:
    """A validation table's rows as the templates show them: model interval, band, figure, outside."""
    return [{"row": r, "model": interval(r), "band": band(r), "figure": show(r.figure, r.unit),
             "outside": r.status != WITHIN} for r in targets.itertuples()]


def write_report(res: "ValidationResults", path: Path, info: dict) -> Path:
    """Write ``validation.html``."""
    rows = target_rows(res.table)
    return render_html("validate.html", path, spec=res.spec, info=info, rows=rows, under=measured_under(res.spec),
                  OUTSIDE=OUTSIDE, outside=sum(r["outside"] for r in rows),
                  image=base64.b64encode(figure(res.table)).decode("ascii"))
