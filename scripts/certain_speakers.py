"""Are the speakers the estimator calls most certain typical voices, and is that why the NMSE
eps/eps^C rises on the 75 % / 50 % most certain D_v2 speakers (docs/selection.md, "Tables 1
and 2")? Reads a run's predictions and writes, per gender and subset (100 / 75 / 50 %):

- error, chance: mean eps and eps^C (z units; per repeat and AM over the subset's speakers,
  then mean over AMs, then over repeats: the select stage's `nmse.error_*` / `nmse.chance_*`),
  their quotient, and mean_ratio (the mean of the ratios: `nmse.all_*`);
- mean_abs_target, mean_abs_prediction: how far the subset's true AMs and its predictions lie
  from the D_t mean (0 in z units): a typical face, and a voice the estimator reads as typical;
- random_error, random_chance, random_error_over_chance, random_mean_ratio (each with its SD
  over draws): the same on subsets of the same size drawn at random, one draw per repeat shared
  by every AM as the ridge's variance ranks speakers alike for every AM. They are what a subset
  does when the variance knows nothing: eps and eps^C keep their mean, a mean of ratios over
  fewer speakers rises, and the SDs say how far a subset moves them by chance.
And per gender, whether the variance ranks anything: Spearman's rho across D_v2 speakers
between var_z and target_z^2 and between var_z and the squared error (per repeat and AM), and
between a speaker's variance and its face's and its prediction's squared distance from the D_t
mean (over the AMs), averaged over the repeats whose var_z varies across speakers.

    python scripts/certain_speakers.py                 # this worktree's data/predictions
    python scripts/certain_speakers.py --run /path/to/another/worktree

Writes reports/experiments/certain_speakers/summary.json with the run it read (its git commit,
params and the predictions' md5).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from tqdm import tqdm

from pipeline.selection.ratios import error_ratios, most_certain
from pipeline.selection.table import SHARES, ratio_matrix

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "experiments" / "certain_speakers" / "summary.json"


def _mean_over_ams_then_repeats(scores: pd.DataFrame, column: str) -> float:
    """As nmse_summary averages: over AMs within each repeat, then over repeats."""
    am_ids = np.sort(scores["am_id"].unique())
    return float(ratio_matrix(scores, am_ids, column).mean(axis=0).mean())


def subset_summary(predictions: pd.DataFrame, share: float, draws: int, rng: np.random.Generator) -> dict:
    """eps, eps^C, their quotient, the mean ratio, the subset's typicality and the random control."""
    ratios = error_ratios(predictions, share)
    kept = most_certain(predictions[predictions["split"] == "v2"], share)
    out = {"speakers_per_am": int(ratios["n"].iloc[0]), **_scores(ratios),
           "mean_abs_target": float(kept["target_z"].abs().mean()),
           "mean_abs_prediction": float(kept["mean_z"].abs().mean())}
    if share < 1:
        v2 = predictions[predictions["split"] == "v2"]
        speaker = v2.groupby(["repeat", "speaker_id"]).ngroup().to_numpy()
        control = pd.DataFrame([_scores(error_ratios(v2.assign(var_z=rng.random(speaker.max() + 1)[speaker]), share))
                                for _ in tqdm(range(draws), desc=f"random {round(100 * share)} %", leave=False)])
        for key in control:
            out[f"random_{key}"], out[f"random_{key}_sd"] = float(control[key].mean()), float(control[key].std(ddof=1))
    return out


def _scores(ratios: pd.DataFrame) -> dict[str, float]:
    """eps, eps^C, their quotient and the mean ratio (nmse.all_*) of one subset's error_ratios."""
    error, chance = _mean_over_ams_then_repeats(ratios, "eps"), _mean_over_ams_then_repeats(ratios, "eps_chance")
    return {"error": error, "chance": chance, "error_over_chance": error / chance,
            "mean_ratio": _mean_over_ams_then_repeats(ratios, "ratio")}


def _spearman(x: pd.Series, y: pd.Series) -> float:
    return float(np.corrcoef(x.rank(), y.rank())[0, 1])


