"""Comparing two runs' outputs (pipeline/stability.py) on hand-made files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.io import wavfile

from pipeline.stability import compare_folders, comparison_table, difference, differing, group_of, numbers, ulps


def _write(folder: Path, shift: float = 0.0, lsb: int = 0) -> None:
    (folder / "data/features").mkdir(parents=True)
    (folder / "audio").mkdir()
    np.save(folder / "data/features/F0001.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.save(folder / "data/features/F0002.npy", np.array([[1.0, 2.0], [3.0, 4.0 + shift]]))
    pd.DataFrame({"speaker_id": ["F0001", "M0001"], "value": [0.5, 1.5 + shift]}).to_csv(folder / "ams.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps({"female": {"n": 3, "nmse": 0.9 + shift, "label": "x"}}))
    wavfile.write(folder / "audio/F0001_1.wav", 16000, np.array([0, 100, -100 + lsb, 7], dtype=np.int16))
    (folder / "plot.png").write_bytes(b"\x89PNG" + bytes([lsb]))


def test_group_of_generalises_speaker_ids():
    assert group_of("audio/F0012_1.wav") == "audio/<id>.wav"
    assert group_of("data/features/M0003.npy") == "data/features/<id>.npy"
    assert group_of("data/ams/ams.csv") == "data/ams/ams.csv"


def test_numbers_reads_each_kind(tmp_path):
    _write(tmp_path)
    assert numbers(tmp_path / "data/features/F0001.npy").tolist() == [1.0, 2.0, 3.0, 4.0]
    assert numbers(tmp_path / "ams.csv").tolist() == [0.5, 1.5]  # numeric columns only
    assert numbers(tmp_path / "metrics.json").tolist() == [3.0, 0.9]  # numeric leaves in key order
    assert numbers(tmp_path / "audio/F0001_1.wav").tolist() == [0.0, 100.0, -100.0, 7.0]  # in 16-bit steps
    assert numbers(tmp_path / "plot.png") is None


def test_numbers_of_an_npz_skips_its_text_arrays(tmp_path):
    """A cache's NPZ keeps the hash of its input next to the numbers (the study crashed on one)."""
    np.savez(tmp_path / "cache.npz", source=np.array("de16b2"), flags=np.array([True, False]), x=np.array([[1.5, 2.0]]))
    assert numbers(tmp_path / "cache.npz").tolist() == [1.0, 0.0, 1.5, 2.0]
    np.savez(tmp_path / "text.npz", source=np.array("de16b2"))
    assert numbers(tmp_path / "text.npz").tolist() == []


def test_difference_sizes_the_change(tmp_path):
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    np.save(a, np.array([1.0, np.nan, -8.0, 2.0]))
    np.save(b, np.array([1.0, np.nan, -8.0, 2.5]))
    assert difference(a, b) == {"max_abs_diff": 0.5, "share_differing": 0.25, "max_abs_value": 8.0}
    np.save(b, np.array([1.0, 2.0]))
    assert difference(a, b) == {"shape_differs": [4, 2]}
    assert difference(tmp_path / "x.png", tmp_path / "y.png") == {}


def test_compare_folders_groups_identical_and_moved_files(tmp_path):
    _write(tmp_path / "ref")
    _write(tmp_path / "same")
    same = compare_folders(tmp_path / "ref", tmp_path / "same")
    assert differing(same) == []
    assert same["data/features/<id>.npy"] == {"files": 2, "identical": 2}

    _write(tmp_path / "other", shift=1e-9, lsb=1)
    (tmp_path / "other/metrics.json").unlink()
    groups = compare_folders(tmp_path / "ref", tmp_path / "other", frozenset({"plot.png"}))
    assert "plot.png" not in groups
    assert differing(groups) == ["ams.csv", "audio/<id>.wav", "data/features/<id>.npy", "metrics.json"]
    features = groups["data/features/<id>.npy"]
    assert (features["files"], features["identical"]) == (2, 1)
    assert features["max_abs_diff"] == pytest.approx(1e-9) and features["share_differing"] == 0.25
    assert groups["audio/<id>.wav"]["max_abs_diff"] == 1.0
    assert groups["metrics.json"] == {"files": 1, "identical": 0, "missing": 1}


def test_comparison_table_has_a_row_per_setting_and_group():
    compared = {"threads_1": {"a.csv": {"files": 1, "identical": 1}},
                "workers_3": {"a.csv": {"files": 1, "identical": 0, "max_abs_diff": 0.5, "share_differing": 1.0,
                                        "max_abs_value": 2.0}, "b/<id>.npy": {"files": 2, "identical": 0, "missing": 2}}}
    table = comparison_table(compared)
    assert list(table["setting"]) == ["threads_1", "workers_3", "workers_3"]
    assert table.loc[0, "missing"] == 0 and pd.isna(table.loc[0, "max_abs_diff"])
    assert table.loc[1, "max_abs_diff"] == 0.5 and table.loc[2, "missing"] == 2
    assert int(((table["setting"] == "workers_3") & (table["identical"] < table["files"])).sum()) == 2


def test_ulps_counts_steps_of_the_last_place():
    one = np.array([1.0, -1e300, np.nan])
    assert ulps(one, one) == 0.0
    assert ulps(one, np.array([np.nextafter(1.0, 2.0), -1e300, np.nan])) == 1.0
    assert ulps(np.float32([1.0, 2.0]), np.float32([1.0, np.nextafter(np.float32(2.0), np.float32(0.0))])) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        ulps(np.zeros(2), np.zeros(3))
