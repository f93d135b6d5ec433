"""The report of a sensitivity analysis: the ranked indices with their 95% intervals, as a
figure (``sensitivity.png``, also embedded) and tables in ``report.html`` (jinja2)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import jinja2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from .metrics import OUTCOME, show  # noqa: E402
from .writing import render_html  # noqa: E402

if TYPE_CHECKING:
    from .sensitivity import SensitivityResults

LABELS = {"mu_star": "Morris mu* (mean |elementary effect|)", "ST": "Sobol total index ST",
          "S1": "Sobol first-order index S1"}


def figure(res: "SensitivityResults", path: Path) -> Path:
    """One panel per method: parameters ranked, bars with 95% intervals (Morris: sigma as dots)."""
    methods = list(res.indices)
    k = len(res.spec.params)
    fig, axes = plt.subplots(1, len(methods), figsize=(6.5 * len(methods), 1.2 + 0.45 * k), squeeze=False)
    unit = OUTCOME[res.spec.outcome].unit
    for ax, method in zip(axes[0], methods):
        df = res.indices[method].iloc[::-1]  # most influential at the top
        pos = range(len(df))
        keys = ["mu_star"] if method == "morris" else ["ST", "S1"]
        height = 0.8 / len(keys)
        for j, key in enumerate(keys):
            y = [p + (j - (len(keys) - 1) / 2) * height for p in pos]
            err = [df[key] - df[f"{key}_lo"], df[f"{key}_hi"] - df[key]]
            ax.barh(y, df[key], height=height, xerr=err, capsize=3, label=LABELS[key], alpha=0.85)
        if method == "morris":
            ax.plot(df["sigma"], list(pos), "k.", label="sigma (non-linearity, interactions)")
            ax.set_xlabel(f"effect on {res.spec.outcome} ({unit})")
        else:
            ax.set_xlabel("share of the outcome's variance")
        ax.set_yticks(list(pos), df["parameter"])
        ax.axvline(0, color="#888", lw=0.8)
        ax.set_title(f"{method}: ranked, 95% intervals")
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=80)
    plt.close(fig)
    return path


def _number(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1e4 else f"{x:.4g}"


def write_report(res: "SensitivityResults", folder: Path, info: dict) -> Path:
    """Write ``sensitivity.png`` and ``report.html`` into ``folder`` (the report atomically)."""
    png = figure(res, Path(folder) / "sensitivity.png")
    tables = {m: df.to_html(index=False, float_format=_number, border=0)
              for m, df in res.indices.items()}
    return render_html("sensitivity.html", Path(folder) / "report.html",
                       spec=res.spec, info=info, outcome=OUTCOME[res.spec.outcome], top=res.top,
                       noise=show(res.noise_sd, OUTCOME[res.spec.outcome].unit),
                       tables={m: jinja2.utils.markupsafe.Markup(t) for m, t in tables.items()},
                       points={m: len(d) for m, d in res.designs.items()},
                       image=base64.b64encode(png.read_bytes()).decode("ascii"))