def certainty_correlations(predictions: pd.DataFrame) -> dict:
    """Whether var_z ranks the D_v2 speakers by their targets', errors' or predictions' size."""
    v2 = predictions[predictions["split"] == "v2"]
    v2 = v2.assign(target2=v2["target_z"] ** 2, error2=(v2["mean_z"] - v2["target_z"]) ** 2,
                   prediction2=v2["mean_z"] ** 2,
                   relative_var=v2["var_z"] / v2.groupby(["repeat", "am_id"])["var_z"].transform("mean"))
    varies = v2.groupby("repeat")["relative_var"].transform(lambda v: v.max() - v.min() > 1e-9)
    constant = sorted(int(r) for r in v2.loc[~varies, "repeat"].unique())
    per_am = v2[varies].groupby(["repeat", "am_id"])
    speakers = v2[varies].groupby(["repeat", "speaker_id"])[["relative_var", "target2", "prediction2"]].mean()
    by_repeat = speakers.groupby(level="repeat")
    return {
        "repeats_with_constant_variance": constant,
        "n_repeats": int(v2["repeat"].nunique()), "n_repeats_with_constant_variance": len(constant),
        "rho_variance_squared_target": float(per_am.apply(lambda d: _spearman(d.var_z, d.target2)).mean()),
        "rho_variance_squared_error": float(per_am.apply(lambda d: _spearman(d.var_z, d.error2)).mean()),
        "rho_speaker_variance_face_distance": float(by_repeat.apply(
            lambda d: _spearman(d.relative_var, d.target2)).mean()),
        "rho_speaker_variance_prediction_distance": float(by_repeat.apply(
            lambda d: _spearman(d.relative_var, d.prediction2)).mean()),
    }


def summarise(predictions: pd.DataFrame, draws: int, seed: int) -> dict:
    """Every subset's numbers and the correlations of one gender."""
    rng = np.random.default_rng(seed)
    subsets = {str(round(100 * share)): subset_summary(predictions, share, draws, rng) for share in SHARES.values()}
    return {"subsets": subsets, "certainty": certainty_correlations(predictions)}


def _run_record(run: Path, files: list[Path]) -> dict:
    """Which run was read: its commit (and whether its tracked files differed), params, md5s."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=run, capture_output=True, text=True, check=True).stdout.strip()
    params = yaml.safe_load((run / "params.yaml").read_text())
    lock = yaml.safe_load((run / "dvc.lock").read_text())
    lock_md5 = [o["md5"] for o in lock["stages"]["train"]["outs"] if o["path"] == "data/predictions"]
    return {"directory": str(run), "git_commit": git("rev-parse", "HEAD"),
            "git_modified": git("status", "--porcelain", "--untracked-files=no").splitlines(),
            "params": {"seed": params["seed"], "sfv": params["sfv"],
                       "synth": {k: params["synth"][k] for k in ("speakers", "coupling", "recordings", "seconds")}},
            "dvc_lock_predictions_md5": lock_md5[0] if lock_md5 else None,
            "predictions_md5": {f.name: hashlib.md5(f.read_bytes()).hexdigest() for f in files}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=ROOT, help="the worktree whose data/predictions to read")
    parser.add_argument("--draws", type=int, default=200, help="random subsets per share for the control")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    run = args.run.resolve()
    genders = yaml.safe_load((run / "params.yaml").read_text())["sfv"]["genders"]
    files = [run / "data" / "predictions" / f"{g}.csv" for g in genders]
    result = {g: summarise(pd.read_csv(f), args.draws, args.seed) for g, f in zip(genders, files)}
    result["run"] = _run_record(run, files)
    result["script"] = {"git_commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                                     text=True, check=True).stdout.strip(),
                        "draws": args.draws, "seed": args.seed}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for gender in genders:
        rows = pd.DataFrame(result[gender]["subsets"]).T
        print(f"{gender}\n{rows.to_markdown(floatfmt='.4f')}\n{json.dumps(result[gender]['certainty'], indent=1)}")


if __name__ == "__main__":
    main()
