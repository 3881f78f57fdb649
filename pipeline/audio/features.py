"""Log-mel features with torch.stft and librosa's mel filterbank, batched, on any device.

The same numbers as librosa.feature.melspectrogram + power_to_db (checked in the tests), but
computed for a whole batch of recordings at once on the GPU when there is one.
"""
from __future__ import annotations

import librosa
import numpy as np
import torch

LOG_FLOOR = 1e-10  # power floor before the log, as librosa.power_to_db(amin=1e-10)


class LogMel(torch.nn.Module):
    """Waves [B, n] -> log-mel power in dB [B, frames, n_mels], frames = 1 + n // hop."""

    def __init__(self, sample_rate: int, n_mels: int, window_ms: float, hop_ms: float) -> None:
        super().__init__()
        self.win_length = int(round(window_ms * sample_rate / 1000))
        self.hop_length = int(round(hop_ms * sample_rate / 1000))
        self.n_fft = 1 << (self.win_length - 1).bit_length()
        filterbank = librosa.filters.mel(sr=sample_rate, n_fft=self.n_fft, n_mels=n_mels)
        self.register_buffer("filterbank", torch.from_numpy(filterbank))
        self.register_buffer("window", torch.hann_window(self.win_length, periodic=True))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waves, self.n_fft, self.hop_length, self.win_length, self.window.to(waves.dtype),
                          center=True, pad_mode="constant", return_complex=True)
        power = spec.real ** 2 + spec.imag ** 2
        mel = torch.matmul(self.filterbank.to(power.dtype), power)  # [B, n_mels, frames]
        return (10.0 * torch.log10(mel.clamp_min(LOG_FLOOR))).transpose(1, 2)

    def frames(self, n_samples: int) -> int:
        """Frames of a recording of n_samples (centred frames, as librosa)."""
        return 1 + n_samples // self.hop_length


def log_mel_batch(recordings: list[np.ndarray], extractor: LogMel, device: torch.device,
                  batch_size: int = 16) -> list[np.ndarray]:
    """Log-mels [frames_i, n_mels] float32 of recordings of any lengths, zero-padded in batches
    (a frame sees only its own recording's samples plus the zeros centring adds anyway)."""
    out: list[np.ndarray] = []
    for start in range(0, len(recordings), batch_size):
        chunk = recordings[start:start + batch_size]
        longest = max(len(r) for r in chunk)
        padded = np.zeros((len(chunk), longest), dtype=np.float32)
        for i, r in enumerate(chunk):
            padded[i, : len(r)] = r
        with torch.no_grad():
            mels = extractor(torch.from_numpy(padded).to(device)).cpu().numpy()
        out += [mels[i, : extractor.frames(len(r))] for i, r in enumerate(chunk)]
    return out


def normalise(log_mel: np.ndarray, speech: np.ndarray) -> np.ndarray:
    """Mean 0, SD 1 per mel bin over the speech frames (boolean [frames]) of one recording."""
    if not speech.any():
        raise ValueError("no speech frames to normalise over")
    voiced = log_mel[speech]
    return ((log_mel - voiced.mean(0)) / np.maximum(voiced.std(0), 1e-6)).astype(np.float32)


def frames_in_segments(n_frames: int, hop_s: float, segments: np.ndarray) -> np.ndarray:
    """Boolean [n_frames]: frame centres (t * hop_s) inside any [start_s, end_s) segment."""
    centres = np.arange(n_frames) * hop_s
    inside = np.zeros(n_frames, dtype=bool)
    for start, end in np.asarray(segments, dtype=float).reshape(-1, 2):
        inside |= (centres >= start) & (centres < end)
    return inside


def speech_frames(log_mel: np.ndarray, hop_s: float, segments: np.ndarray) -> np.ndarray:
    """The frames [n, n_mels] of one recording whose centre lies in a speech segment,
    normalised over those frames: what every estimator reads, in the features stage, in
    `sfv predict` and in the voice-only worlds alike."""
    speech = frames_in_segments(len(log_mel), hop_s, segments)
    return normalise(log_mel, speech)[speech]


def speech_samples(wave: np.ndarray, sample_rate: int, segments: np.ndarray) -> np.ndarray:
    """The samples of one recording inside its speech segments, joined in time order (the
    waveform counterpart of `speech_frames`)."""
    spans = np.round(np.asarray(segments, dtype=float).reshape(-1, 2) * sample_rate).astype(int)
    return np.concatenate([wave[max(0, a):max(0, b)] for a, b in spans] or [wave[:0]]).astype(np.float32)
