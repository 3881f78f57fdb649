"""Read any recording as mono float32 at the pipeline's sample rate, or say exactly why not."""
from __future__ import annotations

import struct
from pathlib import Path

import librosa
import numpy as np
import soundfile

from ..errors import AudioError

MIN_SAMPLE_RATE = 8000
UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # a streamed WAV's data size: written before the length was known


def load_audio(path: str | Path, sample_rate: int = 16000, *, speaker_id: str = "?",
               shown_as: str | None = None) -> np.ndarray:
    """Samples [n] float32 in [-1, 1]: channels averaged, resampled (soxr, high quality) to
    `sample_rate`. `shown_as` is how errors name the file (e.g. its path in the manifest)."""
    path = Path(path)
    name = shown_as or str(path)
    where = f"speaker {speaker_id}: {name}"
    if path.is_dir():
        raise AudioError(f"{where} is a folder, not a recording; give the audio files themselves.")
    if not path.is_file():
        raise AudioError(f"{where} does not exist.")
    try:
        audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"{where} cannot be read as audio ({err}). Use WAV or FLAC (OGG and MP3 are read too, "
                         f"through libsndfile, but lossy coding alters the spectrum).") from None
    if audio.shape[0] == 0:
        raise AudioError(f"{where} is empty (0 samples).")
    declared = wav_header_frames(path)
    if declared is not None and declared > audio.shape[0]:
        raise AudioError(f"{where} is truncated: its header says {declared / rate:.2f} s ({declared} frames) but "
                         f"the file holds {audio.shape[0] / rate:.2f} s ({100 * audio.shape[0] / declared:.0f} %); "
                         f"an interrupted copy or download? Copy the recording again.")
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


def wav_header_frames(path: Path) -> int | None:
    """The frames a RIFF WAV's header declares (data chunk size / block align), or None for
    other formats and streamed WAVs. libsndfile reads a truncated WAV as a shorter recording
    without a word, so the header is read here to catch it (issue 31)."""
    with open(path, "rb") as handle:
        if handle.read(4) != b"RIFF" or not handle.read(4) or handle.read(4) != b"WAVE":
            return None
        block_align = 0
        while len(chunk := handle.read(8)) == 8:
            name, size = struct.unpack("<4sI", chunk)
            if name == b"fmt ":
                block_align = struct.unpack("<HHIIH", handle.read(14))[4]
                handle.seek(size - 14 + size % 2, 1)
            elif name == b"data":
                return size // block_align if block_align and size not in UNKNOWN_SIZES else None
            else:
                handle.seek(size + size % 2, 1)
    return None
