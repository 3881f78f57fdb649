"""Time per audio hour of the voice front end and `sfv predict` on one long recording (issue 31).

A recording (default: the default world's F0001.wav) is repeated to --minutes, written as a
16 kHz WAV, and timed through each step: reading it (with the truncation check), the Silero and
energy VADs, the log-mel features of its speech, and, with --models, the whole `sfv predict`
(VAD, features, every stored estimator, the face fit). Wall and CPU seconds and seconds per
audio hour go to reports/experiments/long_audio/<name>.json with the commit, the settings and
the machine's load average (the machine may be shared; CPU seconds depend less on that).

    PYTHONPATH=. python scripts/long_audio_times.py --minutes 3 --models /work/main/models
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

from pipeline.artifacts import write_json
from pipeline.audio.frontend import FrontEnd
from pipeline.audio.io import load_audio
from pipeline.config import default_params
from pipeline.predict import predict_voice
from pipeline.provenance import ROOT, run_record

DEFAULT_WAV = ROOT / "data" / "synthetic" / "audio" / "F0001.wav"
HOUR_S = 3600.0


def _timed(step, *args, **kwargs) -> tuple[object, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step(*args, **kwargs)
    return result, {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wav", type=Path, default=DEFAULT_WAV)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--models", type=Path, default=None, help="a models folder: time `sfv predict` too")
    parser.add_argument("--gender", default="female")
    parser.add_argument("--name", default="default")
    args = parser.parse_args()
    started = time.time()
    audio = default_params().audio
    front_end = FrontEnd.from_params(audio)
    source = load_audio(args.wav, front_end.sample_rate)
    n = int(args.minutes * 60 * front_end.sample_rate)
    wave = np.resize(source, n)  # the recording repeated to the length asked for
    hours = n / front_end.sample_rate / HOUR_S
    steps: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        soundfile.write(path, wave, front_end.sample_rate)
        wave, steps["read"] = _timed(load_audio, path, front_end.sample_rate)
        for vad in ("silero", "energy"):
            end = FrontEnd.from_params(audio.model_copy(update={"vad": vad}))
            segments, steps[f"vad_{vad}"] = _timed(end.speech, wave, end.detector(), "long.wav")
        extractor = front_end.extractor(torch.device("cpu"))
        _, steps["features"] = _timed(front_end.features, [wave], [segments], extractor, torch.device("cpu"))
        if args.models is not None:
            _, steps["sfv_predict"] = _timed(predict_voice, [path], args.gender, args.models, torch.device("cpu"))
    for timing in steps.values():
        timing["wall_s_per_audio_hour"] = timing["wall_s"] / hours
        timing["cpu_s_per_audio_hour"] = timing["cpu_s"] / hours
    result = {"audio_minutes": args.minutes, "steps": steps, "load_average_1min_at_end": os.getloadavg()[0],
              "torch_threads": torch.get_num_threads(),
              "run": run_record({"wav": str(args.wav), "minutes": args.minutes, "models": str(args.models),
                                 "gender": args.gender, "audio": audio.model_dump()}, time.time() - started)}
    out = ROOT / "reports" / "experiments" / "long_audio" / f"{args.name}.json"
    write_json(result, out)
    print(f"{out}: written")


if __name__ == "__main__":
    main()
