"""The train stage: outputs, resumption after a kill, Ray equals local, stored weights predict."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.estimator.protocol import PREDICTION_COLUMNS
from pipeline.estimator.store import load_repeat, predict_recordings
from pipeline.synth.cohort import VoiceSettings
from pipeline.synth.voices import voice_cohort

ROOT = Path(__file__).resolve().parents[1]
N_PER_SEX = 16


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """A features directory and an ams.csv in the layouts of the features and ams stages."""
    out = tmp_path_factory.mktemp("train_data")
    features_dir = out / "features"
    features_dir.mkdir()
    index, ams = [], []
    for sex in ("M", "F"):
        cohort = voice_cohort(N_PER_SEX, sex, VoiceSettings(seconds=4.0), seed=2)
        for i, (frames, values) in enumerate(zip(cohort.features, cohort.ams)):
            sid = f"{sex}{i + 1:04d}"
            np.save(features_dir / f"{sid}.npy", frames)
            index.append((sid, f"audio/{sid}.wav", len(frames)))
            ams.append([sid, sex, *values])
    pd.DataFrame(index, columns=["speaker_id", "recording", "frames"]).to_csv(features_dir / "index.csv", index=False)
    columns = ["speaker_id", "gender"] + [f"am_{k}" for k in cohort.am_ids]
    pd.DataFrame(ams, columns=columns).to_csv(out / "ams.csv", index=False)
    return out


def _params(path: Path, **sfv) -> Path:
    """Tiny CNN settings unless told otherwise (the CNN's test is the corrected one)."""
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["sfv"].update({"estimator": "shared", "test": "corrected", "repeats": 4, "iterations": 12,
                       "group_size": 2, "eval_every": 6,
                       "segment_s": [1.0, 1.5], "batch_size": 16, "warmup_steps": 4, **sfv})
    path.write_text(yaml.safe_dump(raw))
    return path


def _args(params: Path, dataset: Path, out: Path) -> list[str]:
    return ["--params", str(params), "--features", str(dataset / "features"), "--ams", str(dataset / "ams.csv"),
            "--splits", str(out / "splits"), "--models", str(out / "models"),
            "--predictions", str(out / "predictions"), "--log", str(out / "log")]


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline.stages.train", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def reference(dataset, tmp_path_factory):
    """One uninterrupted run of the stage, male speakers only."""
    out = tmp_path_factory.mktemp("reference")
    params = _params(out / "params.yaml", genders=["male"])
    done = _run(_args(params, dataset, out))
    assert done.returncode == 0, done.stderr
    return out


def test_outputs_have_the_documented_layout(reference):
    splits = pd.read_csv(reference / "splits" / "male.csv")
    assert list(splits.columns) == ["repeat", "speaker_id", "split"]
    assert len(splits) == 4 * N_PER_SEX
    predictions = pd.read_csv(reference / "predictions" / "male.csv")
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
    log = pd.read_csv(reference / "log" / "male.csv")
    assert list(log.columns) == ["repeat", "step", "train_loss", "v1_mse"] and sorted(log["step"].unique()) == [6, 12]
    assert sorted(p.name for p in (reference / "models" / "male").iterdir()) == [
        f"repeat_00{r}.npz" for r in range(1, 5)]


def test_killed_mid_way_and_rerun_gives_identical_predictions(dataset, reference, tmp_path):
    params = _params(tmp_path / "params.yaml", genders=["male"])
    args = _args(params, dataset, tmp_path)
    process = subprocess.Popen([sys.executable, "-m", "pipeline.stages.train", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_group = tmp_path / "models" / "male" / "repeat_002.npz"
    deadline = time.time() + 300
    while not first_group.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert first_group.exists() and not (tmp_path / "predictions" / "male.csv").exists()
    kept = first_group.stat().st_mtime_ns
    done = _run(args)
    assert done.returncode == 0, done.stderr
    assert first_group.stat().st_mtime_ns == kept  # the finished group was not trained again
    for name in ("predictions/male.csv", "splits/male.csv", "log/male.csv"):
        assert (tmp_path / name).read_bytes() == (reference / name).read_bytes(), name
    # Fewer repeats: stale files go, the rest stay as they are.
    done = _run(_args(_params(params, genders=["male"], repeats=2), dataset, tmp_path))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "models" / "male").iterdir()) == ["repeat_001.npz", "repeat_002.npz"]
    assert first_group.stat().st_mtime_ns == kept


def test_ray_backend_gives_the_same_predictions_as_local(dataset, reference, tmp_path):
    pytest.importorskip("ray")
    params = _params(tmp_path / "params.yaml", genders=["male"], backend="ray")
    # A local Ray for the test, whatever the caller's shell says. Output goes to a file and the
    # stage runs in its own session: a Ray daemon that outlives the stage cannot hold a pipe
    # open, and whatever is left of the session is killed.
    env = {**os.environ, "RAY_ADDRESS": "", "RAY_USAGE_STATS_ENABLED": "0"}
    log = tmp_path / "stage.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "pipeline.stages.train", *_args(params, dataset, tmp_path)],
                                   cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code = process.wait(timeout=600)
        finally:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert code == 0, log.read_text()[-3000:]
    assert (tmp_path / "predictions/male.csv").read_bytes() == (reference / "predictions/male.csv").read_bytes()


def test_stored_weights_reproduce_the_predictions_of_a_new_voice(dataset, reference):
    """The saved networks alone predict an evaluation speaker as the stage did."""
    stored = load_repeat(reference / "models" / "male" / "repeat_003.npz")
    speaker = next(s for s, part in zip(stored.scored_ids, stored.scored_splits) if part == "e")
    row = list(stored.scored_ids).index(speaker)
    frames = np.load(dataset / "features" / f"{speaker}.npy")
    mean_z, var_z, n_segments = predict_recordings(stored, [frames])
    assert n_segments == stored.n_segments[row]
    np.testing.assert_allclose(mean_z, stored.mean_z[row], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(var_z, stored.var_z[row], rtol=1e-3)


def test_per_am_estimator_keeps_one_network_per_am(dataset, tmp_path):
    params = _params(tmp_path / "params.yaml", genders=["female"], estimator="per_am", repeats=2,
                     iterations=4, eval_every=2)
    done = _run(_args(params, dataset, tmp_path))
    assert done.returncode == 0, done.stderr
    stored = load_repeat(tmp_path / "models" / "female" / "repeat_001.npz")
    assert sorted(stored.networks) == sorted(f"am{k}" for k in range(1, 97))
    assert stored.spec["n_outputs"] == 1
    e = list(stored.scored_splits).index("e")
    frames = np.load(Path(dataset) / "features" / f"{stored.scored_ids[e]}.npy")
    mean_z, _, _ = predict_recordings(stored, [frames])
    np.testing.assert_allclose(mean_z, stored.mean_z[e], rtol=1e-4, atol=1e-4)


def test_too_few_speakers_is_a_clear_error(dataset, tmp_path):
    ams = pd.read_csv(dataset / "ams.csv")
    few = tmp_path / "ams.csv"
    ams[ams["gender"] == "F"].head(4).to_csv(few, index=False)
    args = _args(_params(tmp_path / "params.yaml", genders=["female"]), dataset, tmp_path)
    args[args.index("--ams") + 1] = str(few)
    done = _run(args)
    assert done.returncode == 2
    assert "4 female speakers" in done.stderr and "too few" in done.stderr and str(few) in done.stderr
    assert not (tmp_path / "predictions").exists() and not (tmp_path / "splits").exists()


def test_the_ensemble_of_repeats_fuses_raw_scale_predictions(dataset, reference):
    from pipeline.estimator.store import predict_ensemble
    stored = [load_repeat(reference / "models" / "male" / f"repeat_00{r}.npz") for r in (1, 2)]
    speaker = next(s for s, part in zip(stored[0].scored_ids, stored[0].scored_splits) if part == "e")
    frames = [np.load(dataset / "features" / f"{speaker}.npy")]
    mean, uncertainty = predict_ensemble(stored, frames)
    raw = []
    for rep in stored:
        row = list(rep.scored_ids).index(speaker)
        raw.append((rep.mean_z[row] * rep.target_sd + rep.target_mean, rep.var_z[row] * rep.target_sd ** 2))
    precision = 1 / raw[0][1] + 1 / raw[1][1]
    np.testing.assert_allclose(mean, (raw[0][0] / raw[0][1] + raw[1][0] / raw[1][1]) / precision, rtol=1e-4)
    np.testing.assert_allclose(uncertainty, 2 / precision, rtol=1e-3)


@pytest.fixture(scope="module")
def ridge_run(dataset, tmp_path_factory):
    """The stats_ridge estimator on the same data, with a small permutation null."""
    out = tmp_path_factory.mktemp("ridge")
    params = _params(out / "params.yaml", genders=["female"], estimator="stats_ridge", test="permutation",
                     permutations=40, repeats=3)
    done = _run(_args(params, dataset, out))
    assert done.returncode == 0, done.stderr
    return out


def test_ridge_repeats_store_their_model_and_predict_a_new_voice(dataset, ridge_run):
    stored = load_repeat(ridge_run / "models" / "female" / "repeat_002.npz")
    assert stored.spec["estimator"] == "stats_ridge" and set(stored.network_of_am) == {"ridge"}
    assert stored.n_segments.tolist() == [1] * len(stored.scored_ids)  # one unit: all of a speaker's speech
    e = list(stored.scored_splits).index("e")
    frames = np.load(dataset / "features" / f"{stored.scored_ids[e]}.npy")
    mean_z, var_z, units = predict_recordings(stored, [frames])
    assert units == 1
    np.testing.assert_allclose(mean_z, stored.mean_z[e], rtol=1e-5, atol=1e-5)  # float32 coefficients
    np.testing.assert_allclose(var_z, stored.var_z[e], rtol=1e-5)
    log = pd.read_csv(ridge_run / "log" / "female.csv")
    assert log["step"].max() == 25 and (log["v1_mse"] > 0).all()  # the alpha grid, position by position


def test_ridge_permutation_table_holds_the_observed_statistic_first(ridge_run):
    null = pd.read_csv(ridge_run / "predictions" / "female_permutations.csv")
    assert list(null.columns) == ["permutation", "am_id", "mean_ratio"]
    assert sorted(null["permutation"].unique()) == list(range(41)) and null["am_id"].nunique() == 96
    predictions = pd.read_csv(ridge_run / "predictions" / "female.csv")
    v2 = predictions[predictions["split"] == "v2"]
    ratio = v2.assign(e=(v2.mean_z - v2.target_z) ** 2, c=v2.target_z ** 2).groupby(["repeat", "am_id"])[["e", "c"]].sum()
    observed = (ratio["e"] / ratio["c"]).groupby("am_id").mean()
    row0 = null[null["permutation"] == 0].set_index("am_id")["mean_ratio"]
    np.testing.assert_allclose(row0.loc[observed.index], observed, rtol=1e-4)


def test_cnn_runs_write_an_empty_permutation_table(reference):
    null = pd.read_csv(reference / "predictions" / "male_permutations.csv")
    assert list(null.columns) == ["permutation", "am_id", "mean_ratio"] and len(null) == 0


def test_a_truncated_stored_repeat_is_trained_again(dataset, ridge_run, tmp_path):
    import shutil
    shutil.copytree(ridge_run, tmp_path / "run", dirs_exist_ok=True)
    path = tmp_path / "run" / "models" / "female" / "repeat_002.npz"
    path.write_bytes(path.read_bytes()[:1000])
    params = _params(tmp_path / "params.yaml", genders=["female"], estimator="stats_ridge", test="permutation",
                     permutations=40, repeats=3)
    done = _run(_args(params, dataset, tmp_path / "run"))
    assert done.returncode == 0, done.stderr
    assert path.read_bytes() == (ridge_run / "models" / "female" / "repeat_002.npz").read_bytes()
