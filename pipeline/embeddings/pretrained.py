"""Pretrained speech models, loaded offline: a SpeechBrain speaker encoder or a transformers
speech model, from a local folder or from the local Hugging Face hub cache, never the network.

A hub id is resolved with huggingface_hub's `snapshot_download(local_files_only=True)`, which
only reads the cache, and the libraries are handed the resulting folder, so neither of them
can start a download whatever HF_HUB_OFFLINE says.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import EncoderError
from .base import WindowedEncoder, require


def local_model(kind: str, source: str) -> Path:
    """The folder holding model `source` (a path, or a hub id already in the local cache)."""
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    looked = [f"the folder {path.resolve()} (does not exist)"]
    if source.count("/") == 1 and not source.startswith((".", "/", "~")):
        hub = require("huggingface_hub", f"{kind}:{source}")
        from huggingface_hub.constants import HF_HUB_CACHE

        try:
            return Path(hub.snapshot_download(source, local_files_only=True))
        except Exception as err:  # LocalEntryNotFoundError and friends: not in the cache
            looked.append(f"the Hugging Face cache {HF_HUB_CACHE} ({type(err).__name__})")
    raise EncoderError(
        f"encoder {kind}:{source}: no weights found offline; looked in {' and in '.join(looked)}. Nothing is "
        f"downloaded at run time. On a machine with internet run `huggingface-cli download {source}` and copy "
        f"its cache here (HF_HOME or HF_HUB_CACHE say where it is), or save the model to a folder and give "
        f"embedding.encoder: {kind}:/path/to/that/folder (docs/embeddings.md).")


class SpeechBrainEncoder(WindowedEncoder):
    """A SpeechBrain speaker model's embedding (`EncoderClassifier.encode_batch`), e.g.
    ECAPA-TDNN: a folder with hyperparams.yaml and the checkpoints its pretrainer names."""

    sample_rate = 16000  # SpeechBrain's speaker models are trained at 16 kHz

    def __init__(self, source: str, window_s: float, batch_size: int, device: torch.device) -> None:
        super().__init__(window_s)
        self.name = f"speechbrain:{source}"
        self.batch_size, self.device = batch_size, device
        folder = local_model("speechbrain", source)
        require("speechbrain", self.name)
        from speechbrain.inference.classifiers import EncoderClassifier
        from speechbrain.utils.fetching import LocalStrategy

        self.model = EncoderClassifier.from_hparams(source=str(folder), savedir=str(folder),
                                                    local_strategy=LocalStrategy.NO_LINK,
                                                    run_opts={"device": str(device)})
        if self.model is None:
            raise EncoderError(f"encoder {self.name}: {folder} holds no loadable SpeechBrain model")
        self.model.eval()
        self._dim = int(self.embed_windows([np.zeros(self.sample_rate, dtype=np.float32)]).shape[1])

    def feature_names(self) -> list[str]:
        return [f"d{i:03d}" for i in range(self._dim)]

    def embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for batch in _batches(windows, self.batch_size):
                padded, lengths = _pad(batch)
                relative = torch.tensor(lengths, dtype=torch.float32) / padded.shape[1]
                out.append(self.model.encode_batch(padded.to(self.device), relative.to(self.device))
                           .reshape(len(batch), -1).cpu().numpy())
        return np.concatenate(out)


class HfEncoder(WindowedEncoder):
    """A transformers speech model (AutoModel + AutoFeatureExtractor): the mean over its valid
    frames of the average of the chosen hidden-state layers."""

    def __init__(self, source: str, layers: tuple[int, ...], window_s: float, batch_size: int,
                 device: torch.device) -> None:
        super().__init__(window_s)
        self.name = f"hf:{source}"
        self.batch_size, self.device = batch_size, device
        folder = local_model("hf", source)
        transformers = require("transformers", self.name)
        try:
            self.extractor = transformers.AutoFeatureExtractor.from_pretrained(folder, local_files_only=True)
            self.model = transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval().to(device)
        except (OSError, ValueError) as err:
            raise EncoderError(f"encoder {self.name}: {folder} holds no loadable transformers speech model "
                               f"and feature extractor ({err})") from None
        self.sample_rate = int(self.extractor.sampling_rate)
        count = self.model.config.num_hidden_layers + 1  # hidden_states[0] is the input of layer 1
        bad = [i for i in layers if not -count <= i < count]
        if bad:
            raise EncoderError(f"encoder {self.name}: embedding.layers {bad} out of range; the model has "
                               f"hidden states 0..{count - 1} (or -{count}..-1)")
        self.layers = layers
        self._dim = int(self.model.config.hidden_size)

    def feature_names(self) -> list[str]:
        return [f"d{i:04d}" for i in range(self._dim)]

    def embed_windows(self, windows: list[np.ndarray]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for batch in _batches(windows, self.batch_size):
                inputs = self.extractor(batch, sampling_rate=self.sample_rate, return_tensors="pt", padding=True,
                                        return_attention_mask=True)
                mask = inputs.get("attention_mask")
                hidden = self.model(**{k: v.to(self.device) for k, v in inputs.items()}, output_hidden_states=True)
                states = torch.stack([hidden.hidden_states[i] for i in self.layers]).mean(0)  # [B, T, H]
                lengths = self.model._get_feat_extract_output_lengths(
                    mask.sum(1) if mask is not None else torch.full((len(batch),), inputs["input_values"].shape[1]))
                valid = torch.arange(states.shape[1], device=states.device)[None] < lengths.to(states.device)[:, None]
                pooled = (states * valid[..., None]).sum(1) / valid.sum(1, keepdim=True).clamp_min(1)
                out.append(pooled.cpu().numpy())
        return np.concatenate(out)


def _batches(windows: list[np.ndarray], size: int) -> list[list[np.ndarray]]:
    """Windows in batches of `size`, in order (a recording's windows have equal lengths, so
    padding is at most one recording's difference per batch)."""
    return [windows[i:i + size] for i in range(0, len(windows), size)]


def _pad(batch: list[np.ndarray]) -> tuple[torch.Tensor, list[int]]:
    lengths = [len(w) for w in batch]
    padded = torch.zeros(len(batch), max(lengths))
    for i, w in enumerate(batch):
        padded[i, :len(w)] = torch.from_numpy(np.asarray(w, dtype=np.float32))
    return padded, lengths
