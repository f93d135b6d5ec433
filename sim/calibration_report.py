"""The report of a calibration (``calibration.html``, jinja2): the fit against every target
(the validation figure and table, on the confirmation seeds), how well each parameter is
identified (restarts and the one-at-a-time profile, with a figure), and the confirmed
candidates."""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .validation_report import figure as targets_figure  # noqa: E402
from .validation_report import target_rows  # noqa: E402
from .writing import png_bytes, render_html  # noqa: E402

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
    return png_bytes(fig)


def write_report(res: "CalibrationResults", path: Path, info: dict) -> Path:
    """Write ``calibration.html``."""
    from .calibrate import identification_words

    fit = target_rows(res.fit)
    profile_png = profile_figure(res)
    return render_html(
        "calibrate.html", path, spec=res.spec, info=info, fit=fit, outside=sum(r["outside"] for r in fit),
        params=[{"row": r, "words": identification_words(r)} for r in res.identification.itertuples()],
        under=res.fit["measured"].iloc[0].split("; ", 1)[-1] if len(res.fit) else "",
        loss=float(res.fit["loss"].iloc[0]), confirmation=res.confirmation.to_dict("records"),
        confirmation_columns=list(res.confirmation.columns),
        fit_image=base64.b64encode(targets_figure(res.fit)).decode("ascii"),
        profile_image=base64.b64encode(profile_png).decode("ascii") if profile_png else None)
