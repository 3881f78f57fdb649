"""Source-filter speech synthesis of the fixed read script, and the recording channel.

A Klatt-style synthesiser (Klatt 1980, J Acoust Soc Am 67:971) in numpy/scipy: a Rosenberg
glottal flow (Rosenberg 1971, J Acoust Soc Am 49:583) with jitter, shimmer, declination and
breathiness drives a cascade of five formant resonators whose coefficients change every 5 ms
(`scipy.signal.sosfilt` carrying its state from frame to frame); a pole-zero pair adds nasal
coupling, nasal consonants swap the oral formants for a murmur with a place-dependent
antiresonance, and frication and bursts are shaped noise added in parallel. Vowel targets are
the adult male averages of Hillenbrand, Getty, Clark & Wheeler (1995, J Acoust Soc Am
97:3099), taken to belong to a 17 cm vocal tract; a speaker's formants scale by 17 / vtl_cm.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

SAMPLE_RATE = 16000
REFERENCE_VTL_CM = 17.0
_HOP = 80  # samples per 5 ms frame at 16 kHz: the rate at which filters change
_BANDWIDTHS = np.array([80.0, 100.0, 150.0, 250.0, 300.0])
_HIGHER = (3500.0, 4500.0)  # F4, F5 of the reference tract
_FRICATION_GAIN = 0.03  # frication and bursts against the voiced tract output (before radiation)


@dataclass(frozen=True)
class VoiceParams:
    """One speaker's voice in physical units."""

    f0_hz: float
    vtl_cm: float
    f1_range: float = 1.0
    f2_scale: float = 1.0
    nasal_pole_hz: float = 500.0
    nasal_coupling: float = 0.4
    jitter: float = 0.01
    shimmer: float = 0.05
    breathiness: float = 0.05
    rate: float = 1.0


@dataclass(frozen=True)
class Phone:
    """A phone class and its targets: formants (Hz) for vowels, a noise band for fricatives,
    a place of articulation for nasals and plosives."""

    kind: str  # vowel | nasal_vowel | nasal | fricative | plosive | pause
    formants: tuple[float, float, float] | None = None
    band_hz: tuple[float, float] | None = None
    voiced: bool = False
    antiresonance_hz: float | None = None  # nasals: the place-dependent zero


_VOWELS = {  # Hillenbrand et al. 1995, men: F1, F2, F3 (Hz)
    "IY": (342, 2322, 3000), "IH": (427, 2034, 2684), "EH": (580, 1799, 2605),
    "AE": (588, 1952, 2601), "AA": (768, 1333, 2522), "AO": (652, 997, 2538),
    "UH": (469, 1122, 2434), "UW": (378, 997, 2343), "AH": (623, 1200, 2550),
    "ER": (474, 1379, 1710),
}
_MEAN_F1 = float(np.mean([f[0] for f in _VOWELS.values()]))

PHONES: dict[str, Phone] = {
    **{v: Phone("vowel", f) for v, f in _VOWELS.items()},
    **{f"{v}~": Phone("nasal_vowel", _VOWELS[v]) for v in ("AE", "AA", "IY", "EH")},
    "M": Phone("nasal", voiced=True, antiresonance_hz=1000.0),
    "N": Phone("nasal", voiced=True, antiresonance_hz=1700.0),
    "NG": Phone("nasal", voiced=True, antiresonance_hz=3000.0),
    "S": Phone("fricative", band_hz=(4000.0, 7500.0)),
    "Z": Phone("fricative", band_hz=(4000.0, 7500.0), voiced=True),
    "SH": Phone("fricative", band_hz=(2300.0, 6000.0)),
    "F": Phone("fricative", band_hz=(1200.0, 7500.0)),
    "V": Phone("fricative", band_hz=(1200.0, 7500.0), voiced=True),
    "HH": Phone("fricative"),  # aspiration through the next vowel's formants
    "P": Phone("plosive", band_hz=(300.0, 1500.0)),
    "B": Phone("plosive", band_hz=(300.0, 1500.0), voiced=True),
    "T": Phone("plosive", band_hz=(3000.0, 7000.0)),
    "D": Phone("plosive", band_hz=(3000.0, 7000.0), voiced=True),
    "K": Phone("plosive", band_hz=(1500.0, 3000.0)),
    "G": Phone("plosive", band_hz=(1500.0, 3000.0), voiced=True),
    "sil": Phone("pause"),
}
_DURATION_S = {"vowel": 0.11, "nasal_vowel": 0.13, "nasal": 0.07, "fricative": 0.10, "plosive": 0.08}

