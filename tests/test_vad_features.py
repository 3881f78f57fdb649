"""The vad and features stages on a tiny synthetic root: accuracy, outputs and bad input."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from pipeline.artifacts import read_table
from pipeline.audio.phones import cut_phones, stored_frame_times
from pipeline.audio.vad import MAX_GAIN_DB, SileroVad, energy_vad, frame_f1, level_normalised
from pipeline.errors import AudioError, DatasetError
from pipeline.stages import main as stages_main
from presets import DEFAULTS, run

PROJECT = Path(__file__).resolve().parents[1]
TINY = {"seed": 5, "synth": {"speakers": {"male": 3, "female": 3}, "vertices": 3000,
                             "scan": {"vertices": [3500, 4500]}, "seconds": 8.0}}
MIN_FRAME_F1 = 0.9  # mean frame F1 of each VAD against the synthesiser's phone alignments
QUIETER_DB = 30  # Silero finds the same speech in a recording this much quieter (dB)
LOUDER_DB = 12  # or this much louder (clipped)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audio")
    (tmp / "p.yaml").write_text(yaml.safe_dump(TINY))
    return run("synth", tmp / "p.yaml", tmp).synthetic


def _params(path: Path, root: Path, **audio) -> Path:
    path.write_text(yaml.safe_dump({**TINY, "data": {"root": str(root), "on_error": audio.pop("on_error", "fail")},
                                    "audio": audio}))
    return path


def _truth(root: Path, speaker_id: str, recording: str) -> np.ndarray:
    alignment = pd.read_csv(root / "alignments" / f"{speaker_id}.csv")
    alignment = alignment[alignment.recording == recording]
    return alignment[alignment.phone != "sil"][["start_s", "end_s"]].to_numpy()


def test_vad_agrees_with_the_synthesiser_alignments(root):
    audio = DEFAULTS.audio
    silero = SileroVad(audio.vad_threshold, audio.min_speech_s, audio.min_silence_s)
    scores = {"silero": [], "energy": []}
    for row in pd.read_csv(root / "manifest.csv").itertuples():
        for recording in row.audio.split(";"):  # synth.recordings: 2 by default
            wave, rate = soundfile.read(root / recording, dtype="float32")
            truth = _truth(root, row.speaker_id, recording)
            scores["silero"].append(frame_f1(truth, silero(wave), len(wave) / rate))
            found = energy_vad(wave, rate, threshold_db=audio.energy_threshold_db, min_speech_s=audio.min_speech_s,
                               min_silence_s=audio.min_silence_s)
            scores["energy"].append(frame_f1(truth, found, len(wave) / rate))
    assert len(scores["silero"]) == 12
    assert np.mean(scores["silero"]) >= MIN_FRAME_F1
    assert np.mean(scores["energy"]) >= MIN_FRAME_F1


def test_silero_finds_the_same_speech_in_a_quiet_or_loud_recording(root):
    """Silero's probability falls with the level; it hears every recording at one level, so a
    recording QUIETER_DB quieter or LOUDER_DB louder (clipped) gives about the segments of the original."""
    audio = DEFAULTS.audio
    silero = SileroVad(audio.vad_threshold, audio.min_speech_s, audio.min_silence_s)
    row = pd.read_csv(root / "manifest.csv").iloc[0]
    recording = row.audio.split(";")[0]
    wave, rate = soundfile.read(root / recording, dtype="float32")
    truth = _truth(root, row.speaker_id, recording)
    for scale in (10 ** (-QUIETER_DB / 20), 10 ** (LOUDER_DB / 20)):
        scaled = np.clip(wave * scale, -1, 1)
        assert frame_f1(truth, silero(scaled), len(wave) / rate) >= MIN_FRAME_F1
    np.testing.assert_allclose(level_normalised(wave * 0.2), level_normalised(wave), atol=1e-5)
    assert not level_normalised(np.zeros(16000)).any()
    hiss = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 1e-5
    assert np.abs(level_normalised(hiss)).max() <= np.abs(hiss).max() * 10 ** (MAX_GAIN_DB / 20) + 1e-7


def test_stages_write_segments_and_normalised_features(root, tmp_path):
    params = _params(tmp_path / "params.yaml", root)
    paths = run("vad", params, tmp_path)
    segments = pd.read_csv(paths.segments)
    assert list(segments.columns) == ["speaker_id", "recording", "start_s", "end_s"]
    assert segments.speaker_id.nunique() == 6 and len(pd.read_csv(paths.skipped_voices)) == 0
    run("features", params, tmp_path)
    index = pd.read_csv(paths.features / "index.csv")
    assert list(index.columns) == ["speaker_id", "recording", "frames"]
    assert (index.groupby("speaker_id").size() == 2).all()  # synth.recordings: 2
    for speaker_id, rows in index.groupby("speaker_id"):
        x = np.load(paths.features / f"{speaker_id}.npy")
        assert x.dtype == np.float32 and x.shape == (rows.frames.sum(), 64)
        for part, row in zip(np.split(x, np.cumsum(rows.frames)[:-1]), rows.itertuples()):
            np.testing.assert_allclose(part.mean(0), 0.0, atol=1e-3)  # normalised per recording
            np.testing.assert_allclose(part.std(0), 1.0, atol=1e-2)
            mine = segments[(segments.speaker_id == speaker_id) & (segments.recording == row.recording)]
            speech_s = mine.eval("end_s - start_s").sum()
            assert abs(row.frames / 100 - speech_s) < 0.05 * speech_s
        # the phoneme stage pools most stored frames into phone units (VAD kept speech, which
        # the synthesiser's alignment covers)
        recordings, times = stored_frame_times(segments[segments.speaker_id == speaker_id], rows,
                                               DEFAULTS.audio.hop_ms / 1000.0)
        assert len(times) == len(x)
        alignment = root / "alignments" / f"{speaker_id}.csv"
        cut = cut_phones(x, recordings, times, read_table(alignment), speaker_id=speaker_id, shown_as=str(alignment))
        assert 0.5 * len(x) < sum(len(unit.frames) for unit in cut.values()) <= len(x)


def _copy(root: Path, tmp: Path) -> Path:
    copy = tmp / "root"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("truth", "scans"))
    return copy


def test_several_recordings_and_any_format(root, tmp_path):
    copy = _copy(root, tmp_path)
    wave, rate = soundfile.read(copy / "audio" / "F0001.wav", dtype="float32")
    import librosa
    hi = librosa.resample(wave, orig_sr=rate, target_sr=44100, res_type="soxr_hq")
    soundfile.write(copy / "audio" / "F0001_b.flac", np.column_stack([hi, 0.5 * hi]), 44100)
    manifest = pd.read_csv(copy / "manifest.csv", keep_default_na=False)
    manifest.loc[manifest.speaker_id == "F0001", "audio"] = "audio/F0001.wav;audio/F0001_b.flac"
    manifest.to_csv(copy / "manifest.csv", index=False)
    params = _params(tmp_path / "params.yaml", copy, vad="energy")
    run("vad", params, tmp_path)
    index = pd.read_csv(run("features", params, tmp_path).features / "index.csv")
    mine = index[index.speaker_id == "F0001"]
    assert list(mine.recording) == ["audio/F0001.wav", "audio/F0001_b.flac"]
    assert abs(mine.frames.iloc[0] - mine.frames.iloc[1]) <= 0.03 * mine.frames.iloc[0]


@pytest.mark.parametrize("damage, message", [
    ("missing", r"speaker M0002: audio/M0002\.wav does not exist"),
    ("corrupt", r"speaker M0002: audio/M0002\.wav cannot be read"),
    ("silent", r"speaker M0002: audio/M0002\.wav has no speech: the energy VAD found none in its 8\.0 s"),
    ("short", r"speaker M0002: audio/M0002\.wav is only 0\.30 s long: too short for the energy VAD"),
    ("folder", r"speaker M0002: audio/M0002\.wav is a folder, not a recording"),
    ("low_rate", r"speaker M0002: audio/M0002\.wav has a sample rate of 4000 Hz"),
    ("empty", r"speaker M0002: audio/M0002\.wav is empty"),
    ("nan", r"speaker M0002: audio/M0002\.wav has 3 samples that are NaN or infinite"),
    ("truncated", r"speaker M0002: audio/M0002\.wav is truncated: its header says 8\.00 s \(128000 frames\) "
                  r"but the file holds 2\.40 s \(30 %\)"),
])
def test_bad_recordings_fail_or_are_skipped(root, tmp_path, damage, message):
    copy = _copy(root, tmp_path)
    target = copy / "audio" / "M0002.wav"
    if damage == "missing":
        target.unlink()
    elif damage == "corrupt":
        target.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnothing")
    elif damage == "empty":
        soundfile.write(target, np.zeros(0, dtype=np.float32), 16000)
    elif damage == "short":  # a 0.3 s recording in which the VAD finds nothing
        soundfile.write(target, np.zeros(int(0.3 * 16000), dtype=np.float32), 16000)
    elif damage == "folder":
        target.unlink()
        target.mkdir()
    elif damage == "silent":
        soundfile.write(target, np.zeros(16000 * 8, dtype=np.float32), 16000)
    elif damage == "nan":
        wave, rate = soundfile.read(target, dtype="float32")
        wave[[100, 200, 300]] = np.nan
        soundfile.write(target, wave, rate, subtype="FLOAT")
    elif damage == "truncated":  # 30 % of the bytes: libsndfile alone reads it as a 2.4 s recording
        data = target.read_bytes()
        target.write_bytes(data[:44 + int(0.3 * (len(data) - 44))])
    else:
        soundfile.write(target, np.zeros(4000, dtype=np.float32), 4000)
    with pytest.raises(AudioError, match=message):
        run("vad", _params(tmp_path / "fail.yaml", copy, vad="energy"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
    paths = run("vad", _params(tmp_path / "skip.yaml", copy, vad="energy", on_error="skip"), tmp_path / "out")
    segments, dropped = paths.segments, pd.read_csv(paths.skipped_voices)
    assert list(dropped.speaker_id) == ["M0002"] and dropped.reason.str.contains("M0002").all()
    assert not dropped.reason.str.contains("on_error").any()  # a skip record does not advise skipping
    assert "M0002" not in set(pd.read_csv(segments).speaker_id)


def test_too_little_speech_is_warned_about(root, tmp_path, capsys):
    copy = _copy(root, tmp_path)
    for name, seconds in (("M0001.wav", 1.5), ("M0001_2.wav", 1.0)):  # under 2.5 s of speech in all
        wave, rate = soundfile.read(copy / "audio" / name, dtype="float32")
        soundfile.write(copy / "audio" / name, wave[:int(seconds * rate)], rate)
    run("vad", _params(tmp_path / "p.yaml", copy, vad="energy"), tmp_path / "out")
    err = capsys.readouterr().err
    assert "warning: speaker M0001 has" in err and "less than one training segment" in err
    assert "M0002" not in err


def test_ogg_is_read_and_leading_zero_ids_survive_every_table(root, tmp_path):
    copy = _copy(root, tmp_path)
    manifest = pd.read_csv(copy / "manifest.csv", dtype=str, keep_default_na=False)
    wave, rate = soundfile.read(copy / "audio" / "F0001.wav", dtype="float32")
    soundfile.write(copy / "audio" / "001.ogg", wave, rate)
    manifest.loc[manifest.speaker_id == "F0001", ["speaker_id", "audio"]] = ["001", "audio/001.ogg"]
    manifest.to_csv(copy / "manifest.csv", index=False)
    params = _params(tmp_path / "params.yaml", copy, vad="energy")
    run("vad", params, tmp_path / "out")
    features = run("features", params, tmp_path / "out").features
    index = pd.read_csv(features / "index.csv", dtype=str)
    assert "001" in set(index.speaker_id) and (features / "001.npy").is_file()


@pytest.mark.parametrize("edit, message", [
    (lambda m: m.assign(audio=m.audio.where(m.speaker_id != "M0003", "../elsewhere.wav")),
     "speaker M0003 has audio path '../elsewhere.wav' outside the root"),
    (lambda m: m.assign(scan=m.scan.where(m.speaker_id != "M0003", "/abs/scan.ply")),
     "speaker M0003 has scan path '/abs/scan.ply' outside the root"),
    (lambda m: pd.concat([m, m.iloc[[0]]]), "M0001 appears more than once"),
    (lambda m: m.assign(gender=m.gender.where(m.speaker_id != "F0002", "X")), "F0002 has gender 'X'"),
    # Speaker IDs become file names (issue 31): nothing that leaves a folder, nothing invisible.
    (lambda m: m.assign(speaker_id=m.speaker_id.replace("M0003", "../../../pwned")),
     r"line 4: speaker_id '\.\./\.\./\.\./pwned' contains a path separator"),
    (lambda m: m.assign(speaker_id=m.speaker_id.replace("M0003", "a\\b")), r"line 4: speaker_id 'a\\\\b' contains a path"),
    (lambda m: m.assign(speaker_id=m.speaker_id.replace("M0003", "..")), r"line 4: speaker_id '\.\.' contains '\.\.'"),
    (lambda m: m.assign(speaker_id=m.speaker_id.replace("M0003", "M00\n03")),
     r"speaker_id 'M00\\n03' contains the control character"),
    (lambda m: m.assign(speaker_id=m.speaker_id.replace("M0003", "  ")), r"line 4: speaker_id '' is empty"),
    (lambda m: m.iloc[0:0], r"manifest\.csv has a header but no speaker"),
])
def test_bad_manifests_are_errors(root, tmp_path, edit, message):
    copy = _copy(root, tmp_path)
    edit(pd.read_csv(copy / "manifest.csv", keep_default_na=False)).to_csv(copy / "manifest.csv", index=False)
    with pytest.raises(DatasetError, match=message):
        run("vad", _params(tmp_path / "p.yaml", copy, vad="energy"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not list(tmp_path.rglob("pwned*"))


def test_a_symlink_out_of_the_root_is_named_as_a_symlink(root, tmp_path):
    copy = _copy(root, tmp_path)
    outside = tmp_path / "elsewhere.wav"
    (copy / "audio" / "M0003.wav").rename(outside)
    (copy / "audio" / "M0003.wav").symlink_to(outside)
    with pytest.raises(DatasetError, match=r"speaker M0003 has audio path 'audio/M0003\.wav' outside the root: "
                                           r"audio/M0003\.wav is a symlink to .*elsewhere\.wav; copy the file"):
        run("vad", _params(tmp_path / "p.yaml", copy, vad="energy"), tmp_path / "out")


def test_a_semicolon_separated_manifest_is_named_as_such(root, tmp_path):
    copy = _copy(root, tmp_path)
    pd.read_csv(copy / "manifest.csv", keep_default_na=False).to_csv(copy / "manifest.csv", index=False, sep=";")
    with pytest.raises(DatasetError, match="must be comma-separated"):
        run("vad", _params(tmp_path / "p.yaml", copy, vad="energy"), tmp_path / "out")


def test_stage_reports_bad_input_in_one_line(root, tmp_path):
    copy = _copy(root, tmp_path)
    (copy / "audio" / "F0003.wav").unlink()
    work = tmp_path / "project"  # dvc.yaml and params.yaml, as `dvc repro` runs a stage
    work.mkdir()
    shutil.copy(PROJECT / "dvc.yaml", work / "dvc.yaml")
    _params(work / "params.yaml", copy, vad="energy")
    done = subprocess.run([sys.executable, "-m", "pipeline.stages", "vad"], capture_output=True, text=True, cwd=work,
                          env={**os.environ, "PYTHONPATH": str(PROJECT)})
    assert done.returncode == 2 and "speaker F0003: audio/F0003.wav does not exist" in done.stderr
    assert "Traceback" not in done.stderr


def _project(work: Path, root: Path) -> Path:
    """dvc.yaml and params.yaml in `work`, as `dvc repro` runs a stage."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT / "dvc.yaml", work / "dvc.yaml")
    _params(work / "params.yaml", root, vad="energy")
    return work


