"""How much the regression baseline's D_e error depends on its seed, and what one of its
networks costs. docs/reconstruction.md compares SfV with a single regression network per
gender; this retrains that network exactly as the regress stage does (repeat 1's D_t, its step
chosen on repeat 1's D_v1, the workspace's params) from several seeds and scores each on D_e
as the evaluate stage does (mean per-vertex error against the registered true face). Seed
offset 0 is the stage's own network. Reads a workspace after `dvc repro` (its data/ and
models/), writes nothing there.

    python scripts/regression_seeds.py .seed_spread/seed_0      # 3 seeds per gender
    python scripts/regression_seeds.py . --seeds 3

Writes reports/experiments/regression_seeds/networks.csv (one row per gender and seed) and
run.json (the workspace, its commit and this checkout's, the params used, the threads and the
load average: the seconds are of a shared machine), both after each network.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from pipeline.artifacts import read_output
from pipeline.cohort import Gender
from pipeline.config import Params, load_params
from pipeline.estimator.data import load_features
from pipeline.face.registered import RegisteredFaces
from pipeline.reconstruction.eigenface import Eigenface
from pipeline.reconstruction.evaluation import vertex_errors
from pipeline.reconstruction.regression import (RegressionSettings, load_network, predict_coefficients,
                                                train_regression)
from pipeline.seeds import regression_seed
from pipeline.splits import Splits
from pipeline.stages import Paths

ROOT = Path(__file__).resolve().parents[1]


def commit(folder: Path) -> str:
    """The git commit `folder` is checked out at ("" outside git)."""
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip()


def networks(workspace: Path, params: Params, seeds: int) -> Iterator[dict]:
    """One row per gender and seed offset: D_e error, the kept step, and the seconds (wall clock and
    CPU, all threads) to train the network and predict D_e."""
    paths = Paths.from_dvc_yaml(workspace / "dvc.yaml", base=workspace)
    features = load_features(paths.features)
    registered = RegisteredFaces.load(paths.registered, paths.face_speakers)
    device = torch.device("cpu")
    inputs = {}  # everything is read before the first network trains
    for gender in map(Gender, params.sfv.genders):
        model = Eigenface.load(paths.eigenface / f"{gender}.npz")
        splits = Splits(read_output(paths.splits / f"{gender}.csv", "splits"))
        ids = {part: splits.members(1, part) for part in ("t", "v1", "e")}
        inputs[gender] = model, ids, {part: model.coefficients(registered.of(members)) for part, members in ids.items()}
    truth = {gender: registered.of(ids["e"]) for gender, (_, ids, _) in inputs.items()}
    # Seed by seed, both genders each time, so a run stopped early still compares the genders.
    for offset, gender in tqdm([(k, g) for k in range(seeds) for g in inputs], desc="regression networks",
                               unit="network"):
        model, ids, coefficients = inputs[gender]
        settings = RegressionSettings.from_params(params, regression_seed(params.seed + offset, gender))
        start, cpu = time.perf_counter(), time.process_time()
        result = train_regression([np.concatenate(features[s]) for s in ids["t"]], coefficients["t"],
                                  [features[s] for s in ids["v1"]], coefficients["v1"], settings, device)
        net = load_network(result.state, result.n_outputs, features[ids["t"][0]][0].shape[1], device)
        predicted = predict_coefficients(net, [features[s] for s in ids["e"]], settings.train.eval_frames,
                                         settings.train.batch_size, device)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        error = vertex_errors(model.shapes(predicted), truth[gender]).mean()
        yield {"gender": str(gender), "seed_offset": offset, "seed": settings.seed, "speakers": len(ids["e"]),
               "best_step": result.best_step, "vertex_error_mm": float(error), "seconds": round(seconds, 1),
               "cpu_seconds": round(cpu, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workspace", type=Path, help="a checkout after `dvc repro` (its data/ and models/)")
    parser.add_argument("--seeds", type=int, default=3, help="networks per gender; offset 0 is the stage's")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/experiments/regression_seeds")
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    params = load_params(workspace / "params.yaml")
    used = params.model_dump(mode="json", by_alias=True)
    run = {"workspace": str(workspace), "workspace_commit": commit(workspace), "script_commit": commit(ROOT),
           "seeds": args.seeds, "torch_threads": torch.get_num_threads(), "device": "cpu", "cpus": os.cpu_count(),
           "params": {key: used[key] for key in ("seed", "sfv", "evaluate", "reconstruct")}}
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for row in networks(workspace, params, args.seeds):  # written after each network: they are slow
        rows.append(row)
        tqdm.write(str(row))
        pd.DataFrame(rows).to_csv(args.out / "networks.csv", index=False)
        run.update(networks_done=len(rows), load_average_1min=round(os.getloadavg()[0], 2))
        (args.out / "run.json").write_text(json.dumps(run, indent=2) + "\n")


if __name__ == "__main__":
    main()
