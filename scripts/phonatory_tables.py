"""The README's Tables 1 and 2 with and without the phonatory module, beside the source's.

Reads the metrics that scripts/phonatory_experiment.sh copied to reports/experiments/ and
prints a markdown table: NMSE mean ± SD over repeats on D_v2, per gender.
    python scripts/phonatory_tables.py [reports/experiments]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = [("all_100", "all AMs, all speakers"), ("all_75", "all AMs, 75 % most certain"),
        ("all_50", "all AMs, 50 % most certain"), ("predictable", "predictable AMs"),
        ("unpredictable", "unpredictable AMs")]
# "Rethinking Voice-Face Correlation", Tables 1 and 2: with / without the phonatory module.
SOURCE = {"all_100": ("0.953 ± 0.009", "0.952 ± 0.014"), "all_75": ("0.909 ± 0.024", "0.927 ± 0.030"),
          "all_50": ("0.842 ± 0.030", "0.879 ± 0.041"), "predictable": ("0.628 ± 0.021", "0.730 ± 0.048"),
          "unpredictable": ("0.990 ± 0.032", "1.002 ± 0.031")}


def cell(nmse: dict, key: str) -> str:
    return f"{nmse[key]:.3f} ± {nmse[key + '_sd']:.3f}"


def main(folder: Path) -> str:
    runs = {name: json.loads((folder / name / "metrics.json").read_text()) for name in ("cnn", "cnn_phonatory")}
    genders = [g for g in ("male", "female") if g in runs["cnn"]]
    header = "| NMSE on D_v2 | " + " | ".join(f"{g}: with / without" for g in genders) + " | source: with / without |"
    lines = [header, "|---|" + "---:|" * (len(genders) + 1)]
    for key, label in ROWS:
        cells = [f"{cell(runs['cnn_phonatory'][g]['nmse'], key)} / {cell(runs['cnn'][g]['nmse'], key)}"
                 for g in genders]
        lines.append(f"| {label} (`{key}`) | " + " | ".join(cells) + f" | {SOURCE[key][0]} / {SOURCE[key][1]} |")
    counts = [f"{g}: {runs['cnn_phonatory'][g]['selection']['n_predictable']} / "
              f"{runs['cnn'][g]['selection']['n_predictable']}" for g in genders]
    lines.append("")
    lines.append("AMs declared predictable (corrected test + BH), with / without: " + "; ".join(counts))
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(Path(sys.argv[1] if len(sys.argv) > 1 else "reports/experiments")))