# The read text, one phrase a line (ARPAbet-like; '~' marks a nasalised vowel).
SCRIPT = (
    "M AE~ N IY S AE~ NG AH S AO NG",      # many sang a song
    "SH IY S IY Z F AA IH V B IH G D AO G Z",  # she sees five big dogs
    "AH K AE T T UH K HH ER HH AE T",      # a cat took her hat
    "N EH~ V ER M AA~ N D AH B UW T",      # never mind the boot
    "HH IY~ N IY D Z T UW P AA S AH P EH G",  # he needs to pass a peg
)


def read_script() -> list[tuple[str, float]]:
    """The fixed read text as (phone, nominal duration s), phrases separated by pauses."""
    phones: list[tuple[str, float]] = []
    for i, phrase in enumerate(SCRIPT):
        words = phrase.split()
        for j, label in enumerate(words):
            kind = PHONES[label].kind
            final = j == len(words) - 1
            phones.append((label, _DURATION_S[kind] * (1.4 if final and kind.endswith("vowel") else 1.0)))
        phones.append(("sil", 0.30 + 0.05 * (i % 3)))
    return phones


def script_for(seconds: float, rate: float = 1.0, first_phrase: int = 0) -> list[tuple[str, float]]:
    """The script at `rate` from phrase `first_phrase` on, repeated and cut after a pause,
    scaled to last exactly `seconds`."""
    script = [(p, d / rate) for p, d in read_script()]
    starts = [0] + [i + 1 for i, (p, _) in enumerate(script) if p == "sil"][:-1]
    script = script[starts[first_phrase % len(starts)]:] + script[:starts[first_phrase % len(starts)]]
    phones: list[tuple[str, float]] = []
    while not phones or sum(d for _, d in phones) < seconds:
        for p, d in script:
            phones.append((p, d))
            if p == "sil" and sum(d for _, d in phones) >= seconds:
                break
    total_n = int(round(seconds * SAMPLE_RATE))
    ends = np.round(np.cumsum([d for _, d in phones]) * total_n / sum(d for _, d in phones)).astype(int)
    starts = np.r_[0, ends[:-1]]
    return [(p, (e - s) / SAMPLE_RATE) for (p, _), s, e in zip(phones, starts, ends)]


