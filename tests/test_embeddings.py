"""The voice encoders on voices whose truth is known, their offline loading, and the
embeddings stage's layout and refusals. Real libraries throughout: the tiny SpeechBrain and
transformers models are built here, saved to a folder and loaded back by the pipeline's own
loader."""
from __future__ import annotations

import importlib
import sys
import types

import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
from scipy import signal

from pipeline.config import default_params, parse_params, with_values
from pipeline.embeddings import EncoderSet, embed_recordings, encoder_for, load_embeddings
from pipeline.embeddings.base import split_windows, weighted_mean
from pipeline.errors import AudioError, EncoderError, ParamsError
from presets import run

RATE = 16000
TUBE_LENGTH_CM = 17.5
TUBE_FORMANTS = (500.0, 1500.0, 2500.0, 3500.0, 4500.0)  # F_i = (2i - 1) c / 4L of that tube at c = 350 m/s
SHORTER = 1.15  # a second voice's formants are this much higher: its tract this much shorter
BANDWIDTHS = (60.0, 90.0, 120.0, 150.0, 200.0)
CPU = torch.device("cpu")
# Tolerances: Praat's Burg tracker on a steady vowel reads formants within a few %; openSMILE's
# eGeMAPS formant track (a coarser LPC) reads F1 about 20 % low on the same vowel.
PRAAT_FORMANT_TOL = 0.06
PRAAT_F0_TOL = 0.01
VTL_TOL = 0.04
EGEMAPS_F1_TOL = 0.3
EGEMAPS_F2_TOL = 0.15
SEMITONE_TOL = 0.3


