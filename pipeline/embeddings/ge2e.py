"""resemblyzer's GE2E speaker encoder (Wan et al. 2018), run from the weights its wheel ships.

The network and its input are resemblyzer's own (3-layer LSTM over 40 mel bands, 1.6 s
partials at 1.3 per second, the L2-normed mean of the partials' vectors), rebuilt here so
that the `resemblyzer` package itself is never imported: its `__init__` imports webrtcvad,
whose module does `import pkg_resources`, gone since setuptools 81. The weights are found
with importlib's spec lookup, which does not execute the package. resemblyzer's silence
trimming (its only use of webrtcvad) is replaced by the pipeline's VAD segments. The
tests compare the vectors with resemblyzer's own `VoiceEncoder.embed_utterance`.
"""
from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import librosa
import numpy as np
import torch

from ..errors import EncoderError
from .base import INSTALL_HINT, Encoder

MEL_BANDS = 40
HOP = 160  # 10 ms at 16 kHz
N_FFT = 400  # 25 ms
PARTIAL_FRAMES = 160  # 1.6 s
PARTIALS_PER_S = 1.3
MIN_COVERAGE = 0.75  # a last partial less covered than this is dropped (unless it is the only one)
TARGET_DBFS = -30.0  # resemblyzer raises quieter speech to this level (never lowers it)
EMBEDDING = 256


def weights_path() -> Path:
    """pretrained.pt inside the installed resemblyzer wheel, found without importing it."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise EncoderError(f"encoder resemblyzer: the package 'resemblyzer' is not installed; {INSTALL_HINT}.")
    path = Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"
    if not path.is_file():
        raise EncoderError(f"encoder resemblyzer: its weights {path} are missing; reinstall it "
                           f"(pip install --force-reinstall resemblyzer).")
    return path


class Ge2eNetwork(torch.nn.Module):
    """resemblyzer's VoiceEncoder network, with its parameter names so its state dict loads."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(MEL_BANDS, EMBEDDING, 3, batch_first=True)
        self.linear = torch.nn.Linear(EMBEDDING, EMBEDDING)
        self.relu = torch.nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True)


class ResemblyzerEncoder(Encoder):
    """256-d unit vectors. Its 1.6 s partials are its windows, so `window_s` does not apply."""

    name = "resemblyzer"
    sample_rate = 16000

    def __init__(self, batch_size: int, device: torch.device) -> None:
        self.batch_size, self.device = batch_size, device
        self.network = Ge2eNetwork()
        state = torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"]
        self.network.load_state_dict(state, strict=False)  # the checkpoint also holds training-only scalars
        self.network.eval().to(device)

    def feature_names(self) -> list[str]:
        return [f"d{i:03d}" for i in range(EMBEDDING)]

    def embed(self, waves: list[np.ndarray]) -> np.ndarray:
        partials = [partial_mels(normalise_volume(w)) for w in waves]
        flat = np.concatenate(partials)
        outputs = []
        with torch.no_grad(), _one_cpu_thread(self.device):
            for start in range(0, len(flat), self.batch_size):
                batch = torch.from_numpy(flat[start:start + self.batch_size]).to(self.device)
                outputs.append(self.network(batch).cpu().numpy())
        vectors = np.concatenate(outputs)
        out, start = [], 0
        for p in partials:
            mean = vectors[start:start + len(p)].mean(0)
            out.append(mean / np.linalg.norm(mean))
            start += len(p)
        return np.asarray(out, dtype=np.float32)


@contextmanager
def _one_cpu_thread(device: torch.device) -> Iterator[None]:
    """One intra-op thread on the CPU while the LSTM runs: its matrices (256 units, batches of
    a few partials) are too small to share out, and threads that wait for a busy core cost
    more than they give (bench-embeddings times both: reports/bench.json, embeddings.resemblyzer)."""
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def normalise_volume(wave: np.ndarray) -> np.ndarray:
    """resemblyzer's normalize_volume(increase_only=True) at -30 dBFS."""
    rms = np.sqrt(np.mean((wave * 32767.0) ** 2))
    change = TARGET_DBFS - (20 * np.log10(max(rms, 1e-12)) - 20 * np.log10(32767.0))
    return wave * 10 ** (change / 20) if change > 0 else wave


def partial_mels(wave: np.ndarray) -> np.ndarray:
    """[partials, 160, 40] mel power frames, cut as resemblyzer's compute_partial_slices."""
    n_frames = int(np.ceil((len(wave) + 1) / HOP))
    step = int(np.round((16000 / PARTIALS_PER_S) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (len(wave) - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts = starts[:-1]
    needed = (starts[-1] + PARTIAL_FRAMES) * HOP
    if needed >= len(wave):
        wave = np.pad(wave, (0, needed - len(wave)))
    mel = librosa.feature.melspectrogram(y=wave, sr=16000, n_fft=N_FFT, hop_length=HOP,
                                         n_mels=MEL_BANDS).astype(np.float32).T
    return np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])
