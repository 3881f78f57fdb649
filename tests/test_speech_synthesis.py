"""The speech synthesiser: what pitch, formant and spectrum analyses see in its output."""
import librosa
import numpy as np
import pytest

from pipeline.synth.speech import PHONES, SAMPLE_RATE, VoiceParams, apply_channel, read_script, script_for, synthesize

RNG = np.random.default_rng(11)


def _voice(**kw):
    return VoiceParams(**{"f0_hz": 95.0, "vtl_cm": 17.0, **kw})  # low f0: LPC sees formants, not harmonics


def _formants(y):
    """F1.. from LPC roots with bandwidth < 400 Hz over the steady middle of a vowel."""
    middle = y[len(y) // 8: -len(y) // 8]
    a = librosa.lpc(middle * np.hanning(len(middle)), order=18)
    roots = np.roots(a)
    roots = roots[np.imag(roots) > 0]
    freq = np.angle(roots) * SAMPLE_RATE / (2 * np.pi)
    bandwidth = -np.log(np.abs(roots)) * SAMPLE_RATE / np.pi
    return np.sort(freq[(bandwidth < 400) & (freq > 150)])


def _spectrum(y):
    return np.abs(np.fft.rfft(y)) ** 2, np.fft.rfftfreq(len(y), 1 / SAMPLE_RATE)


@pytest.mark.parametrize("f0", [110.0, 210.0])
def test_f0_is_what_was_asked(f0):
    y = synthesize([("AA", 1.0), ("IY", 1.0)], _voice(f0_hz=f0), RNG)
    track, voiced, _ = librosa.pyin(y, fmin=60, fmax=400, sr=SAMPLE_RATE)
    assert abs(np.nanmedian(track[voiced]) / f0 - 1) < 0.05


def test_formants_scale_with_vocal_tract_length():
    short = _formants(synthesize([("AA", 1.0)], _voice(vtl_cm=15.0), RNG))[:2]
    long = _formants(synthesize([("AA", 1.0)], _voice(vtl_cm=18.0), RNG))[:2]
    np.testing.assert_allclose(short / long, 18.0 / 15.0, rtol=0.1)
    iy = _formants(synthesize([("IY", 1.0)], _voice(), RNG))[:2]
    aa = _formants(synthesize([("AA", 1.0)], _voice(), RNG))[:2]
    assert iy[0] < aa[0] and iy[1] > aa[1] + 600  # /i/ close and front, /a/ open and back


def test_jaw_and_lip_parameters_move_f1_and_f2():
    wide = _formants(synthesize([("AA", 1.0)], _voice(f1_range=1.25), RNG))
    narrow = _formants(synthesize([("AA", 1.0)], _voice(f1_range=0.75), RNG))
    assert wide[0] > narrow[0] + 50  # /a/ is above the mean F1: a wider range raises it
    spread = _formants(synthesize([("IY", 1.0)], _voice(f2_scale=1.08), RNG))
    rounded = _formants(synthesize([("IY", 1.0)], _voice(f2_scale=0.92), RNG))
    assert spread[1] / rounded[1] == pytest.approx(1.08 / 0.92, rel=0.05)


def test_nasals_carry_the_nasal_resonance():
    power, freq = _spectrum(synthesize([("M", 1.0)], _voice(), RNG))
    murmur_low = power[freq < 500].sum() / power[freq < 4000].sum()
    power, freq = _spectrum(synthesize([("AA", 1.0)], _voice(), RNG))
    vowel_low = power[freq < 500].sum() / power[freq < 4000].sum()
    assert murmur_low > 0.7 and murmur_low > vowel_low + 0.3
    low = _formants(synthesize([("AA~", 1.0)], _voice(nasal_pole_hz=400.0, nasal_coupling=0.6), RNG))[0]
    high = _formants(synthesize([("AA~", 1.0)], _voice(nasal_pole_hz=600.0, nasal_coupling=0.6), RNG))[0]
    assert low < high - 100  # the extra nasal pole is the lowest resonance and follows the parameter
    assert abs(low - 400.0) < 60


def test_fricative_s_is_high_frequency_noise():
    y = synthesize([("AA", 0.5), ("S", 0.5), ("AA", 0.5)], _voice(), RNG)
    power, freq = _spectrum(y[9000:15000])
    assert power[freq > 3500].sum() / power.sum() > 0.8


def test_channel_silences_length_and_snr():
    speech = synthesize(script_for(3.0), _voice(), RNG)
    for snr in (10.0, 30.0):
        audio, achieved = apply_channel(speech, np.random.default_rng(1), snr_db=snr, lead_s=0.5, trail_s=0.25,
                                        reverb_rt60_s=0.2, eq_tilt_db=2.0)
        assert len(audio) == len(speech) + 12000
        assert achieved == pytest.approx(snr, abs=0.01)
        lead, body = audio[:8000], audio[8000:-4000]
        measured = 10 * np.log10(np.mean(body ** 2) / np.mean(lead ** 2) - 1)  # noise-only lead
        assert measured == pytest.approx(snr, abs=1.5)


def test_script_covers_every_phone_class_and_fits_the_duration():
    labels = {p for p, _ in read_script()}
    kinds = {PHONES[p].kind for p in labels}
    assert kinds == {"vowel", "nasal_vowel", "nasal", "fricative", "plosive", "pause"}
    assert {"M", "N", "NG"} <= labels and len({p for p in labels if PHONES[p].kind == "vowel"}) >= 8
    for seconds in (7.3, 20.0):
        phones = script_for(seconds)
        assert abs(sum(d for _, d in phones) - seconds) < 1 / SAMPLE_RATE
        assert phones[-1][0] == "sil"
        assert len(synthesize(phones, _voice(), RNG)) == round(seconds * SAMPLE_RATE)
    assert len(script_for(20.0, rate=1.2)) > len(script_for(20.0, rate=0.8))


def test_same_seed_same_audio():
    phones = script_for(2.0)
    a = synthesize(phones, _voice(), np.random.default_rng(5))
    b = synthesize(phones, _voice(), np.random.default_rng(5))
    c = synthesize(phones, _voice(), np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
