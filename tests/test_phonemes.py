"""The phoneme analysis: AM groups, the per-unit protocol, and a tiny world where the answer is known."""
import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.audio.features import frames_in_segments, speech_frames
from pipeline.audio.phones import cut_phones, unit_family
from pipeline.face.ams import default_am_table, measure_landmarks
from pipeline.face.template import build_template
from pipeline.selection.phonemes import am_groups, group_matrix, phoneme_table, unit_ranking, unit_ratios
from pipeline.splits import make_splits
from pipeline.synth.cohort import record
from pipeline.synth.link import draw_latents, voice_params
from pipeline.synth.shape_model import build_shape_model
from presets import DEFAULTS, log_mel, voice_settings


def test_am_groups_follow_the_landmark_scheme():
    table = default_am_table()
    group = dict(zip(table.am_id, am_groups(table)))
    assert group[1] == "eyes_brows"  # 11-15, the right eye
    assert group[13] == "nose"  # 32-38, alar width
    assert group[51] == "nose"  # 32-38 / 28-31: judged by the numerator
    labels = dict(zip(table.label, table.am_id))
    assert group[labels["39-45"]] == "mouth"
    assert group[labels["56-64"]] == "jaw"  # bigonial width
    assert group[labels["57-63"]] == "outline"  # bizygomatic width
    assert set(group.values()) == {"nose", "mouth", "jaw", "eyes_brows", "outline"}


def test_unit_ratios_find_a_unit_that_carries_the_targets():
    rng = np.random.default_rng(0)
    ids = [f"s{i:03d}" for i in range(90)]
    targets = pd.DataFrame(rng.standard_normal((90, 2)), index=ids, columns=["am_1", "am_2"])
    splits = make_splits(ids, 4, 0, "male", 0.1)
    informative = {s: np.r_[targets.loc[s, "am_1"] + 0.3 * rng.standard_normal(), rng.standard_normal(20)]
                   for s in ids}
    noise = {s: rng.standard_normal(21) for s in ids}
    carried, empty = unit_ratios(informative, splits, targets), unit_ratios(noise, splits, targets)
    assert carried.ratios.shape == (4, 2)
    assert carried.ratios[:, 0].mean() < 0.3  # am_1 is in the statistics
    assert carried.ratios[:, 1].mean() > 0.8 and empty.ratios.mean() > 0.8
    # Speakers without the unit leave it; too few left and there is no analysis.
    assert unit_ratios({s: informative[s] for s in ids[:12]}, splits, targets) is None


def _tiny_world(n: int, seed: int = 3):
    """n women whose voices carry only the nasal link, strongly; features and alignments as the
    features stage and the synthetic root would give them."""
    table = default_am_table()
    model = build_shape_model(build_template(DEFAULTS.synth.vertices), DEFAULTS.synth.residual_mm)
    rng = np.random.default_rng(seed)
    factors, landmarks = model.sample_landmarks(rng, "F", n)
    voice = voice_settings(seconds=8.0, recordings=1, coupling=3.0, planted=("nasal",), snr_db=(30.0, 35.0),
                           reverb=0.0)
    latents = draw_latents(model, factors, "F", rng, voice.coupling, voice.planted)
    with torch.no_grad():
        ams = measure_landmarks(torch.from_numpy(landmarks), table).numpy()
    extractor, hop_s = log_mel(), 0.01
    pools = {}
    for i in range(n):
        recording = record(voice_params(latents[i]), np.random.default_rng([seed, i]), voice)
        with torch.no_grad():
            mel = extractor(torch.from_numpy(recording.audio.astype(np.float32))[None])[0].numpy()
        spans = np.array([(a, b) for phone, a, b in recording.phones if phone != "sil"])
        frames = speech_frames(mel, hop_s, spans)
        times = np.flatnonzero(frames_in_segments(len(mel), hop_s, spans)) * hop_s
        alignment = pd.DataFrame([("a.wav", a, b, p) for p, a, b in recording.phones],
                                 columns=["recording", "start_s", "end_s", "phone"])
        pools[f"F{i:03d}"] = cut_phones(frames, np.full(len(frames), "a.wav", dtype=object), times, alignment,
                                        "class", 2, speaker_id=f"F{i:03d}", shown_as="a.csv")
    targets = pd.DataFrame(ams, index=list(pools), columns=[f"am_{k}" for k in table.am_id])
    return pools, targets, table


@pytest.fixture(scope="module")
def tiny():
    pools, targets, table = _tiny_world(70)
    splits = make_splits(list(targets.index), 4, 0, "female", 0.1)
    return phoneme_table(pools, splits, targets, table, 2, 0.8 * len(targets), 0.05), table


def test_nasal_phones_beat_plosives_on_the_planted_nose_width(tiny):
    long, table = tiny
    width = long[long["am_id"] == 13].set_index("phoneme")  # 32-38, alar width: planted by the nasal group
    assert {"nasal", "nasal_vowel", "plosive_voiced", "plosive_voiceless"} <= set(width.index)
    nasal = width.loc[["nasal", "nasal_vowel"], "mean_ratio"].mean()
    plosive = width.loc[["plosive_voiced", "plosive_voiceless"], "mean_ratio"].mean()
    assert nasal < plosive - 0.1, (nasal, plosive)
    assert unit_family("nasal_vowel") == "nasal" and unit_family("NG") == "nasal" and unit_family("T") == "plosive"


def test_the_table_ranks_units_and_groups_them(tiny):
    long, table = tiny
    ranking = unit_ranking(long)
    assert list(ranking["mean_1_minus_ci_u"]) == sorted(ranking["mean_1_minus_ci_u"], reverse=True)
    assert (long.groupby("phoneme").size() == len(table)).all()
    matrix = group_matrix(long)
    assert list(matrix.index) == list(ranking["phoneme"])
    assert list(matrix.columns) == ["nose", "mouth", "jaw", "eyes_brows", "outline"]
    # The matrix is 1 - CI_u averaged over each group's AMs.
    unit = ranking["phoneme"].iloc[0]
    rows = long[(long["phoneme"] == unit) & (long["group"] == "nose")]
    assert matrix.loc[unit, "nose"] == pytest.approx((1 - rows["ci_u"]).mean())


def test_no_pools_give_an_empty_table():
    table = default_am_table()
    splits = make_splits([f"s{i}" for i in range(30)], 2, 0, "male", 0.1)
    empty = phoneme_table({}, splits, pd.DataFrame(), table, 3, 1, 0.05)
    assert empty.empty and "mean_1_minus_ci_u" in empty.columns


def test_a_root_without_alignments_says_why():
    from pipeline.selection.phonemes import COLUMNS
    from pipeline.selection.phonemes import phoneme_metrics as _metrics
    empty = pd.DataFrame(columns=COLUMNS)
    assert "no speaker has an alignment file" in _metrics(empty, 0, 0, 40, 0.8)["note"]
    assert "80%" in _metrics(empty, 5, 40, 40, 0.8)["note"]
