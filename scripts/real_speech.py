"""A real voice for `sfv predict`: the ALSA test recordings ("Front Left", "Rear Center", ...), one
speaker recorded at 48 kHz, shipped in Debian's alsa-utils package (/usr/share/sounds/alsa).

sfv's own voices come from its synthesiser; these are human speech through a microphone. They
are joined (0.3 s gaps) into one recording of about 11 s and written at 16 kHz and 44.1 kHz, so
`sfv predict` is checked on the two rates a user's files most often have. Imported by
representations.py; run alone it writes the two files and runs `predict_voice` with the models
of a `dvc repro`:

    python scripts/real_speech.py --models models --gender male
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import torch

from pipeline.predict import load_models, predict_voice

SOUNDS = "usr/share/sounds/alsa"
RATES = (16000, 44100)
GAP_S = 0.3


def alsa_folder(scratch: Path) -> Path:
    """/usr/share/sounds/alsa if alsa-utils is installed, else the package unpacked into `scratch`
    (apt-get download needs no root)."""
    installed = Path("/") / SOUNDS
    if installed.is_dir():
        return installed
    scratch.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", "alsa-utils"], cwd=scratch, check=True, capture_output=True)
    (deb,) = scratch.glob("alsa-utils_*.deb")
    subprocess.run(["dpkg", "-x", str(deb), str(scratch / "root")], check=True)
    return scratch / "root" / SOUNDS


def alsa_voice(out_dir: Path) -> dict[int, Path]:
    """The joined recording at each rate of RATES (Noise.wav, not speech, left out)."""
    folder = alsa_folder(out_dir / "alsa-utils")
    files = sorted(p for p in folder.glob("*.wav") if p.stem != "Noise")
    if len(files) < 4:
        raise SystemExit(f"{folder}: expected the ALSA speech recordings, found {[p.name for p in files]}")
    pieces = []
    for path in files:
        wave, rate = sf.read(path, dtype="float32")
        pieces += [wave, np.zeros(int(GAP_S * rate), np.float32)]
    joined = np.concatenate(pieces)
    out = {}
    for target in RATES:
        out[target] = out_dir / f"alsa_voice_{target}.wav"
        sf.write(out[target], librosa.resample(joined, orig_sr=rate, target_sr=target, res_type="soxr_hq"), target,
                 subtype="PCM_16")
    return out


def check(models: Path, voices: dict[int, Path], gender: str) -> dict:
    """predict_voice on each rate's file: how far the AMs land from the training cohort (in its
    D_t SDs, averaged over the repeats), how much the two rates disagree, and the face's RMS
    distance from the mean face."""
    device = torch.device("cpu")
    repeats, eigenface, _ = load_models(models, gender)
    centre = np.mean([r.target_mean for r in repeats], axis=0)
    spread = np.mean([r.target_sd for r in repeats], axis=0)
    mean_face = eigenface.mean.reshape(-1, 3)
    out, z = {}, {}
    for rate, path in voices.items():
        prediction = predict_voice([path], gender, models, device)
        z[rate] = (prediction.am_mean - centre) / spread
        out[str(rate)] = {"file": path.name, "speech_s": round(prediction.speech_s, 3),
                          "finite": bool(np.isfinite(prediction.am_mean).all() and np.isfinite(prediction.face).all()),
                          "am_z_abs_max": float(np.abs(z[rate]).max()), "am_z_abs_mean": float(np.abs(z[rate]).mean()),
                          "face_rms_from_mean_mm": float(np.sqrt(((prediction.face - mean_face) ** 2).sum(1).mean()))}
    low, high = (z[r] for r in RATES)
    out["rates_disagree_sd_max"] = float(np.abs(low - high).max())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--gender", default="male", choices=["male", "female"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        print(json.dumps(check(args.models, alsa_voice(Path(scratch)), args.gender), indent=2))


if __name__ == "__main__":
    main()