def vowel(f0: float = 120.0, scale: float = 1.0, seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    """A glottal pulse train at f0 (0.5 % period jitter) with a spectral tilt, through five
    formant resonators at TUBE_FORMANTS x scale."""
    rng = np.random.default_rng(seed)
    n = int(seconds * RATE)
    pulses = np.zeros(n)
    t = 0.0
    while t < n:
        pulses[int(t)] = 1.0
        t += RATE / f0 * (1 + 0.005 * rng.standard_normal())
    x = signal.lfilter([1], [1, -0.95], pulses)
    for f, b in zip(TUBE_FORMANTS, BANDWIDTHS):
        r = np.exp(-np.pi * b / RATE)
        a = [1, -2 * r * np.cos(2 * np.pi * f * scale / RATE), r * r]
        x = signal.lfilter([sum(a)], a, x)
    x += 1e-4 * rng.standard_normal(n)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def _column(encoder, vectors: np.ndarray, name: str) -> np.ndarray:
    return vectors[:, encoder.feature_names().index(name)]


def test_praat_recovers_f0_formants_and_tract_length():
    praat = encoder_for("praat", (-1,), 10.0, 8, CPU)
    vectors = praat.embed([vowel(120.0), vowel(200.0, seed=1), vowel(110.0, scale=SHORTER, seed=2)])
    assert vectors.shape == (3, len(praat.feature_names())) and np.isfinite(vectors).all()
    np.testing.assert_allclose(_column(praat, vectors, "f0_mean_hz"), [120, 200, 110], rtol=PRAAT_F0_TOL)
    for i in (1, 2, 3, 4):
        np.testing.assert_allclose(_column(praat, vectors, f"f{i}_mean_hz"),
                                   np.array([1, 1, SHORTER]) * TUBE_FORMANTS[i - 1], rtol=PRAAT_FORMANT_TOL)
    np.testing.assert_allclose(_column(praat, vectors, "vtl_cm"), np.array([1, 1, 1 / SHORTER]) * TUBE_LENGTH_CM,
                               rtol=VTL_TOL)
    assert (_column(praat, vectors, "jitter_local") > 0).all() and (_column(praat, vectors, "hnr_db") > 10).all()


def test_egemaps_reads_the_same_voices():
    egemaps = encoder_for("egemaps", (-1,), 10.0, 8, CPU)
    vectors = egemaps.embed([vowel(120.0), vowel(200.0, seed=1)])
    assert vectors.shape == (2, 88)
    semitones = 12 * np.log2(np.array([120.0, 200.0]) / 27.5)
    np.testing.assert_allclose(_column(egemaps, vectors, "F0semitoneFrom27.5Hz_sma3nz_amean"), semitones,
                               atol=SEMITONE_TOL)
    np.testing.assert_allclose(_column(egemaps, vectors, "F1frequency_sma3nz_amean"), 500, rtol=EGEMAPS_F1_TOL)
    np.testing.assert_allclose(_column(egemaps, vectors, "F2frequency_sma3nz_amean"), 1500, rtol=EGEMAPS_F2_TOL)


def test_long_recordings_are_windowed_and_averaged_by_length():
    wave = np.arange(25 * RATE, dtype=np.float32)
    windows = split_windows(wave, RATE, 10.0)
    assert [len(w) for w in windows] == [len(wave) // 3 + 1] * 1 + [len(wave) // 3] * 2 or len(windows) == 3
    assert sum(len(w) for w in windows) == len(wave) and max(len(w) for w in windows) <= 10 * RATE
    rows = np.array([[1.0, np.nan], [3.0, 2.0]])
    np.testing.assert_allclose(weighted_mean(rows, np.array([1.0, 3.0])), [2.5, 2.0])
    praat = encoder_for("praat", (-1,), 1.0, 8, CPU)  # 1 s windows: the 3 s vowel in three
    whole = encoder_for("praat", (-1,), 10.0, 8, CPU)
    long = vowel(150.0, seconds=3.0, seed=4)
    np.testing.assert_allclose(_column(praat, praat.embed([long]), "f0_mean_hz"),
                               _column(whole, whole.embed([long]), "f0_mean_hz"), rtol=0.005)


def test_resemblyzer_is_the_packages_own_encoder(monkeypatch):
    ours = encoder_for("resemblyzer", (-1,), 10.0, 4, CPU)
    waves = [vowel(120.0, seconds=3.0), vowel(120.0, seconds=2.5, seed=7), vowel(210.0, scale=SHORTER, seconds=2.5)]
    vectors = ours.embed(waves)
    assert vectors.shape == (3, 256) and len(ours.feature_names()) == 256
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    same, other = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert same > other, (same, other)
    # resemblyzer itself, importable here only with webrtcvad (which it uses for its own silence
    # trimming, not for embeddings) replaced: pkg_resources is gone from setuptools >= 81.
    monkeypatch.setitem(sys.modules, "webrtcvad", types.ModuleType("webrtcvad"))
    resemblyzer = importlib.import_module("resemblyzer")
    reference = resemblyzer.VoiceEncoder("cpu", verbose=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as ours runs, and quicker on a shared machine
    try:
        expected = np.stack([reference.embed_utterance(w) for w in waves])
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)


def _tiny_wavlm(folder) -> None:
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    torch.manual_seed(0)
    config = WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                         feat_extract_norm="layer", num_buckets=32, max_bucket_distance=100)
    WavLMModel(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=RATE, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(folder)


def test_a_transformers_model_loads_from_a_folder_and_pools_layers(tmp_path):
    _tiny_wavlm(tmp_path / "wavlm")
    waves = [vowel(120.0, seconds=1.5), vowel(200.0, seconds=2.5, seed=1)]
    last = encoder_for(f"hf:{tmp_path / 'wavlm'}", (-1,), 10.0, 2, CPU)
    vectors = last.embed(waves)
    assert vectors.shape == (2, 32) and np.isfinite(vectors).all()
    np.testing.assert_allclose(last.embed(waves[:1]), vectors[:1], atol=1e-4)  # same with or without a batch-mate
    both = encoder_for(f"hf:{tmp_path / 'wavlm'}", (0, -1), 10.0, 2, CPU).embed(waves)
    first = encoder_for(f"hf:{tmp_path / 'wavlm'}", (0,), 10.0, 2, CPU).embed(waves)
    np.testing.assert_allclose(both, (first + vectors) / 2, atol=1e-4)
    with pytest.raises(EncoderError, match=r"layers \[5\] out of range; the model has hidden states 0\.\.2"):
        encoder_for(f"hf:{tmp_path / 'wavlm'}", (5,), 10.0, 2, CPU)


SPEECHBRAIN_HPARAMS = """
n_mels: 24
compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>
mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False
embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: [16, 16, 16, 16, 48]
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 8
    lin_neurons: 12
classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: 12
    out_neurons: 3
modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    classifier: !ref <classifier>
pretrainer: !new:speechbrain.utils.parameter_transfer.Pretrainer
    loadables:
        embedding_model: !ref <embedding_model>
    paths:
        embedding_model: {folder}/embedding_model.ckpt
"""


def test_a_speechbrain_ecapa_loads_from_a_folder(tmp_path):
    try:
        importlib.import_module("speechbrain")
    except (ImportError, OSError) as err:  # PyPI's torchaudio is built for another torch than this CPU one
        pytest.skip(f"speechbrain does not import here: {err}")
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN

    folder = tmp_path / "ecapa"
    folder.mkdir()
    torch.manual_seed(0)
    model = ECAPA_TDNN(24, channels=[16, 16, 16, 16, 48], kernel_sizes=[5, 3, 3, 3, 1], dilations=[1, 2, 3, 4, 1],
                       attention_channels=8, lin_neurons=12)
    torch.save(model.state_dict(), folder / "embedding_model.ckpt")
    (folder / "hyperparams.yaml").write_text(SPEECHBRAIN_HPARAMS.format(folder=folder))
    encoder = encoder_for(f"speechbrain:{folder}", (-1,), 10.0, 2, CPU)
    vectors = encoder.embed([vowel(120.0), vowel(200.0, seed=1)])
    assert vectors.shape == (2, 12) and np.isfinite(vectors).all()


@pytest.mark.parametrize("kind", ["hf", "speechbrain"])
def test_missing_weights_name_the_model_and_where_it_looked(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderError) as err:
        encoder_for(f"{kind}:nobody/no-such-model", (-1,), 10.0, 2, CPU)
    message = str(err.value)
    assert f"encoder {kind}:nobody/no-such-model: no weights found offline" in message
    assert "the Hugging Face cache" in message and "huggingface-cli download nobody/no-such-model" in message
    with pytest.raises(EncoderError, match=r"looked in the folder .*missing \(does not exist\)"):
        encoder_for(f"{kind}:{tmp_path / 'missing'}", (-1,), 10.0, 2, CPU)


def test_encoder_specs_are_checked_at_load():
    assert parse_params({"embedding": {"encoder": "praat"}}).embedding.encoder == ("praat",)
    for bad in (["egemap"], ["hf:"], ["praat", "praat"], []):
        with pytest.raises(ParamsError, match="embedding.encoder|embedding: encoder"):
            parse_params({"embedding": {"encoder": bad}})


def test_several_encoders_concatenate_with_prefixed_names():
    waves = [vowel(120.0), vowel(200.0, seed=1)]
    both = EncoderSet.build(_settings(("egemaps", "praat")), CPU)
    vectors = both.embed(waves, RATE)
    names = both.feature_names()
    assert vectors.shape == (2, 88 + 20) and len(names) == 108
    assert names[0].startswith("egemaps/") and names[-1] == "praat/voiced_share"
    assert [n for n, m in zip(names, both.may_be_undefined()) if m] == ["praat/hnr_db", "praat/jitter_local",
                                                                        "praat/shimmer_local"]
    alone = embed_recordings(waves, ("praat",), (-1,), 10.0, 8, CPU)
    np.testing.assert_allclose(vectors[:, 88:], alone, rtol=1e-6)
    at_44k = [signal.resample_poly(w, 441, 160).astype(np.float32) for w in waves]  # resampled to each encoder
    np.testing.assert_allclose(both.embed(at_44k, 44100)[:, both.feature_names().index("praat/f0_mean_hz")],
                               [120, 200], rtol=PRAAT_F0_TOL)


def _settings(specs):
    from pipeline.embeddings import EmbeddingSettings

    return EmbeddingSettings.from_params(with_values(default_params(), "embedding", {"encoder": list(specs)},
                                                     "test").embedding)


def _world(base):
    """A tiny dataset root: 3 speakers x 2 recordings (0.5 s of silence, 2 s of vowel), and the
    vad stage's segments for it."""
    rows = []
    for s, (sid, f0) in enumerate((("M0001", 110.0), ("F0002", 210.0), ("007", 150.0))):
        for r in range(2):
            rel = f"audio/{sid}_{r}.wav"
            (base / "root" / "audio").mkdir(parents=True, exist_ok=True)
            wave = np.concatenate([np.zeros(RATE // 2, np.float32), vowel(f0, seed=10 * s + r)])
            soundfile.write(base / "root" / rel, wave, RATE)
            rows.append((sid, rel, 0.5, 2.5))
    segments = base / "out" / "data" / "vad" / "segments.csv"
    segments.parent.mkdir(parents=True)
    pd.DataFrame(rows, columns=["speaker_id", "recording", "start_s", "end_s"]).to_csv(segments, index=False)
    return base / "root", segments


def _params(root, on_error="fail", encoder=("praat", "egemaps"), estimator="embedding_ridge"):
    params = with_values(default_params(), "data", {"root": str(root), "on_error": on_error}, "test")
    params = with_values(params, "sfv", {"estimator": estimator}, "test")
    return with_values(params, "embedding", {"encoder": list(encoder)}, "test")


def test_the_stage_writes_the_documented_layout(tmp_path):
    root, _ = _world(tmp_path)
    paths = run("embeddings", _params(root), tmp_path / "out")
    folder = paths.embeddings
    assert sorted(p.name for p in folder.iterdir()) == ["index.csv", "meta.json", "skipped.csv", "vectors.npy"]
    index = pd.read_csv(folder / "index.csv", dtype={"speaker_id": str})
    assert list(index.columns) == ["speaker_id", "recording", "seconds"]
    assert list(index.speaker_id) == ["M0001", "M0001", "F0002", "F0002", "007", "007"]
    np.testing.assert_allclose(index.seconds, 2.0)
    by_speaker, meta = load_embeddings(folder)
    assert set(by_speaker) == {"M0001", "F0002", "007"} and by_speaker["007"].shape == (2, 108)
    assert by_speaker["M0001"].dtype == np.float32
    assert meta["specs"] == ["praat", "egemaps"] and meta["dim"] == 108 and len(meta["feature_names"]) == 108
    assert [e["dim"] for e in meta["encoders"]] == [20, 88] and meta["audio_s"] == pytest.approx(12.0)
    assert meta["packages"]["praat-parselmouth"] and meta["window_s"] == 10.0 and meta["undefined"] == {}
    f0 = by_speaker["F0002"][:, meta["feature_names"].index("praat/f0_mean_hz")]
    np.testing.assert_allclose(f0, 210, rtol=PRAAT_F0_TOL)


def test_the_stage_runs_no_encoder_for_an_estimator_that_reads_none(tmp_path, monkeypatch):
    root, _ = _world(tmp_path)
    (root / "audio" / "F0002_1.wav").write_bytes(b"not audio")  # never read: no encoder runs
    monkeypatch.setattr(EncoderSet, "build", lambda *a, **k: pytest.fail("an encoder was built"))
    paths = run("embeddings", _params(root, estimator="stats_ridge"), tmp_path / "out")
    by_speaker, meta = load_embeddings(paths.embeddings)
    assert by_speaker == {} and meta["specs"] == [] and meta["dim"] == 0
    assert "stats_ridge reads no embeddings" in meta["not_needed"]


def test_the_stage_refuses_bad_input_and_leaves_nothing(tmp_path):
    root, _ = _world(tmp_path)
    (root / "audio" / "F0002_1.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnothing")
    with pytest.raises(AudioError, match=r"speaker F0002: audio/F0002_1\.wav cannot be read as audio"):
        run("embeddings", _params(root, encoder=("praat",)), tmp_path / "out")
    assert not (tmp_path / "out" / "data" / "embeddings").exists()
    assert not (tmp_path / "out" / "data" / "embeddings.partial").exists()
    soundfile.write(root / "audio" / "F0002_1.wav", np.zeros(RATE * 3, np.float32), RATE)  # silence: no voicing
    with pytest.raises(AudioError, match=r"speaker F0002: audio/F0002_1\.wav: \d+ measures undefined"):
        run("embeddings", _params(root, encoder=("praat",)), tmp_path / "out")
    paths = run("embeddings", _params(root, "skip", encoder=("praat",)), tmp_path / "out")
    skipped = pd.read_csv(paths.embeddings / "skipped.csv")
    assert list(skipped.speaker_id) == ["F0002"] and not skipped.reason.str.contains("on_error").any()
    assert set(load_embeddings(paths.embeddings)[0]) == {"M0001", "007"}


def test_bench_embeddings_reports_each_encoder_and_the_peer():
    from pipeline.bench_embeddings import ENCODERS, bench_embeddings

    out = bench_embeddings(recordings=1, seconds=2.0, seed=0)
    assert out["audio_seconds"] == pytest.approx(2.0)
    for spec in ENCODERS:
        assert out[spec]["realtime_per_core"] > 0 and out[spec]["dim"] > 0
    assert out["resemblyzer"]["network_1_threads"]["s"] > 0 and out["peer_log_mel"]["realtime"] > 0
