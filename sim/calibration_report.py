"""The report of a calibration (``calibration.html``, jinja2): the fit against every target
(the validation figure and table, on the confirmation seeds), how well each parameter is
identified (restarts and the one-at-a-time profile, with a figure), and the confirmed
candidates."""

from __future__ import annotations

import base64
import io
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import jinja2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from .validation import WITHIN, band, interval, show  # noqa: E402
from .validation_report import figure as targets_figure  # noqa: E402

if TYPE_CHECKING:
    from .calibrate import CalibrationResults


def profile_figure(res: "CalibrationResults") -> bytes | None:
    """One panel per fitted parameter: the targets outside their bands at each profile point
    (the others held at the fit), the fitted value marked. PNG bytes, or None without a profile."""
    if res.profile.empty:
        return None
    names = list(res.spec.params)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        mine = res.profile[res.profile["parameter"] == name]
        ax.plot(mine["value"], mine["outside"], "o-", color="#1f5fa8")
        ax.axvline(res.best[name], color="#c0392b", lw=1.2, label="fit")
        ax.set_title(name, fontsize=11)
        ax.set_ylim(-0.3, len(res.targets) + 0.3)
        ax.tick_params(labelsize=9)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes[0][0].set_ylabel("targets outside", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def write_report(res: "CalibrationResults", path: Path, info: dict) -> Path:
    """Write ``calibration.html`` (atomically: a temporary file renamed into place)."""
    from .calibrate import identification_words

    env = jinja2.Environment(loader=jinja2.PackageLoader("sim", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    fit = [{"row": r, "model": interval(r), "band": band(r), "figure": show(r.figure, r.unit),
            "outside": r.status != WITHIN} for r in res.fit.itertuples()]
    params = [{"row": r, "words": identification_words(r)} for r in res.identification.itertuples()]
    profile_png = profile_figure(res)
    html = env.get_template("calibrate.html").render(
        spec=res.spec, info=info, fit=fit, params=params, outside=sum(r["outside"] for r in fit),
        under=res.fit["measured"].iloc[0].split("; ", 1)[-1] if len(res.fit) else "",
        loss=float(res.fit["loss"].iloc[0]), confirmation=res.confirmation.to_dict("records"),
        confirmation_columns=list(res.confirmation.columns),
        fit_image=base64.b64encode(targets_figure(res.fit)).decode("ascii"),
        profile_image=base64.b64encode(profile_png).decode("ascii") if profile_png else None)
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return Path(path)
