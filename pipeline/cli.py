"""`sfv`: the command line of the shape-from-voice pipeline."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from .config import ParamsError


def bench_synth(people: int, vertices: int, seed: int) -> str:
    """Time each step of synthetic person generation; a markdown table for the README.

    The scan step resamples a whole surface into a new mesh; trimesh's even surface sampling
    of the same number of points (points only, no mesh) runs beside it as a reference.
    """
    import tempfile
    from pathlib import Path

    import trimesh

    from .synth.cohort import ScanSettings, VoiceSettings, record, simulate_person
    from .synth.link import draw_latents, voice_params
    from .synth.shape_model import build_shape_model
    from .synth.template import build_template
    from .synth.writer import write_person

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    template = build_template(vertices)
    timings["template (once)"] = time.perf_counter() - t0
    model = build_shape_model(template)
    settings = ScanSettings()
    rng = np.random.default_rng(seed)

    t0 = time.perf_counter()
    faces = [model.sample_face(rng, "F")[1] for _ in range(people)]
    timings["factors + face (solved, fold-checked), per person"] = (time.perf_counter() - t0) / people

    voice = VoiceSettings()
    t0 = time.perf_counter()
    for _ in range(people):
        record(voice_params(draw_latents(model, model.sample_factors(rng, "F", 1), "F", rng, 1.0)[0]), rng, voice)
    timings[f"voice: {voice.seconds:.0f} s recording, per person"] = (time.perf_counter() - t0) / people

    t0 = time.perf_counter()
    persons = [simulate_person(model, f"F{i:04d}", "F", i, seed, settings, voice) for i in range(people)]
    timings["whole person (face, scan, annotation, voice), per person"] = (time.perf_counter() - t0) / people

    mean_scan = int(np.mean([len(p.scan.vertices) for p in persons]))
    t0 = time.perf_counter()
    for face in faces:
        trimesh.sample.sample_surface_even(trimesh.Trimesh(face, template.faces, process=False), mean_scan, seed=seed)
    timings[f"peer: trimesh sample_surface_even ({mean_scan} points), per person"] = (time.perf_counter() - t0) / people

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        for person in persons:
            write_person(root, person)
        timings["write audio, alignment, scan, annotation, per person"] = (time.perf_counter() - t0) / people

    lines = [f"| step ({people} people, {vertices}-vertex template) | ms |", "|---|---:|"]
    lines += [f"| {name} | {1000 * sec:.1f} |" for name, sec in timings.items()]
    return "\n".join(lines)


def bench_audio(recordings: int, seconds: float, seed: int) -> dict:
    """Our batched torch log-mels against librosa on the same audio in the same run, and the
    real-time factors of both VADs. Real-time factor per core = audio seconds / (wall seconds
    x threads used)."""
    import librosa
    import torch

    from .audio.features import LogMel, log_mel_batch
    from .audio.vad import SileroVad, energy_vad
    from .synth.speech import SAMPLE_RATE, VoiceParams, apply_channel, script_for, synthesize

    rng = np.random.default_rng(seed)
    waves = []
    for i in range(recordings):
        voice = VoiceParams(f0_hz=float(rng.uniform(90, 230)), vtl_cm=float(rng.uniform(14, 18)))
        dry = synthesize(script_for(seconds - 1.0), voice, rng)
        waves.append(apply_channel(dry, rng, snr_db=25.0)[0].astype(np.float32))
    audio_s = recordings * seconds
    threads = torch.get_num_threads()

    t0 = time.perf_counter()
    for wave in waves:
        librosa.power_to_db(librosa.feature.melspectrogram(
            y=wave, sr=SAMPLE_RATE, n_fft=512, hop_length=160, win_length=400, center=True,
            pad_mode="constant", n_mels=64), ref=1.0, amin=1e-10, top_db=None)
    librosa_s = time.perf_counter() - t0
    extractor = LogMel()
    log_mel_batch(waves[:2], extractor, torch.device("cpu"))  # warm-up
    t0 = time.perf_counter()
    log_mel_batch(waves, extractor, torch.device("cpu"))
    ours_s = time.perf_counter() - t0

    silero = SileroVad()
    t0 = time.perf_counter()
    for wave in waves:
        silero(wave)
    silero_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for wave in waves:
        energy_vad(wave, SAMPLE_RATE)
    energy_s = time.perf_counter() - t0
    return {
        "audio_seconds": audio_s, "torch_threads": threads,
        "features": {"ours_s": ours_s, "librosa_s": librosa_s, "speedup_vs_librosa": librosa_s / ours_s,
                     "realtime_per_core": audio_s / (ours_s * threads),
                     "librosa_realtime_per_core": audio_s / librosa_s},
        "vad": {"silero_realtime": audio_s / silero_s, "energy_realtime": audio_s / energy_s},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sfv", description="Shape from voice: voice -> face measurements -> 3D face.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench = commands.add_parser("bench-synth", help="benchmark synthetic cohort generation (README table)")
    bench.add_argument("--people", type=int, default=20)
    bench.add_argument("--vertices", type=int, default=6790)
    bench.add_argument("--seed", type=int, default=0)
    audio = commands.add_parser("bench-audio", help="benchmark log-mel features against librosa, and the VADs")
    audio.add_argument("--recordings", type=int, default=32)
    audio.add_argument("--seconds", type=float, default=20.0)
    audio.add_argument("--seed", type=int, default=0)
    audio.add_argument("--out", type=str, default="reports/bench.json")
    args = parser.parse_args(argv)
    try:
        if args.command == "bench-synth":
            print(bench_synth(args.people, args.vertices, args.seed))
        elif args.command == "bench-audio":
            import json
            from pathlib import Path

            result = bench_audio(args.recordings, args.seconds, args.seed)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
            print(json.dumps(result, indent=2))
    except ParamsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
