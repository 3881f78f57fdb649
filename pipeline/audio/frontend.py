"""The voice front end every estimator reads through: VAD, then log-mels normalised over the
speech frames of each recording.

The vad and features stages run it on the cohort; a trained repeat stores it (`spec`), like
the first step of a scikit-learn Pipeline, so `sfv predict` runs the very same code on a new
voice with the settings its estimators were trained on.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
import numpy as np
import torch
from tqdm import tqdm

from ..config import AudioParams
from .features import LogMel, log_mel_batch, speech_frames
from .vad import Detector, make_detector, stored_segments


SHORT_RECORDING_S = 1.0  # a recording shorter than this is reported as too short, not as silent
LONG_RECORDING_S = 60.0  # a recording this long gets its own progress bar through the VAD


@dataclass(frozen=True)
class FrontEnd:
    sample_rate: int  # every recording is resampled to this rate
    vad: str  # silero | energy
    vad_threshold: float
    energy_threshold_db: float
    min_speech_s: float
    min_silence_s: float
    n_mels: int
    window_ms: float
    hop_ms: float

    @classmethod
    def from_params(cls, audio: AudioParams) -> FrontEnd:
        return cls(**audio.model_dump())

    def spec(self) -> dict:
        """The settings as stored beside a trained model."""
        return asdict(self)

    @classmethod
    def from_spec(cls, spec: dict) -> FrontEnd:
        return cls(**spec)

    def detector(self) -> Detector:
        """(audio, progress=None) -> raw speech segments [k, 2] (s); build it once and keep it
        (Silero loads a model)."""
        return make_detector(self.vad, self.sample_rate, vad_threshold=self.vad_threshold,
                             energy_threshold_db=self.energy_threshold_db, min_speech_s=self.min_speech_s,
                             min_silence_s=self.min_silence_s)

    def speech(self, wave: np.ndarray, detector: Detector, name: str = "recording") -> np.ndarray:
        """Speech segments [k, 2] (s) of one recording, rounded as the vad stage stores them. A
        recording of LONG_RECORDING_S or more shows its progress (seconds of audio done): Silero
        takes minutes on an hour of audio, and a bar per speaker would stand still meanwhile."""
        seconds = len(wave) / self.sample_rate
        if seconds < LONG_RECORDING_S:
            return stored_segments(detector(wave))
        with tqdm(total=round(seconds), desc=f"vad {name}", unit="s", leave=False) as bar:
            found = detector(wave, progress=lambda percent: bar.update(round(percent * seconds / 100) - bar.n))
        return stored_segments(found)

    def no_speech(self, wave: np.ndarray) -> str:
        """Why a recording gave no speech segment, for an error: a very short one is named as such,
        since a VAD needs background around the speech to tell the two apart."""
        seconds = len(wave) / self.sample_rate
        if seconds < SHORT_RECORDING_S:
            return (f"is only {seconds:.2f} s long: too short for the {self.vad} VAD to find speech in (it needs "
                    f"pauses around the speech; record at least {SHORT_RECORDING_S:g} s)")
        return f"has no speech: the {self.vad} VAD found none in its {seconds:.1f} s (silent, or very quiet?)"

    def extractor(self, device: torch.device) -> LogMel:
        return LogMel(self.sample_rate, self.n_mels, self.window_ms, self.hop_ms).to(device)

    def features(self, waves: list[np.ndarray], segments: list[np.ndarray], extractor: LogMel,
                 device: torch.device) -> list[np.ndarray]:
        """Each recording's speech frames [frames_i, n_mels] (float32), normalised over them."""
        mels = log_mel_batch(waves, extractor, device)
        return [speech_frames(mel, self.hop_ms / 1000.0, spans) for mel, spans in zip(mels, segments)]
