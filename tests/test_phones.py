"""Stored frames cut by phones: frame times as the features stage kept them, pooling, bad input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.audio.features import frames_in_segments
from pipeline.audio.phones import PHONE_CLASSES, cut_phones, known_phones, phone_unit, stored_frame_times, unknown_phones
from pipeline.errors import DatasetError

HOP = 0.01
# Two recordings: "a" with 80 frames, "b" with 40 frames (last centre 0.39), two segments each.
SPANS = {"a": [[0.105, 0.3], [0.5, 0.62]], "b": [[0.0, 0.155], [0.2, 0.3951]]}
N_FRAMES = {"a": 80, "b": 40}


def _segments(spans: dict[str, list[list[float]]]) -> pd.DataFrame:
    return pd.DataFrame([("s1", rec, start, end) for rec, pairs in spans.items() for start, end in pairs],
                        columns=["speaker_id", "recording", "start_s", "end_s"])


def _masks() -> dict[str, np.ndarray]:
    return {rec: frames_in_segments(N_FRAMES[rec], HOP, np.array(SPANS[rec])) for rec in SPANS}


def _index(counts: dict[str, int]) -> pd.DataFrame:
    return pd.DataFrame([("s1", rec, n) for rec, n in counts.items()], columns=["speaker_id", "recording", "frames"])


def test_frame_times_are_the_frames_speech_frames_kept():
    masks = _masks()
    recordings, times = stored_frame_times(_segments(SPANS), _index({r: m.sum() for r, m in masks.items()}), HOP)
    expected_rec = np.concatenate([np.full(m.sum(), r) for r, m in masks.items()])
    expected_t = np.concatenate([np.arange(len(m))[m] * HOP for m in masks.values()])
    assert len(times) == 19 + 12 + 16 + 20
    assert list(recordings) == list(expected_rec)
    np.testing.assert_array_equal(times, expected_t)


def test_frame_past_the_recording_end_is_dropped_not_an_error():
    spans = {"b": [[0.2, 0.4049]]}  # selects centre 0.40, i.e. frame 40 of a 40-frame recording
    stored = frames_in_segments(40, HOP, np.array(spans["b"])).sum()
    assert stored == 20
    _, times = stored_frame_times(_segments(spans), _index({"b": stored}), HOP)
    np.testing.assert_array_equal(times, np.arange(20, 40) * HOP)


def test_inconsistent_frame_count_names_speaker_and_recording():
    masks = _masks()
    for wrong in (masks["a"].sum() + 1, masks["a"].sum() - 5):  # too many; too few, far from the end
        with pytest.raises(DatasetError, match=r"speaker s1, recording a: .* stores %d frames" % wrong):
            stored_frame_times(_segments(SPANS), _index({"a": wrong, "b": masks["b"].sum()}), HOP)
    with pytest.raises(DatasetError, match=r"speaker s1: .*\['b'\]"):
        stored_frame_times(_segments(SPANS), _index({"a": masks["a"].sum()}), HOP)


def test_boundaries_start_in_end_out():
    hop = 0.25  # exact in binary, so the centres equal the segment ends exactly
    _, times = stored_frame_times(_segments({"a": [[0.25, 0.75]]}), _index({"a": 2}), hop)
    np.testing.assert_array_equal(times, [0.25, 0.5])
    frames = np.arange(5, dtype=np.float32)[:, None]
    cut = cut_phones(frames, np.full(5, "a"), np.arange(5) * hop, _alignment([("a", 0.25, 0.75, "M")]),
                     speaker_id="s1", shown_as="al.csv")
    np.testing.assert_array_equal(cut["M"].frames[:, 0], [1, 2])


def _alignment(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["recording", "start_s", "end_s", "phone"])


@pytest.fixture
def speaker():
    """20 frames, 10 of a (times 0.0-0.09) then 10 of b; frame value = its row."""
    recordings = np.array(["a"] * 10 + ["b"] * 10, dtype=object)
    times = np.r_[np.arange(10), np.arange(10)] * HOP
    return np.arange(20, dtype=np.float32)[:, None] * [1.0, -1.0], recordings, times


ALIGNMENT = [("a", 0.0, 0.025, "sil"), ("a", 0.025, 0.055, "M"), ("a", 0.055, 0.095, "AE1~"),
             ("b", 0.0, 0.02, "N"), ("b", 0.02, 0.045, "M"), ("b", 0.5, 0.6, "M")]  # the last outside speech


def test_pooling_per_phone_and_per_class(speaker):
    frames, recordings, times = speaker
    by_phone = cut_phones(frames, recordings, times, _alignment(ALIGNMENT), speaker_id="s1", shown_as="al.csv")
    assert set(by_phone) == {"M", "AE~", "N"}
    np.testing.assert_array_equal(by_phone["M"].frames[:, 0], [3, 4, 5, 12, 13, 14])
    np.testing.assert_array_equal(by_phone["M"].frames[:, 1], [-3, -4, -5, -12, -13, -14])
    assert by_phone["M"].instances == 2  # the row outside speech does not count
    assert by_phone["M"].seconds == pytest.approx(0.03 + 0.025)
    np.testing.assert_array_equal(by_phone["AE~"].frames[:, 0], [6, 7, 8, 9])
    by_class = cut_phones(frames, recordings, times, _alignment(ALIGNMENT), "class", speaker_id="s1",
                          shown_as="al.csv")
    assert set(by_class) == {"nasal", "nasal_vowel"}
    np.testing.assert_array_equal(by_class["nasal"].frames[:, 0], [3, 4, 5, 10, 11, 12, 13, 14])
    assert by_class["nasal"].instances == 3
    assert by_class["nasal"].seconds == pytest.approx(0.03 + 0.02 + 0.025)
    # Instances stay apart for the statistics: M at 3-5, N at 10-11, M at 12-14.
    assert [p[:, 0].tolist() for p in by_class["nasal"].pieces()] == [[3, 4, 5], [10, 11], [12, 13, 14]]


def test_rounding_overlap_gives_the_shared_frame_to_the_earlier_phone(speaker):
    rows = [("a", 0.0, 0.0304, "M"), ("a", 0.0296, 0.06, "N")]  # both hold the frame at 0.03
    cut = cut_phones(*speaker, _alignment(rows), speaker_id="s1", shown_as="al.csv")
    np.testing.assert_array_equal(cut["M"].frames[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(cut["N"].frames[:, 0], [4, 5])
    assert cut["N"].seconds == pytest.approx(0.06 - 0.0304)


def test_min_frames_drops_short_instances(speaker):
    cut = cut_phones(*speaker, _alignment(ALIGNMENT), min_frames=3, speaker_id="s1", shown_as="al.csv")
    assert cut["M"].instances == 2 and len(cut["M"].frames) == 6 and "N" not in cut


@pytest.mark.parametrize("rows, columns, message", [
    (ALIGNMENT, ["recording", "start_s", "end_s"], r"al\.csv: speaker s1: missing column\(s\) \['phone'\]"),
    ([("a", 0.03, 0.03, "M")], None, r"al\.csv: speaker s1, line 2: start_s 0.03 is not before end_s 0.03"),
    ([("a", 0.0, 0.02, "M"), ("c", 0.0, 0.02, "M")], None, r"line 3: recording 'c' is not one of .*\['a', 'b'\]"),
    ([("a", "0.0", "x", "M")], None, r"line 2: start_s and end_s must be numbers"),
    ([("a", 0.0, 0.02, "M"), ("a", -1.0, 0.01, "N")], None, r"line 3: start_s -1\.0 is negative; times are seconds"),
    ([("a", 0.0, 0.05, "M"), ("b", 0.0, 0.05, "M"), ("a", 0.04, 0.06, "N")], None,
     r"lines 2 and 4: the phones overlap by 0.010 s"),
])
def test_bad_alignment_is_a_dataset_error(speaker, rows, columns, message):
    table = _alignment(rows)
    with pytest.raises(DatasetError, match=message):
        cut_phones(*speaker, table[columns] if columns else table, speaker_id="s1", shown_as="al.csv")


def test_phone_units_and_classes():
    assert [phone_unit(p) for p in ("AH1", "ae~", " sil ", "SPN", "XX")] == ["AH", "AE~", None, None, "XX"]
    assert [phone_unit(p, "class") for p in ("M", "NG", "AE~", "IY", "UW", "B", "K", "S", "XX")] == [
        "nasal", "nasal", "nasal_vowel", "front_vowel", "back_vowel", "plosive_voiced", "plosive_voiceless",
        "fricative_voiceless", None]
    phones = [p for members in PHONE_CLASSES.values() for p in members]
    assert len(phones) == len(set(phones)) == 39 + 15  # CMU's 39 ARPAbet phones and 15 nasalised vowels
    with pytest.raises(ValueError, match="by must be"):
        phone_unit("M", "word")


def _phones(*phones: str) -> pd.DataFrame:
    return pd.DataFrame({"recording": "a", "start_s": np.arange(len(phones)) * 0.1,
                         "end_s": np.arange(1, len(phones) + 1) * 0.1, "phone": list(phones)})


def test_the_inventory_is_arpabet_with_stress_silence_and_nasalised_vowels():
    assert unknown_phones(_phones("AH1", "ae~", "sil", "SP", "spn", "ng", "ZH", "QQ", "QQ", "x")["phone"]) == {
        "QQ": 2, "x": 1}


def test_unknown_phones_are_an_error_naming_speaker_and_phones():
    with pytest.raises(DatasetError, match=r"al\.csv: speaker s1: 2 rows have phones outside sfv's ARPAbet "
                                           r"inventory: 'QQ' \(2 rows\)\. sfv reads the 39 ARPAbet phones"):
        known_phones(_phones("M", "QQ", "AA1", "QQ"), "fail", speaker_id="s1", shown_as="al.csv")


def test_ipa_is_refused_by_name():
    with pytest.raises(DatasetError, match=r"\['æ', 'ʃ'\] are IPA, which sfv does not read: align with an ARPAbet"):
        known_phones(_phones("æ", "m", "ʃ", "sil"), "fail", speaker_id="s1", shown_as="al.csv")


def test_unknown_phones_in_skip_mode_are_a_counted_warning(capsys):
    kept, unknown = known_phones(_phones("M", "QQ", "AA1", "QQ", "ʃ"), "skip", speaker_id="s1", shown_as="al.csv")
    assert list(kept.phone) == ["M", "AA1"] and unknown == {"QQ": 2, "ʃ": 1}
    err = capsys.readouterr().err
    assert "warning: al.csv: speaker s1: 3 rows have phones outside" in err and "'QQ' (2 rows)" in err
    assert "left out" in err
    same, none = known_phones(_phones("M", "AA1"), "skip", speaker_id="s1", shown_as="al.csv")
    assert none == {} and len(same) == 2 and capsys.readouterr().err == ""


# --- the phonemes stage on a tiny made-up world: unknown phones (issue 31) --------------------

def _phonemes_world(tmp_path: Path, unknown_for: str, on_error: str) -> tuple[Path, Path]:
    """30 female speakers with 2 s of random features each, one alignment of 20 phones each;
    speaker `unknown_for` has two rows of 'QQ' and one of IPA 'ʃ'."""
    from pipeline.artifacts import save_npy, write_csv
    from presets import paths_under

    root, work = tmp_path / "root", tmp_path / "work"
    (root / "alignments").mkdir(parents=True)
    paths = paths_under(work)
    rng = np.random.default_rng(0)
    ids = [f"F{i:03d}" for i in range(1, 31)]
    phones = ["M", "N", "AA1", "IY0", "S", "T"] * 3 + ["sil", "AE"]
    paths.features.mkdir(parents=True)
    for sid in ids:
        save_npy(rng.standard_normal((200, 64)).astype(np.float32), paths.features / f"{sid}.npy")
        mine = phones[:17] + ["QQ", "ʃ", "QQ"] if sid == unknown_for else phones
        pd.DataFrame({"recording": "a.wav", "start_s": np.arange(20) * 0.1, "end_s": np.arange(1, 21) * 0.1,
                      "phone": mine}).to_csv(root / "alignments" / f"{sid}.csv", index=False)
    write_csv(pd.DataFrame({"speaker_id": ids, "recording": "a.wav", "frames": 200}), paths.features / "index.csv")
    write_csv(pd.DataFrame({"speaker_id": ids, "recording": "a.wav", "start_s": 0.0, "end_s": 2.0}), paths.segments)
    ams = pd.DataFrame(rng.standard_normal((30, 96)) + 50, columns=[f"am_{k}" for k in range(1, 97)])
    write_csv(pd.concat([pd.DataFrame({"speaker_id": ids, "gender": "F"}), ams], axis=1), paths.ams)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"data": {"root": str(root), "on_error": on_error},
                                      "sfv": {"genders": ["female"], "repeats": 2}}))
    return params, work


def test_the_phonemes_stage_refuses_unknown_phones_naming_speaker_and_phones(tmp_path):
    from presets import run

    params, work = _phonemes_world(tmp_path, "F007", "fail")
    run("splits", params, work)
    with pytest.raises(DatasetError, match=r"alignments/F007\.csv: speaker F007: 3 rows have phones outside sfv's "
                                           r"ARPAbet inventory: 'QQ' \(2 rows\), 'ʃ' \(1 rows\)\. \['ʃ'\] are IPA"):
        run("phonemes", params, work, "female")


def test_the_phonemes_stage_counts_unknown_phones_in_skip_mode(tmp_path, capsys):
    from presets import run

    params, work = _phonemes_world(tmp_path, "F007", "skip")
    run("splits", params, work)
    paths = run("phonemes", params, work, "female")
    assert "warning: alignments/F007.csv: speaker F007: 3 rows have phones outside" in capsys.readouterr().err
    metrics = json.loads((paths.phonemes / "female.json").read_text())["female"]["phonemes"]
    assert metrics["unknown_phones"] == {"F007": {"QQ": 2, "ʃ": 1}}
    assert len(pd.read_csv(paths.phonemes / "female_skipped.csv")) == 0  # the speaker stays, with its known phones
