"""Which voice representation serves the estimator best on the default world (issue 27).

Runs the default pipeline once per variant in one DVC workspace (`.representations/`, git- and
DVC-ignored; scripts/workspace.py): params.yaml as it is, with each variant's overrides. DVC
re-runs only what a variant changes (embeddings, train and what follows), and its run cache
brings back a variant it has seen. Per variant and gender, from the run's own outputs:

- recall at oracle r² >= 0.5 and >= 0.1 (`reports/selection/<gender>.csv`: r2, z) and precision
  (declared AMs that are planted);
- the mean D_v2 ratio over the AMs with r² >= 0.5, and the recovered share (1 - ratio) / r²
  averaged over them, the share of what the planted link makes predictable that the estimator
  finds;
- Tables 1/2 NMSE (all_100, predictable), the vertex error and gain over the mean face
  (reports/metrics.json);
- the embeddings stage's cost per recording (data/embeddings/meta.json);
- `sfv predict` on a real voice (real_speech.py: the ALSA test recordings at 16 and 44.1 kHz)
  with the variant's models, both genders' models: finite, how far from the cohort, rate agreement.

Writes reports/experiments/representations/summary.json (with pipeline.provenance.run_record) and
results.csv (one row per variant and gender, the table of docs/estimators.md).

    python scripts/representations.py                       # every variant of VARIANTS
    python scripts/representations.py --only egemaps praat  # some of them
    python scripts/representations.py --tabulate            # results.csv again from summary.json
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.artifacts import read_table, write_csv, write_json
from pipeline.provenance import run_record
from real_speech import alsa_voice, check
from workspace import ROOT, repro, sync, with_overrides

WORKSPACE = ROOT / ".representations"
OUT = ROOT / "reports/experiments/representations"
R2_BINS = (0.5, 0.1)
STATS = ["sfv.estimator=stats_ridge"]


def embedding(encoders: str, with_logmel: bool = False) -> list[str]:
    return ["sfv.estimator=embedding_ridge", f"embedding.encoder={encoders}",
            f"embedding.with_logmel={str(with_logmel).lower()}"]


VARIANTS: dict[str, list[str]] = {
    "stats_ridge": STATS,
    "egemaps": embedding("[egemaps]"),
    "praat": embedding("[praat]"),
    "resemblyzer": embedding("[resemblyzer]"),
    "egemaps+praat": embedding("[egemaps, praat]"),
    "egemaps+logmel": embedding("[egemaps]", True),
    "praat+logmel": embedding("[praat]", True),
    "egemaps+praat+logmel": embedding("[egemaps, praat]", True),
}


def summarise(workspace: Path, genders: list[str]) -> dict:
    """One variant's numbers per gender, from the workspace's outputs."""
    metrics = json.loads((workspace / "reports/metrics.json").read_text())
    out = {}
    for gender in genders:
        table = read_table(workspace / "reports/selection" / f"{gender}.csv")
        r2, declared, ratio = table["r2"].to_numpy(), table["z"].to_numpy().astype(bool), table["mean_ratio"].to_numpy()
        strong = r2 >= R2_BINS[0]
        m = metrics[gender]
        out[gender] = {
            "declared": int(declared.sum()),
            "recall": {f"r2>={b}": float((declared & (r2 >= b)).sum() / max((r2 >= b).sum(), 1)) for b in R2_BINS},
            "precision": float((declared & (table["planted"].to_numpy() > 0)).sum() / declared.sum())
            if declared.any() else None,
            "mean_ratio_r2>=0.5": float(ratio[strong].mean()),
            "recovered_share_r2>=0.5": float(np.mean((1.0 - ratio[strong]) / r2[strong])),
            "nmse": {k: m["nmse"][k] for k in ("all_100", "all_50", "predictable")},
            "vertex_error_mm": m["reconstruction"]["vertex_error_mm"],
            "gain_over_mean_face_mm": m["reconstruction"]["gain_over_mean_face_mm"],
            "n_strong": int(strong.sum()),
        }
    meta_path = workspace / "data/embeddings/meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return {"by_gender": out, "embeddings_meta": meta}


def tabulate(results: dict) -> pd.DataFrame:
    """One row per variant and gender."""
    rows = []
    for name, run in results.items():
        for gender, row in run["by_gender"].items():
            rows.append({"variant": name, "gender": gender, "declared": row["declared"],
                         "recall_r2_0.5": row["recall"]["r2>=0.5"], "recall_r2_0.1": row["recall"]["r2>=0.1"],
                         "precision": row["precision"], "mean_ratio_r2_0.5": row["mean_ratio_r2>=0.5"],
                         "recovered_share": row["recovered_share_r2>=0.5"], "nmse_all_100": row["nmse"]["all_100"],
                         "vertex_error_mm": row["vertex_error_mm"], "gain_mm": row["gain_over_mean_face_mm"]})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run only these variants")
    parser.add_argument("--workspace", type=Path, default=WORKSPACE)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--tabulate", action="store_true", help="only write results.csv from summary.json")
    args = parser.parse_args()
    summary_path = args.out / "summary.json"
    if args.tabulate:
        write_csv(tabulate(json.loads(summary_path.read_text())["variants"]), args.out / "results.csv", "%.4f")
        return
    voices = alsa_voice(args.workspace.parent / ".real_speech")
    chosen = args.only or list(VARIANTS)
    started = time.perf_counter()
    results = json.loads(summary_path.read_text())["variants"] if summary_path.is_file() else {}
    base = (ROOT / "params.yaml").read_text()
    for i, name in enumerate(chosen, 1):
        changed = sync(args.workspace, with_overrides(base, VARIANTS[name]), ROOT)
        print(f"== {name} ({i}/{len(chosen)}): {changed} files updated; dvc repro", flush=True)
        variant_started = time.perf_counter()
        ran = repro(args.workspace, name)
        genders = json.loads((args.workspace / "reports/params.json").read_text())["sfv"]["genders"]
        results[name] = {"overrides": VARIANTS[name], "stages_run": ran,
                         "wall_s": round(time.perf_counter() - variant_started), **summarise(args.workspace, genders),
                         "real_speech": {g: check(args.workspace / "models", voices, g) for g in genders}}
        write_json({**run_record({"variants": list(results)}, time.perf_counter() - started), "variants": results},
                   summary_path)
        write_csv(tabulate(results), args.out / "results.csv", "%.4f")
        for gender, row in results[name]["by_gender"].items():
            print(f"{name:24s} {gender:6s} declared {row['declared']:3d}  recall r2>=0.5 "
                  f"{row['recall']['r2>=0.5']:.2f}  share {row['recovered_share_r2>=0.5']:.3f}  "
                  f"NMSE {row['nmse']['all_100']:.3f}  gain {row['gain_over_mean_face_mm']:.3f} mm", flush=True)


if __name__ == "__main__":
    main()
