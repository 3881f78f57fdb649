"""Read any recording as mono float32 at the pipeline's sample rate, or say exactly why not."""
from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import soundfile

from ..errors import AudioError

MIN_SAMPLE_RATE = 8000


def load_audio(path: str | Path, sample_rate: int = 16000, *, speaker_id: str = "?",
               shown_as: str | None = None) -> np.ndarray:
    """Samples [n] float32 in [-1, 1]: channels averaged, resampled (soxr, high quality) to
    `sample_rate`. `shown_as` is how errors name the file (e.g. its path in the manifest)."""
    path = Path(path)
    name = shown_as or str(path)
    where = f"speaker {speaker_id}: {name}"
    if not path.is_file():
        raise AudioError(f"{where} does not exist.")
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{where} cannot be read as audio ({err}). Use WAV or FLAC (OGG and MP3 are read too, "
                         f"through libsndfile, but lossy coding alters the spectrum).") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{where} is empty (0 samples).")
    bad = ~np.isfinite(audio).all(axis=1)
    if bad.any():
        raise AudioError(f"{where} has {int(bad.sum())} samples that are NaN or infinite "
                         f"(first at {np.flatnonzero(bad)[0] / rate:.3f} s).")
    if rate < MIN_SAMPLE_RATE:
        raise AudioError(f"{where} has a sample rate of {rate} Hz; at least {MIN_SAMPLE_RATE} Hz is needed.")
    mono = audio.mean(axis=1)
    if rate != sample_rate:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(mono, dtype=np.float32)