def synthesize(phones: Sequence[tuple[str, float]], voice: VoiceParams, rng: np.random.Generator,
               sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Dry speech [n] float64, n = round(sum of durations * sample_rate), peak 0.5."""
    bounds = np.round(np.cumsum([0.0] + [d for _, d in phones]) * sample_rate).astype(int)
    n = int(bounds[-1])
    n_frames = -(-n // _HOP)
    labels = [p for p, _ in phones]
    frame_phone = np.searchsorted(bounds[1:], np.arange(n_frames) * _HOP, side="right")
    frame_phone = np.minimum(frame_phone, len(phones) - 1)

    voicing = np.zeros(n)
    aspiration = np.zeros(n)
    parallel = np.zeros(n)  # frication and bursts, added after the tract
    formants = np.zeros((len(phones), 5))
    nasal = np.zeros(len(phones))  # 0 oral, (0, 1] nasalised vowel, 2 nasal murmur
    antiresonance = np.zeros(len(phones))
    last_vowel = _VOWELS["AH"]
    next_vowels = _next_vowels(labels)
    scale = REFERENCE_VTL_CM / voice.vtl_cm
    for i, (label, _) in enumerate(phones):
        a, b = bounds[i], bounds[i + 1]
        phone = PHONES[label]
        target = phone.formants or next_vowels[i] or last_vowel
        if phone.kind in ("vowel", "nasal_vowel"):
            last_vowel = phone.formants
        f1 = _MEAN_F1 + voice.f1_range * (target[0] - _MEAN_F1)
        formants[i] = [f1 * scale, target[1] * scale * voice.f2_scale, target[2] * scale * voice.f2_scale,
                       _HIGHER[0] * scale, _HIGHER[1] * scale]
        ramp = _envelope(b - a, sample_rate)
        if phone.kind in ("vowel", "nasal_vowel"):
            voicing[a:b] = ramp
            nasal[i] = 1.0 if phone.kind == "nasal_vowel" else 0.3 * _next_to_nasal(labels, i)
        elif phone.kind == "nasal":
            voicing[a:b] = 0.5 * ramp
            nasal[i] = 2.0
            antiresonance[i] = phone.antiresonance_hz
        elif phone.kind == "fricative":
            if phone.band_hz is None:  # HH: breath through the tract
                aspiration[a:b] = 0.6 * ramp
            else:
                parallel[a:b] = _band_noise(rng, b - a, phone.band_hz, sample_rate) * ramp * 0.25
                voicing[a:b] = 0.3 * ramp if phone.voiced else 0.0
        elif phone.kind == "plosive":
            closure = int(0.6 * (b - a))
            if phone.voiced:
                voicing[a:a + closure] = 0.08
            burst = min(int(0.012 * sample_rate), b - a - closure)
            parallel[a + closure:a + closure + burst] = _band_noise(rng, burst, phone.band_hz, sample_rate) * 0.5
            rest = a + closure + burst
            if phone.voiced:
                voicing[rest:b] = _envelope(b - rest, sample_rate)
            else:
                aspiration[rest:b] = 0.4 * _envelope(b - rest, sample_rate)

    source = _glottal_flow(n, voice, labels, bounds, rng, sample_rate)
    excitation = voicing * (source + voice.breathiness * rng.standard_normal(n) * source.std()) \
        + aspiration * rng.standard_normal(n) * 0.3
    sections = _frame_sections(formants, nasal, antiresonance, frame_phone, voice, sample_rate)
    speech = _time_varying_filter(excitation, sections) + _FRICATION_GAIN * parallel
    speech = lfilter([1.0, -0.97], [1.0], speech)  # lip radiation
    speech = sosfilt(butter(2, 60.0, "high", fs=sample_rate, output="sos"), speech)  # no DC
    peak = np.max(np.abs(speech))
    return speech * (0.5 / peak) if peak > 0 else speech


def apply_channel(speech: np.ndarray, rng: np.random.Generator, *, sample_rate: int = SAMPLE_RATE,
                  snr_db: float, gain_db: float = 0.0, eq_tilt_db: float = 0.0,
                  reverb_rt60_s: float = 0.0, lead_s: float = 0.5,
                  trail_s: float = 0.5) -> tuple[np.ndarray, float]:
    """A recording of `speech`: gain, tilt EQ, optional reverb, silences, noise at `snr_db`.

    The SNR is speech power (the part between the silences) over noise power. Returns the
    audio (peak at most 0.99) and the SNR actually realised.
    """
    y = speech * 10.0 ** (gain_db / 20.0)
    if eq_tilt_db:
        high = sosfilt(butter(1, 1000.0, "high", fs=sample_rate, output="sos"), y)
        y = y + (10.0 ** (eq_tilt_db / 20.0) - 1.0) * high
    if reverb_rt60_s > 0:
        t = np.arange(int(reverb_rt60_s * sample_rate)) / sample_rate
        tail = rng.standard_normal(len(t)) * np.exp(-6.91 * t / reverb_rt60_s)
        tail /= np.sqrt(np.sum(tail ** 2))
        y = y + 0.3 * fftconvolve(y, tail)[: len(y)]
    lead, trail = int(round(lead_s * sample_rate)), int(round(trail_s * sample_rate))
    clean = np.concatenate([np.zeros(lead), y, np.zeros(trail)])
    noise = rng.standard_normal(len(clean))
    signal_power = np.mean(y ** 2)
    noise *= np.sqrt(signal_power / 10.0 ** (snr_db / 10.0) / np.mean(noise[lead:lead + len(y)] ** 2))
    audio = clean + noise
    achieved = 10.0 * np.log10(signal_power / np.mean(noise[lead:lead + len(y)] ** 2))
    peak = np.max(np.abs(audio))
    return (audio * (0.99 / peak) if peak > 0.99 else audio), float(achieved)


def _next_vowels(labels: Sequence[str]) -> list[tuple[float, float, float] | None]:
    """For each phone, the formants of the next vowel in its phrase (consonant loci)."""
    out: list[tuple[float, float, float] | None] = [None] * len(labels)
    upcoming = None
    for i in range(len(labels) - 1, -1, -1):
        phone = PHONES[labels[i]]
        if phone.kind == "pause":
            upcoming = None
        elif phone.formants is not None:
            upcoming = phone.formants
        out[i] = upcoming
    return out


def _next_to_nasal(labels: Sequence[str], i: int) -> float:
    return float(any(0 <= j < len(labels) and PHONES[labels[j]].kind == "nasal" for j in (i - 1, i + 1)))


def _envelope(n: int, sample_rate: int) -> np.ndarray:
    """1 with 8 ms raised-cosine ramps at both ends."""
    ramp = min(int(0.008 * sample_rate), n // 2)
    env = np.ones(n)
    if ramp:
        rise = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ramp))
        env[:ramp], env[n - ramp:] = rise, rise[::-1]
    return env


def _band_noise(rng: np.random.Generator, n: int, band_hz: tuple[float, float], sample_rate: int) -> np.ndarray:
    if n <= 0:
        return np.zeros(0)
    sos = butter(2, band_hz, "bandpass", fs=sample_rate, output="sos")
    noise = sosfilt(sos, rng.standard_normal(n + 256))[256:]
    return noise / (noise.std() + 1e-12)


def _glottal_flow(n: int, voice: VoiceParams, labels: Sequence[str], bounds: np.ndarray,
                  rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Rosenberg pulses at an f0 that declines over each phrase, with jitter and shimmer."""
    position = np.zeros(n)  # 0 at the start of a phrase, 1 at its end
    start = 0
    for i, label in enumerate([*labels, "sil"]):  # a pause closes the last phrase too
        if label == "sil":
            end = bounds[min(i, len(labels))]
            if end > start:
                position[start:end] = np.linspace(0.0, 1.0, end - start)
            start = bounds[min(i + 1, len(labels))]
    slow = np.interp(np.arange(n), np.linspace(0, n, 12), rng.normal(0.0, 0.03, 12))
    f0 = voice.f0_hz * (1.05 - 0.12 * position + slow)
    cycles = np.cumsum(f0) / sample_rate
    period = cycles.astype(int)
    jitter = 1.0 + voice.jitter * rng.standard_normal(period[-1] + 2)
    cycles = np.cumsum(f0 * jitter[period]) / sample_rate
    period = cycles.astype(int)
    phase = cycles - period
    opening, closing = 0.4, 0.16
    flow = np.where(phase < opening, 0.5 - 0.5 * np.cos(np.pi * phase / opening),
                    np.where(phase < opening + closing, np.cos(0.5 * np.pi * (phase - opening) / closing), 0.0))
    shimmer = 1.0 + voice.shimmer * rng.standard_normal(period[-1] + 1)
    return flow * shimmer[period]


def _resonator(freq, bandwidth, sample_rate):
    r = np.exp(-np.pi * bandwidth / sample_rate)
    return -2.0 * r * np.cos(2.0 * np.pi * freq / sample_rate), r * r


def _frame_sections(formants, nasal, antiresonance, frame_phone, voice, sample_rate) -> np.ndarray:
    """Second-order sections [frames, 6, 6]: five resonators and one nasal pole-zero pair,
    each with unit gain at 0 Hz, formant tracks smoothed over ~40 ms across phone borders."""
    per_frame = formants[frame_phone]
    kernel = np.hanning(9) / np.hanning(9).sum()
    padded = np.pad(per_frame, ((4, 4), (0, 0)), mode="edge")
    tracks = np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(5)], axis=1)
    kind = nasal[frame_phone]
    murmur = kind == 2.0
    pole = voice.nasal_pole_hz
    # Nasal murmur: a low first resonance and a second near 2.2 x the nasal pole.
    tracks[murmur, 0] = 0.55 * pole
    tracks[murmur, 1] = 2.2 * pole
    bandwidths = np.tile(_BANDWIDTHS, (len(tracks), 1))
    bandwidths[murmur, 0] = 100.0
    sections = np.zeros((len(tracks), 6, 6))
    sections[:, :, 3] = 1.0
    a1, a2 = _resonator(np.minimum(tracks, 0.45 * sample_rate), bandwidths, sample_rate)
    sections[:, :5, 0] = 1.0 + a1 + a2
    sections[:, :5, 4], sections[:, :5, 5] = a1, a2
    # Nasal pole-zero pair: the zero moves above the pole as nasal coupling grows; in the
    # murmur the zero sits at the place-dependent antiresonance instead.
    strength = np.where(murmur, 1.0, np.clip(kind, 0.0, 1.0)) * voice.nasal_coupling
    zero = np.where(murmur, antiresonance[frame_phone], pole * (1.0 + 1.2 * strength))
    pole_f = np.where(murmur, antiresonance[frame_phone] + 300.0, pole)
    zero = np.where(strength > 0, zero, pole_f)
    pa1, pa2 = _resonator(pole_f, 90.0, sample_rate)
    za1, za2 = _resonator(zero, 90.0, sample_rate)
    gain = (1.0 + pa1 + pa2) / (1.0 + za1 + za2)
    sections[:, 5, 0], sections[:, 5, 1], sections[:, 5, 2] = gain, gain * za1, gain * za2
    sections[:, 5, 4], sections[:, 5, 5] = pa1, pa2
    return sections


def _time_varying_filter(x: np.ndarray, sections: np.ndarray) -> np.ndarray:
    """Filter x through per-frame second-order sections, carrying the state across frames."""
    out = np.empty_like(x)
    state = np.zeros((sections.shape[1], 2))
    for f in range(len(sections)):
        a, b = f * _HOP, min((f + 1) * _HOP, len(x))
        if a >= len(x):
            break
        out[a:b], state = sosfilt(sections[f], x[a:b], zi=state)
    return out
