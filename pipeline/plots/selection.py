"""The selection figure in the style of the source's Fig. 4: per AM, 1 - CI_u for all D_v2
speakers and for the 75 % and 50 % most certain, with the interval up to 1 - mean ratio."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

SHARES = (("", "all D_v2", "#1f4e79"), ("_75", "75 % most certain", "#4f8fc0"), ("_50", "50 % most certain", "#a9cce3"))
LEFT = -1.0  # bars below this are cut at the axis (a ratio above 2 says the same as 2)


def selection_figure(table: pd.DataFrame, title: str, top: int | None = 20, bottom: int = 4) -> Figure:
    """Bars of 1 - CI_u (above 0: declared predictable) with whiskers up to 1 - mean ratio;
    the top AMs by CI_u and the bottom few, or every AM when top is None."""
    order = table.sort_values("ci_u").reset_index(drop=True)
    shown = order if top is None else pd.concat([order.head(top), order.tail(bottom)])
    shown = shown.iloc[::-1]  # best at the top
    y = np.arange(len(shown))
    height = 0.8 / len(SHARES)
    figure, ax = plt.subplots(figsize=(7.5, 1.2 + 0.3 * len(shown)))
    for i, (suffix, label, colour) in enumerate(SHARES):
        low = 1.0 - shown[f"ci_u{suffix}"].to_numpy()
        mid = 1.0 - shown[f"mean_ratio{suffix}"].to_numpy()
        position = y + (1 - i) * height
        ax.barh(position, np.maximum(low, LEFT), height, color=colour, label=f"{label}: 1 - CI_u")
        ax.errorbar(np.maximum(low, LEFT), position, xerr=[np.zeros_like(low), np.maximum(mid, LEFT) - np.maximum(low, LEFT)],
                    fmt="none", ecolor="black", elinewidth=0.7, capsize=1.5)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_xlim(LEFT - 0.05, max(0.3, float(np.nanmax(1.0 - shown["mean_ratio"].to_numpy())) + 0.05))
    ax.set_yticks(y, [f"am {r.am_id} ({r.label})" for r in shown.itertuples()], fontsize=7)
    ax.set_xlabel("1 - CI_u (bar; > 0: predictable) up to 1 - mean error ratio (whisker); cut at -1")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    figure.tight_layout()
    return figure
