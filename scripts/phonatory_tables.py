"""Tables 1 and 2 with and without the phonatory module, beside the source's (docs/training.md
quotes the same files directly; this prints them as one markdown table, a quick look).

Reads the metrics that scripts/phonatory_experiment.sh copied to reports/experiments/ and the
source's figures from reference/source_results.yaml: NMSE mean ± SD over repeats on D_v2.
    python scripts/phonatory_tables.py [reports/experiments]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROWS = [("all_100", "all AMs, all speakers"), ("all_75", "all AMs, 75 % most certain"),
        ("all_50", "all AMs, 50 % most certain"), ("predictable", "predictable AMs"),
        ("unpredictable", "unpredictable AMs")]
SOURCE_FILE = Path(__file__).resolve().parents[1] / "reference" / "source_results.yaml"


def source_cells() -> dict[str, tuple[str, str]]:
    """The source's Tables 1 and 2 (reference/source_results.yaml): with / without the module."""
    source = yaml.safe_load(SOURCE_FILE.read_text())
    tables = {**{k: "table1" for k in ("all_100", "all_75", "all_50")},
              **{k: "table2" for k in ("predictable", "unpredictable")}}
    return {key: tuple(f"{v[key]['mean']:.3f} ± {v[key]['sd']:.3f}"
                       for v in (source[table]["with_phonatory"], source[table]["without_phonatory"]))
            for key, table in tables.items()}

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
    source = source_cells()
    for key, label in ROWS:
        cells = [f"{cell(runs['cnn_phonatory'][g]['nmse'], key)} / {cell(runs['cnn'][g]['nmse'], key)}"
                 for g in genders]
        lines.append(f"| {label} (`{key}`) | " + " | ".join(cells) + f" | {source[key][0]} / {source[key][1]} |")
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