def test_an_empty_manifest_is_one_line_naming_the_file(root, tmp_path, monkeypatch, capsys):
    copy = _copy(root, tmp_path)
    (copy / "manifest.csv").write_bytes(b"")
    monkeypatch.chdir(_project(tmp_path / "project", copy))
    assert stages_main(["vad"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {copy / 'manifest.csv'} is empty; it needs the header " \
                  f"speaker_id,gender,audio,scan,landmarks and one row per speaker (docs/own-data.md)."


def test_a_full_disk_is_one_line_and_leaves_no_partial_folder(root, tmp_path, monkeypatch, capsys):
    work = _project(tmp_path / "project", root)
    monkeypatch.chdir(work)
    assert stages_main(["vad"]) == 0

    def full(*args, **kwargs):
        raise OSError("57408 requested and 25568 written")  # what numpy says when the disk fills

    monkeypatch.setattr(np, "save", full)
    capsys.readouterr()
    assert stages_main(["features"]) == 2
    stderr = capsys.readouterr().err
    err = [line for line in stderr.splitlines() if line.strip() and not line.startswith("features:")]  # not tqdm
    assert len(err) == 1 and "57408 requested and 25568 written" in err[0] and "disk full" in err[0]
    assert "data/features" in err[0] and "Traceback" not in stderr
    assert not list((work / "data").glob("features*"))
