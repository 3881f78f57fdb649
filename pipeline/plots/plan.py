"""The planning curves of `sfv plan`: recall of the pipeline's rule against cohort size, one
line per oracle-r² bin, the band its prediction interval over world seeds (where one study's
recall may land), the target recall dashed. One panel per sex and speech length."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_plan(result: dict, out: Path) -> None:
    """Draw `result` (plan_study's dict) to `out` (PNG)."""
    settings = result["settings"]
    keys = list(result["points"])
    fig, axes = plt.subplots(1, len(keys), figsize=(5.2 * len(keys), 4.2), squeeze=False, sharey=True)
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, len(settings["r2_bins"])))
    for ax, key in zip(axes[0], keys):
        points = result["points"][key]
        sizes = np.array(sorted(int(n) for n in points))  # the JSON's keys are strings, in text order
        for colour, b in zip(colours, settings["r2_bins"]):
            recall = [points[str(n)]["recall"][b] for n in sizes]
            mean = np.array([np.nan if r["mean"] is None else r["mean"] for r in recall])
            low = np.array([np.nan if r["low"] is None else r["low"] for r in recall])
            high = np.array([np.nan if r["high"] is None else r["high"] for r in recall])
            ax.plot(sizes, mean, "o-", color=colour, label=f"r² {b}")
            ax.fill_between(sizes, low, high, color=colour, alpha=0.15, linewidth=0)
        ax.axhline(settings["target_recall"], color="0.4", linestyle="--", linewidth=1)
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(n) for n in sizes])
        ax.minorticks_off()
        sex, seconds = key.split("/")
        ax.set_title(f"{'both sexes' if sex == 'both' else sex}, {seconds} s of speech per speaker")
        ax.set_xlabel("speakers per sex")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(f"recall ({settings['rule']}, α = {settings['alpha']:g})")
    axes[0][-1].legend(title="oracle r²", loc="lower right", fontsize=8)
    fig.suptitle(f"coupling {settings['coupling']:g}, {settings['world_seeds']} worlds per size, "
                 f"bands: {settings['interval']:.0%} prediction interval of one world", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
