"""The train stage: outputs, resumption after a kill, Ray equals local, stored weights predict."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from pipeline.cohort import Gender
from pipeline.estimator.protocol import PREDICTION_COLUMNS
from pipeline.estimator.store import load_repeat
from pipeline.synth.voices import voice_cohort
from presets import front_end, paths_under, voice_settings

ROOT = Path(__file__).resolve().parents[1]
N_PER_SEX = 16
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, shape_model):
    """A project folder with features and ams.csv where the features and ams stages put them."""
    out = tmp_path_factory.mktemp("train_data")
    paths = paths_under(out)
    paths.features.mkdir(parents=True)
    paths.ams.parent.mkdir(parents=True)
    index, ams = [], []
    for gender in Gender:
        cohort = voice_cohort(N_PER_SEX, gender, voice_settings(seconds=4.0, recordings=1, coupling=1.0), 2,
                              front_end(), shape_model)
        for i, (frames, values) in enumerate(zip(cohort.features, cohort.ams)):
            sid = f"{gender.code}{i + 1:04d}"
            np.save(paths.features / f"{sid}.npy", frames)
            index.append((sid, f"audio/{sid}.wav", len(frames)))
            ams.append([sid, gender.code, *values])
    pd.DataFrame(index, columns=["speaker_id", "recording", "frames"]).to_csv(paths.features / "index.csv", index=False)
    columns = ["speaker_id", "gender"] + [f"am_{k}" for k in cohort.am_ids]
    pd.DataFrame(ams, columns=columns).to_csv(paths.ams, index=False)
    return out


def _project(dataset: Path, work: Path, **sfv) -> Path:
    """`work` as a project: dvc.yaml, the dataset's features and AMs, and params.yaml with tiny
    CNN settings unless told otherwise (the CNN's test is the corrected one)."""
    if not (work / "data").exists():
        shutil.copytree(dataset / "data", work / "data")
    shutil.copy(ROOT / "dvc.yaml", work / "dvc.yaml")
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["sfv"].update({"estimator": "shared", "test": "corrected", "repeats": 4, "iterations": 12,
                       "group_size": 2, "eval_every": 6,
                       "segment_s": [1.0, 1.5], "batch_size": 16, "warmup_steps": 4, **sfv})
    (work / "params.yaml").write_text(yaml.safe_dump(raw))
    return work


def _stage(work: Path, name: str, env: dict | None = None, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline.stages", name], cwd=work,
                            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, **popen)


def _run(work: Path) -> subprocess.CompletedProcess:
    """The splits and train stages, as `dvc repro` runs them."""
    for name in ("splits", "train"):
        done = subprocess.run([sys.executable, "-m", "pipeline.stages", name], cwd=work, capture_output=True,
                              text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode:
            return done
    return done


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory):
    """One uninterrupted run of the stage, male speakers only."""
    work = _project(dataset, tmp_path_factory.mktemp("reference"), genders=["male"])
    done = _run(work)
    assert done.returncode == 0, done.stderr
    return paths_under(work)


def test_outputs_have_the_documented_layout(reference):
    splits = pd.read_csv(reference.splits / "male.csv")
    assert list(splits.columns) == ["repeat", "speaker_id", "split"]
    assert len(splits) == 4 * N_PER_SEX
    predictions = pd.read_csv(reference.predictions / "male.csv")
    assert list(predictions.columns) == PREDICTION_COLUMNS
    assert set(predictions["split"]) == {"v1", "v2", "e"}
    assert predictions["am_id"].nunique() == 96
    # The raw scale is the z-scale mapped back with D_t statistics.
    row = predictions.iloc[0]
    scale = (row["target"] - row["mean"]) / (row["target_z"] - row["mean_z"])
    assert scale > 0 and np.isclose(row["var"], row["var_z"] * scale ** 2, rtol=1e-3)
    assert (predictions["var_z"] > 0).all()
    scored = splits[splits["split"] != "t"].merge(predictions, on=["repeat", "speaker_id", "split"])
    assert len(scored) == len(predictions)  # predictions only for the repeat's v1, v2 and e speakers
    log = pd.read_csv(reference.train_log / "male.csv")
    assert list(log.columns) == ["repeat", "step", "train_loss", "v1_mse"] and sorted(log["step"].unique()) == [6, 12]
    assert sorted(p.name for p in (reference.estimators / "male").iterdir()) == [
        f"repeat_00{r}.npz" for r in range(1, 5)]


def test_killed_mid_way_and_rerun_gives_identical_predictions(dataset, reference, tmp_path):
    work = _project(dataset, tmp_path, genders=["male"])
    paths = paths_under(work)
    assert _stage(work, "splits").wait() == 0
    process = _stage(work, "train", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_group = paths.estimators / "male" / "repeat_002.npz"
    deadline = time.time() + 300
    while not first_group.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert first_group.exists() and not (paths.predictions / "male.csv").exists()
    kept = first_group.stat().st_mtime_ns
    done = _run(work)
    assert done.returncode == 0, done.stderr
    assert first_group.stat().st_mtime_ns == kept  # the finished group was not trained again
    for name in ("predictions", "splits", "train_log"):
        mine, theirs = getattr(paths, name) / "male.csv", getattr(reference, name) / "male.csv"
        assert mine.read_bytes() == theirs.read_bytes(), name
    # Fewer repeats: stale files go, the rest stay as they are.
    done = _run(_project(dataset, work, genders=["male"], repeats=2))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (paths.estimators / "male").iterdir()) == ["repeat_001.npz", "repeat_002.npz"]
    assert first_group.stat().st_mtime_ns == kept


def test_ray_backend_gives_the_same_predictions_as_local(dataset, reference, tmp_path):
    pytest.importorskip("ray")
    work = _project(dataset, tmp_path, genders=["male"], backend="ray")
    assert _stage(work, "splits").wait() == 0
    # A local Ray for the test, whatever the caller's shell says. Output goes to a file and the
    # stage runs in its own session: a Ray daemon that outlives the stage cannot hold a pipe
    # open, and whatever is left of the session is killed.
    env = {"RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0"}
    log = tmp_path / "stage.log"
    with log.open("w") as out:
        process = _stage(work, "train", env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            code = process.wait(timeout=600)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert code == 0, log.read_text()[-3000:]
    mine = paths_under(work).predictions / "male.csv"
    assert mine.read_bytes() == (reference.predictions / "male.csv").read_bytes()


def test_stored_weights_reproduce_the_predictions_of_a_new_voice(dataset, reference):
    """The saved networks alone predict an evaluation speaker as the stage did."""
    stored = load_repeat(reference.estimators / "male" / "repeat_003.npz")
    speaker = next(s for s, part in zip(stored.scored_ids, stored.scored_splits) if part == "e")
    row = list(stored.scored_ids).index(speaker)
    frames = np.load(reference.features / f"{speaker}.npy")
    mean_z, var_z, n_segments = stored.predict([frames], CPU)
    assert n_segments == stored.n_segments[row]
    np.testing.assert_allclose(mean_z, stored.mean_z[row], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(var_z, stored.var_z[row], rtol=1e-3)


def test_per_am_estimator_keeps_one_network_per_am(dataset, tmp_path):
    work = _project(dataset, tmp_path, genders=["female"], estimator="per_am", repeats=2, iterations=4, eval_every=2)
    done = _run(work)
    assert done.returncode == 0, done.stderr
    paths = paths_under(work)
    stored = load_repeat(paths.estimators / "female" / "repeat_001.npz")
    assert stored.estimator == "per_am" and stored.model.per_am
    assert sorted(stored.model.networks) == sorted(f"am{k}" for k in range(1, 97))
    assert stored.model.n_outputs == 1
    assert stored.front_end == front_end()  # the voice front end travels with the model
    e = list(stored.scored_splits).index("e")
    frames = np.load(paths.features / f"{stored.scored_ids[e]}.npy")
    mean_z, _, _ = stored.predict([frames], CPU)
    np.testing.assert_allclose(mean_z, stored.mean_z[e], rtol=1e-4, atol=1e-4)


def test_too_few_speakers_is_a_clear_error(dataset, tmp_path):
    work = _project(dataset, tmp_path, genders=["female"])
    paths = paths_under(work)
    ams = pd.read_csv(paths.ams)
    ams[ams["gender"] == "F"].head(4).to_csv(paths.ams, index=False)
    done = _run(work)
    assert done.returncode == 2
    assert "4 female speakers" in done.stderr and "too few" in done.stderr and "data/ams/ams.csv" in done.stderr
    assert not paths.predictions.exists() and not paths.splits.exists()


def test_the_ensemble_of_repeats_fuses_raw_scale_predictions(dataset, reference):
    from pipeline.estimator.store import predict_ensemble
    stored = [load_repeat(reference.estimators / "male" / f"repeat_00{r}.npz") for r in (1, 2)]
    speaker = next(s for s, part in zip(stored[0].scored_ids, stored[0].scored_splits) if part == "e")
    frames = [np.load(reference.features / f"{speaker}.npy")]
    mean, uncertainty = predict_ensemble(stored, frames, CPU)
    raw = []
    for rep in stored:
        row = list(rep.scored_ids).index(speaker)
        raw.append((rep.mean_z[row] * rep.target_sd + rep.target_mean, rep.var_z[row] * rep.target_sd ** 2))
    precision = 1 / raw[0][1] + 1 / raw[1][1]
    np.testing.assert_allclose(mean, (raw[0][0] / raw[0][1] + raw[1][0] / raw[1][1]) / precision, rtol=1e-4)
    np.testing.assert_allclose(uncertainty, 2 / precision, rtol=1e-3)


@pytest.fixture(scope="module")
def ridge_run(dataset, tmp_path_factory):
    """The stats_ridge estimator on the same data, with a small sequential permutation null."""
    work = _project(dataset, tmp_path_factory.mktemp("ridge"), genders=["female"], estimator="stats_ridge",
                    test="permutation", permutations=40, repeats=3)
    done = _run(work)
    assert done.returncode == 0, done.stderr
    return paths_under(work)


def test_ridge_repeats_store_their_model_and_predict_a_new_voice(dataset, ridge_run):
    stored = load_repeat(ridge_run.estimators / "female" / "repeat_002.npz")
    assert stored.estimator == "stats_ridge" and stored.front_end == front_end()
    assert stored.n_segments.tolist() == [1] * len(stored.scored_ids)  # one unit: all of a speaker's speech
    e = list(stored.scored_splits).index("e")
    frames = np.load(ridge_run.features / f"{stored.scored_ids[e]}.npy")
    mean_z, var_z, units = stored.predict([frames], CPU)
    assert units == 1
    np.testing.assert_allclose(mean_z, stored.mean_z[e], rtol=1e-5, atol=1e-5)  # float32 coefficients
    np.testing.assert_allclose(var_z, stored.var_z[e], rtol=1e-5)
    log = pd.read_csv(ridge_run.train_log / "female.csv")
    assert log["step"].max() == 25 and (log["v1_mse"] > 0).all()  # the alpha grid, position by position


def test_ridge_permutation_table_holds_the_observed_statistic_first(ridge_run):
    null = pd.read_csv(ridge_run.predictions / "female_permutations.csv")
    assert list(null.columns) == ["permutation", "am_id", "mean_ratio"] and null["am_id"].nunique() == 96
    # Each AM shuffles until 10 shuffled ratios reach its observed one (Besag & Clifford) or 40 are drawn.
    stopped = 0
    for am, rows in null.sort_values("permutation").groupby("am_id"):
        assert rows["permutation"].tolist() == list(range(len(rows))) and len(rows) <= 41, am
        hits = (rows["mean_ratio"].to_numpy()[1:] <= rows["mean_ratio"].iloc[0]).cumsum()
        if len(rows) < 41:
            assert hits[-1] == 10 and hits[-2] == 9, am
            stopped += 1
        else:
            assert hits[-2] < 10, am
    assert 0 < stopped < 96
    predictions = pd.read_csv(ridge_run.predictions / "female.csv")
    v2 = predictions[predictions["split"] == "v2"]
    ratio = v2.assign(e=(v2.mean_z - v2.target_z) ** 2, c=v2.target_z ** 2).groupby(["repeat", "am_id"])[["e", "c"]].sum()
    observed = (ratio["e"] / ratio["c"]).groupby("am_id").mean()
    row0 = null[null["permutation"] == 0].set_index("am_id")["mean_ratio"]
    np.testing.assert_allclose(row0.loc[observed.index], observed, rtol=1e-4)


def test_cnn_runs_write_an_empty_permutation_table(reference):
    null = pd.read_csv(reference.predictions / "male_permutations.csv")
    assert list(null.columns) == ["permutation", "am_id", "mean_ratio"] and len(null) == 0


def test_a_truncated_stored_repeat_is_trained_again(dataset, ridge_run, tmp_path):
    ridge_work = ridge_run.estimators.parents[1]
    shutil.copytree(ridge_work, tmp_path, dirs_exist_ok=True)
    path = paths_under(tmp_path).estimators / "female" / "repeat_002.npz"
    path.write_bytes(path.read_bytes()[:1000])
    done = _run(tmp_path)
    assert done.returncode == 0, done.stderr
    assert path.read_bytes() == (ridge_run.estimators / "female" / "repeat_002.npz").read_bytes()
