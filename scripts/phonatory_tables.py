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

DIAGNOSTICS = {"cnn_phonatory_1step": "1 pre-training step", "cnn_phonatory_frozen": "200 steps, encoder frozen",
               "cnn_phonatory_lr1e-4": "200 steps at lr 1e-4"}


def cell(nmse: dict, key: str) -> str:
    """mean ± SD, or a dash where the set is empty (no AM declared predictable)."""
    return "—" if nmse[key] is None else f"{nmse[key]:.3f} ± {nmse[key + '_sd']:.3f}"


def main(folder: Path) -> str:
    runs = {name: json.loads((folder / name / "metrics.json").read_text()) for name in ("cnn", "cnn_phonatory")}
    genders = [g for g in ("male", "female") if g in runs["cnn"]]
    header = "| NMSE on D_v2 | " + " | ".join(f"{g}: with / without" for g in genders) + " | source: with / without |"
    lines = [header, "|---|" + "---:|" * (len(genders) + 1)]
    for key, label in ROWS:
        cells = [f"{cell(runs['cnn_phonatory'][g]['nmse'], key)} / {cell(runs['cnn'][g]['nmse'], key)}"
                 for g in genders]
        lines.append(f"| {label} (`{key}`) | " + " | ".join(cells) + f" | {SOURCE[key][0]} / {SOURCE[key][1]} |")
    for key, label in (("n_predictable", "AMs declared (corrected test + BH)"),
                       ("n_predictable_corrected", "AMs declared (corrected test alone)")):
        cells = [f"{runs['cnn_phonatory'][g]['selection'][key]} / {runs['cnn'][g]['selection'][key]}" for g in genders]
        lines.append(f"| {label} | " + " | ".join(cells) + " | |")
    diagnostics = [name for name in DIAGNOSTICS if (folder / name / "metrics.json").is_file()]
    if diagnostics:  # scripts/phonatory_diagnostics.sh: women only
        lines += ["", "| women, NMSE on D_v2 | " + " | ".join(DIAGNOSTICS[n] for n in diagnostics) + " |",
                  "|---|" + "---:|" * len(diagnostics)]
        female = [json.loads((folder / n / "metrics.json").read_text())["female"] for n in diagnostics]
        for key, label in ROWS:
            lines.append(f"| {label} | " + " | ".join(cell(m["nmse"], key) for m in female) + " |")
        lines.append("| declared (corrected + BH / corrected alone) | " + " | ".join(
            f"{m['selection']['n_predictable']} / {m['selection']['n_predictable_corrected']}" for m in female) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(Path(sys.argv[1] if len(sys.argv) > 1 else "reports/experiments")))
