"""Write the synthetic cohort's design values for docs/synthetic-cohort.md to quote.

The factor norms, the link's weights and strengths and the values that follow from them live
in code as dataclasses (pipeline/synth/design.py says why); this writes them, with the default
params and the commit, to reports/experiments/synth_design/: factors.csv, latents.csv and
design.json. tests/test_synth_design.py fails when they differ from the code: re-run this,
then `sfv docs`.

    python scripts/synth_design.py
"""
from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from pipeline.config import default_params
from pipeline.face.template import build_template
from pipeline.synth.design import factor_table, latent_table, summary

ROOT = Path(__file__).resolve().parents[1]


def commit() -> str:
    """HEAD, marked when tracked files differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return git("rev-parse", "HEAD") + (" (with uncommitted changes)" if git("status", "--porcelain", "-uno") else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/synth_design")
    args = parser.parse_args()
    params = default_params()
    template = build_template(params.synth.vertices)
    args.out.mkdir(parents=True, exist_ok=True)
    factor_table(template).to_csv(args.out / "factors.csv", index=False)
    latent_table(params.synth.coupling).to_csv(args.out / "latents.csv", index=False)
    document = {"commit": commit(), "params": params.synth.model_dump(mode="json"), **summary(template, params)}
    (args.out / "design.json").write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
