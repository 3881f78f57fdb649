"""Audio loading and log-mel features: librosa's numbers, any input format, clear errors."""
import librosa
import numpy as np
import pytest
import soundfile
import torch

from pipeline.audio.features import frames_in_segments, log_mel_batch, normalise
from pipeline.audio.io import load_audio
from pipeline.errors import AudioError
from pipeline.synth.speech import VoiceParams, apply_channel, script_for, synthesize
from presets import log_mel

LIBROSA_TOLERANCE_DB = 1e-3  # un-normalised log-mels against librosa's, largest difference
RESAMPLED_MEDIAN_SD = 0.02  # a 44.1 kHz stereo FLAC's normalised features against its 16 kHz WAV's, median


@pytest.fixture(scope="module")
def speech():
    rng = np.random.default_rng(0)
    dry = synthesize(script_for(4.0), VoiceParams(f0_hz=120.0, vtl_cm=16.5), rng)
    audio, _ = apply_channel(dry, rng, snr_db=25.0, lead_s=0.5, trail_s=0.5)
    return audio.astype(np.float32)


def _librosa_log_mel(y):
    mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=512, hop_length=160, win_length=400, window="hann",
                                         center=True, pad_mode="constant", power=2.0, n_mels=64)
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).T


def test_log_mels_equal_librosa_also_in_a_padded_batch(speech):
    clips = [speech, speech[: len(speech) // 2 + 37]]
    ours = log_mel_batch(clips, log_mel(), torch.device("cpu"))
    for clip, mel in zip(clips, ours):
        reference = _librosa_log_mel(clip)
        assert mel.shape == reference.shape == (1 + len(clip) // 160, 64)
        assert np.abs(mel - reference).max() <= LIBROSA_TOLERANCE_DB


def test_normalised_features_are_standard_over_speech_frames(speech):
    mel = log_mel_batch([speech], log_mel(), torch.device("cpu"))[0]
    mask = frames_in_segments(len(mel), 0.01, np.array([[0.5, 4.5]]))
    assert mask.sum() == 400
    z = normalise(mel, mask)
    np.testing.assert_allclose(z[mask].mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(z[mask].std(0), 1.0, atol=1e-3)
    with pytest.raises(ValueError, match="no speech"):
        normalise(mel, np.zeros(len(mel), dtype=bool))


def test_flac_44k_stereo_gives_the_features_of_the_16k_mono_wav(speech, tmp_path):
    wav = tmp_path / "a.wav"
    soundfile.write(wav, speech, 16000, subtype="PCM_16")
    hi = librosa.resample(speech, orig_sr=16000, target_sr=44100, res_type="soxr_hq")
    flac = tmp_path / "a.flac"
    soundfile.write(flac, np.column_stack([hi, hi]), 44100, subtype="PCM_24")
    a, b = load_audio(wav), load_audio(flac)
    assert abs(len(a) - len(b)) <= 1
    n = min(len(a), len(b))
    mel_a, mel_b = log_mel_batch([a[:n], b[:n]], log_mel(), torch.device("cpu"))
    mask = frames_in_segments(len(mel_a), 0.01, np.array([[0.5, 4.5]]))
    diff = np.abs(normalise(mel_a, mask) - normalise(mel_b, mask))[mask]
    assert np.median(diff) < RESAMPLED_MEDIAN_SD and np.percentile(diff, 99) < 0.2


def test_bad_audio_is_an_error_naming_speaker_and_file(tmp_path):
    with pytest.raises(AudioError, match=r"speaker F0007: .*missing\.wav does not exist"):
        load_audio(tmp_path / "missing.wav", speaker_id="F0007")
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="speaker M0001: .*empty.wav is empty"):
        load_audio(empty, speaker_id="M0001")
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    with pytest.raises(AudioError, match="speaker M0002: .*corrupt.wav cannot be read"):
        load_audio(corrupt, speaker_id="M0002")
    slow = tmp_path / "slow.wav"
    soundfile.write(slow, np.zeros(6000, dtype=np.float32), 6000)
    with pytest.raises(AudioError, match="6000 Hz; at least 8000 Hz"):
        load_audio(slow, speaker_id="M0003")


def test_stored_segments_are_what_the_vad_stages_csv_gives_back(tmp_path):
    """sfv predict rounds a new voice's segments with the function the vad stage stores with."""
    import pandas as pd

    from pipeline.audio.vad import SEGMENT_DECIMALS, stored_segments

    rng = np.random.default_rng(0)
    raw = np.sort(rng.uniform(0, 30, size=(500, 2)), axis=1)
    raw[:5] = [[0.0005, 0.0015], [1.2345, 2.3455], [0.1, 0.2], [7.0625, 8.0], [2.5, 3.0]]  # ties and exact values
    path = tmp_path / "segments.csv"
    pd.DataFrame(stored_segments(raw), columns=["start_s", "end_s"]).to_csv(
        path, index=False, float_format=f"%.{SEGMENT_DECIMALS}f")
    np.testing.assert_array_equal(pd.read_csv(path).to_numpy(), stored_segments(raw))
    np.testing.assert_array_equal(stored_segments(stored_segments(raw)), stored_segments(raw))
    assert np.abs(stored_segments(raw) - raw).max() <= 0.0005 + 1e-12
