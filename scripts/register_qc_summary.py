"""The register QC's figures on a pipeline run, for docs/geometry.md: how far the cohort's faces
stay from the QC's limits (the largest landmark fit, asymmetry and share of landmarks outside
the cohort's shape model, the lowest coverage), and how many faces it flagged.

data/faces/register_qc.csv is a DVC output, not committed; this reads it from a workspace where
`dvc repro` ran (the default run's, or this checkout) and writes
reports/experiments/register_qc.json with that workspace's commit and parameters.

    python scripts/register_qc_summary.py --workspace /path/to/a/run   # seconds
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import pandas as pd

from pipeline.face.io import N_LANDMARKS
from pipeline.provenance import git_state, run_record

ROOT = Path(__file__).resolve().parents[1]


def summary(qc: pd.DataFrame) -> dict:
    """The largest value of each check over the faces (smallest coverage), and the flags."""
    worst_cohort = float(qc["cohort_flagged"].max())
    return {"faces": int(len(qc)), "flagged": int(qc["flagged"].sum()),
            "sources": {str(k): int(v) for k, v in qc["source"].value_counts().items()},
            "max_landmark_fit_mm": float(qc["landmark_fit_mm"].max()),
            "max_asymmetry_mm": float(qc["asymmetry_mm"].max()),
            "max_surface_distance_mm": float(qc["surface_distance_mm"].max()),
            "min_coverage": float(qc["coverage"].min()),
            "max_cohort_flagged": worst_cohort,
            "max_cohort_flagged_landmarks": int(round(worst_cohort * N_LANDMARKS))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, default=ROOT, help="a checkout where `dvc repro` ran")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/register_qc.json")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    source = workspace / "data/faces/register_qc.csv"
    qc = pd.read_csv(source)
    params = json.loads((workspace / "reports/params.json").read_text())
    result = {**summary(qc), "workspace": {"path": str(workspace), **git_state(workspace),
                                                "register_qc_md5": hashlib.md5(source.read_bytes()).hexdigest()},
              "run": run_record({"seed": params["seed"], "synth": params["synth"], "face": params["face"],
                                 "data": params["data"]})}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("run", "workspace")}, indent=2))


if __name__ == "__main__":
    main()
