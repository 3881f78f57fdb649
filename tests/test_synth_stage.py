"""The synth stage end to end: dataset-root layout, truth consistency, determinism, bad params."""
import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import trimesh
import yaml
from scipy.io import wavfile

from pipeline.errors import ParamsError
from pipeline.synth.cohort import simulate_person
from pipeline.synth.shape_model import FACTOR_NAMES
from presets import run, scan_settings, voice_settings

PROJECT = Path(__file__).resolve().parents[1]
F0_TOLERANCE = 0.08  # a recording's median f0 against the speaker's drawn f0, relative
SNR_TOLERANCE_DB = 1.5  # a recording's SNR measured in its noise-only lead against the drawn SNR
SMALL = {
    "seed": 3,
    "synth": {
        "speakers": {"male": 3, "female": 3},
        "vertices": 3000,
        "scan": {"vertices": [3500, 4500], "holes": [1, 2]},
        "sheet_faces": 4,
        "sheet_voices": 2,
        "seconds": 6.0,
    },
}


def _write_params(path: Path, params: dict) -> Path:
    path.write_text(yaml.safe_dump(params))
    return path


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("synth")
    return run("synth", _write_params(tmp / "params.yaml", SMALL), tmp)


def test_layout_and_manifest(small_root):
    root = small_root.synthetic
    manifest = pd.read_csv(root / "manifest.csv", keep_default_na=False)
    assert list(manifest.columns) == ["speaker_id", "gender", "audio", "scan", "landmarks"]
    assert list(manifest.gender) == ["M"] * 3 + ["F"] * 3
    assert manifest.speaker_id.is_unique
    for row in manifest.itertuples():
        assert (root / row.scan).is_file() and (root / row.landmarks).is_file()
        recordings = row.audio.split(";")  # synth.recordings default 2
        assert recordings == [f"audio/{row.speaker_id}.wav", f"audio/{row.speaker_id}_2.wav"]
        alignment = pd.read_csv(root / "alignments" / f"{row.speaker_id}.csv")
        assert list(alignment.columns) == ["recording", "start_s", "end_s", "phone"]
        assert list(alignment.recording.unique()) == recordings
        for path, phones in alignment.groupby("recording", sort=False):
            rate, audio = wavfile.read(root / path)
            assert rate == 16000 and audio.dtype == np.int16 and audio.ndim == 1
            assert len(audio) == 6 * 16000  # synth.seconds, silences included
            assert phones.start_s.iloc[0] == 0 and phones.end_s.iloc[-1] == pytest.approx(6.0)
            np.testing.assert_allclose(phones.start_s.iloc[1:].to_numpy(), phones.end_s.iloc[:-1].to_numpy(), atol=1e-4)
            assert phones.phone.iloc[0] == "sil" and phones.phone.iloc[-1] == "sil"
        first, second = (list(p.phone[p.phone != "sil"])[:5] for _, p in alignment.groupby("recording", sort=False))
        assert first != second  # each recording reads its own part of the script
    for name in ("shapes.npy", "landmarks.npy", "poses.npy", "factors.csv", "ams.csv", "speakers.csv",
                 "annotations.csv", "template.ply", "template_landmarks.csv", "template_regions.csv",
                 "latents.csv", "oracle.csv"):
        assert (root / "truth" / name).is_file(), name
    latents = pd.read_csv(root / "truth" / "latents.csv")
    assert latents.snr_db.between(14.5, 35.5).all()  # synth.snr_db default [15, 35]
    assert (latents.groupby("gender").f0_hz.mean()["F"] > latents.groupby("gender").f0_hz.mean()["M"] + 50)
    oracle = pd.read_csv(root / "truth" / "oracle.csv")
    assert list(oracle.columns[:3]) == ["am_id", "r2", "planted"] and len(oracle) == 96
    assert not small_root.synthetic.with_name("synthetic.partial").exists()
    assert small_root.synth_faces_sheet.stat().st_size > 10_000
    assert small_root.synth_voices_sheet.stat().st_size > 10_000


def test_truth_is_consistent_with_scans_and_annotations(small_root):
    root = small_root.synthetic
    manifest = pd.read_csv(root / "manifest.csv", keep_default_na=False)
    shapes = np.load(root / "truth" / "shapes.npy")
    landmarks = np.load(root / "truth" / "landmarks.npy")
    poses = np.load(root / "truth" / "poses.npy")
    template = trimesh.load(root / "truth" / "template.ply", process=False)
    ann_truth = pd.read_csv(root / "truth" / "annotations.csv")
    factors = pd.read_csv(root / "truth" / "factors.csv")
    assert list(factors.columns[2:]) == list(FACTOR_NAMES)
    assert shapes.shape == (6, 3000, 3) and landmarks.shape == (6, 65, 3)
    for i, row in enumerate(manifest.itertuples()):
        scan = trimesh.load(root / row.scan, process=False)
        assert len(scan.vertices) != len(template.vertices)
        rot, shift = poses[i][:3, :3], poses[i][:3, 3]
        back = (scan.vertices - shift) @ rot  # inverse pose
        truth = trimesh.Trimesh(shapes[i], template.faces, process=False)
        _, dist, _ = trimesh.proximity.closest_point(truth, back[::7])
        assert np.sqrt(np.mean(dist ** 2)) < 0.6  # noise 0.3 mm along normals
        annotated = pd.read_csv(root / row.landmarks).to_numpy()
        err = np.linalg.norm((annotated - shift) @ rot - landmarks[i], axis=1)
        mine = ann_truth[ann_truth.speaker_id == row.speaker_id]
        np.testing.assert_allclose(err, mine.error_mm, atol=2e-3)
        bad = mine.mislabelled.to_numpy().astype(bool)
        assert np.all((err[bad] >= 4.99) & (err[bad] <= 15.01))
        assert np.all(err[~bad] < 6.0)


