"""Speaker IDs become file names: none may write or read outside the stage's folder (issue 31)."""
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
import yaml

from pipeline.artifacts import speaker_file
from pipeline.errors import DatasetError
from pipeline.estimator.data import load_features
from presets import paths_under, run

PROJECT = Path(__file__).resolve().parents[1]
BAD_IDS = ["../../../pwned", "a/b", "a\\b", "..", "x..y", "M\n001", "tab\there", "", "   "]
# Every module that turns a speaker ID into a file name, and so must go through speaker_file.
ID_FILE_MODULES = ["pipeline/stages/features.py", "pipeline/estimator/data.py", "pipeline/stages/reconstruct.py",
                   "pipeline/stages/report.py", "pipeline/stages/phonemes.py", "pipeline/stages/synth.py",
                   "pipeline/synth/writer.py"]
# A path built from an f-string that is not a gender's (`paths.x / f"{gender}.csv"`).
ID_PATH = re.compile(r'/ f"\{(?!gender\}|g\})')


@pytest.mark.parametrize("speaker_id", BAD_IDS)
def test_speaker_file_refuses_ids_that_leave_the_folder(tmp_path, speaker_id):
    with pytest.raises(DatasetError, match="refusing the file name"):
        speaker_file(tmp_path / "features", speaker_id, ".npy")


def test_speaker_file_keeps_ordinary_ids(tmp_path):
    for speaker_id in ("M0001", "001", "NA", "anne-marie", "ü.1"):
        assert speaker_file(tmp_path, speaker_id, ".ply") == tmp_path / f"{speaker_id}.ply"


@pytest.mark.parametrize("module", ID_FILE_MODULES)
def test_every_stage_that_names_files_by_speaker_uses_speaker_file(module):
    assert "speaker_file(" in (PROJECT / module).read_text()


def test_no_module_builds_a_path_from_an_id_by_hand():
    found = [f"{path.relative_to(PROJECT)}:{n}" for path in sorted((PROJECT / "pipeline").rglob("*.py"))
             for n, line in enumerate(path.read_text().splitlines(), start=1) if ID_PATH.search(line)]
    assert found == []


def _tiny_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "audio").mkdir(parents=True)
    rng = np.random.default_rng(0)
    soundfile.write(root / "audio" / "a.wav", 0.1 * rng.standard_normal(16000).astype(np.float32), 16000)
    return root


def test_features_stage_refuses_an_id_from_a_tampered_segments_table(tmp_path):
    root = _tiny_root(tmp_path)
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"data": {"root": str(root)}}))
    out = tmp_path / "work"
    segments = paths_under(out).segments
    segments.parent.mkdir(parents=True)
    pd.DataFrame({"speaker_id": ["../../../pwned"], "recording": ["audio/a.wav"], "start_s": [0.0],
                  "end_s": [1.0]}).to_csv(segments, index=False)
    with pytest.raises(DatasetError, match="'../../../pwned'"):
        run("features", tmp_path / "p.yaml", out)
    assert not list(tmp_path.rglob("pwned*"))


def test_load_features_refuses_an_id_from_a_tampered_index(tmp_path):
    folder = tmp_path / "features"
    folder.mkdir()
    np.save(tmp_path / "outside.npy", np.zeros((3, 2), np.float32))
    pd.DataFrame({"speaker_id": ["../outside"], "recording": ["a.wav"], "frames": [3]}).to_csv(
        folder / "index.csv", index=False)
    with pytest.raises(DatasetError, match="'../outside'"):
        load_features(folder)