def test_same_seed_same_bytes_other_seed_other_faces(small_root, tmp_path):
    again = run("synth", _write_params(tmp_path / "params.yaml", SMALL), tmp_path / "again")
    assert _digest(again.synthetic) == _digest(small_root.synthetic)
    assert again.synth_faces_sheet.read_bytes() == small_root.synth_faces_sheet.read_bytes()
    assert again.synth_voices_sheet.read_bytes() == small_root.synth_voices_sheet.read_bytes()
    other = run("synth", _write_params(tmp_path / "other.yaml", {**SMALL, "seed": 4}), tmp_path / "other")
    assert not np.array_equal(np.load(other.synthetic / "truth" / "shapes.npy"),
                              np.load(small_root.synthetic / "truth" / "shapes.npy"))


def test_recordings_have_adult_f0_by_sex_and_the_drawn_snr(small_root):
    root = small_root.synthetic
    latents = pd.read_csv(root / "truth" / "latents.csv").set_index("speaker_id")
    for row in pd.read_csv(root / "manifest.csv").itertuples():
        first = row.audio.split(";")[0]  # truth's snr_db is the first recording's
        rate, audio = wavfile.read(root / first)
        audio = audio.astype(float) / 32767
        track, voiced, _ = librosa.pyin(audio, fmin=60, fmax=400, sr=rate, frame_length=1024)
        f0 = np.nanmedian(track[voiced])
        assert f0 == pytest.approx(latents.f0_hz[row.speaker_id], rel=F0_TOLERANCE)
        assert (70 <= f0 <= 180) if row.gender == "M" else (140 <= f0 <= 300), (row.speaker_id, f0)
        alignment = pd.read_csv(root / "alignments" / f"{row.speaker_id}.csv")
        alignment = alignment[alignment.recording == first]
        lead = audio[: int(alignment.end_s.iloc[0] * rate)]
        speech = audio[int(alignment.end_s.iloc[0] * rate): int(alignment.start_s.iloc[-1] * rate)]
        snr = 10 * np.log10(np.mean(speech ** 2) / np.mean(lead ** 2) - 1)  # the lead is noise only
        assert snr == pytest.approx(latents.snr_db[row.speaker_id], abs=SNR_TOLERANCE_DB)


def test_null_world_keeps_the_faces_and_cuts_the_link(small_root, tmp_path):
    null = _write_params(tmp_path / "null.yaml", {**SMALL, "synth": {**SMALL["synth"], "coupling": 0.0}})
    null_root = run("synth", null, tmp_path).synthetic
    same = ["truth/shapes.npy", "truth/factors.csv", "truth/annotations.csv"]
    for name in same:
        assert (null_root / name).read_bytes() == (small_root.synthetic / name).read_bytes(), name
    oracle = pd.read_csv(null_root / "truth" / "oracle.csv")
    assert oracle.planted.sum() == 0 and oracle.r2.abs().max() < 0.02
    assert pd.read_csv(small_root.synthetic / "truth" / "oracle.csv").planted.sum() > 10


def test_adding_recordings_keeps_the_face_and_the_first_recording(shape_model):
    voice = voice_settings(seconds=5.0, recordings=1, coupling=1.6)
    one = simulate_person(shape_model, "F0001", "F", 0, 3, scan_settings(vertices=(3000, 3000)), voice)
    three = simulate_person(shape_model, "F0001", "F", 0, 3, scan_settings(vertices=(3000, 3000)),
                            replace(voice, recordings=3))
    assert len(one.recordings) == 1 and len(three.recordings) == 3
    np.testing.assert_array_equal(one.vertices, three.vertices)
    np.testing.assert_array_equal(one.recordings[0].audio, three.recordings[0].audio)
    starts = [[p for p, _, _ in r.phones if p != "sil"][:4] for r in three.recordings]
    assert len({tuple(s) for s in starts}) == 3  # phrases 0, 1 and 3 of the script


@pytest.mark.parametrize("bad, key", [
    ({"synth": {"speakers": {"male": 0, "female": 3}}}, "synth.speakers.male"),
    ({"synth": {"speakers": {"male": -2, "female": 3}}}, "synth.speakers.male"),
    ({"synth": {"vertices": "many"}}, "synth.vertices"),
    ({"synth": {"scan": {"noise_mm": -1}}}, "synth.scan.noise_mm"),
    ({"synth": {"scan": {"holes": [3, 1]}}}, "holes"),
    ({"synth": {"speakerz": 3}}, "synth.speakerz"),
    ({"device": "tpu"}, "device"),
    ({"synth": {"planted": ["nose"]}}, "synth.planted"),
    ({"synth": {"coupling": -0.1}}, "synth.coupling"),
    ({"synth": {"seconds": 2}}, "synth.seconds"),
    ({"synth": {"recordings": 0}}, "synth.recordings"),
])
def test_bad_params_are_errors_that_name_the_key(tmp_path, bad, key):
    params = _write_params(tmp_path / "params.yaml", bad)
    with pytest.raises(ParamsError, match=key.replace(".", r"\.")):
        run("synth", params, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_stage_exits_with_a_one_line_error(tmp_path):
    _write_params(tmp_path / "params.yaml", {"synth": {"speakers": {"male": 0, "female": 1}}})
    shutil.copy(PROJECT / "dvc.yaml", tmp_path / "dvc.yaml")
    done = subprocess.run([sys.executable, "-m", "pipeline.stages", "synth"], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert done.returncode == 2
    assert "synth.speakers.male" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()
