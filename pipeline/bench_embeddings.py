"""`sfv bench-embeddings`: what each voice encoder costs, in real-time factors (a tool, beside
benchmarks.py, whose Stopwatch it uses)."""
from __future__ import annotations

import numpy as np
import torch

from .benchmarks import Stopwatch

ENCODERS = ("egemaps", "praat", "resemblyzer")
TARGET_REALTIME_PER_CORE = 20.0  # issue 27: egemaps and resemblyzer at >= 20x real time per core


def bench_embeddings(recordings: int, seconds: float, seed: int) -> dict:
    """Each built-in encoder on the same synthetic speech (the synthesiser's voices, drawn as
    bench-audio draws them). Real time per core = audio seconds / CPU seconds of this process
    (all its threads): what the stage costs per core whatever the machine's load; real time =
    audio seconds / wall seconds, what it took here. The log-mel front end on the same audio
    is the peer: the cost of the features stage's work."""
    from .audio.features import log_mel_batch
    from .audio.frontend import FrontEnd
    from .config import default_params
    from .embeddings import encoder_for
    from .synth.speech import SAMPLE_RATE, VoiceParams, apply_channel, script_for, synthesize

    rng = np.random.default_rng(seed)
    waves = []
    for _ in range(recordings):
        voice = VoiceParams(f0_hz=float(rng.uniform(90, 230)), vtl_cm=float(rng.uniform(14, 18)))
        dry = synthesize(script_for(seconds), voice, rng)
        waves.append(apply_channel(dry, rng, snr_db=25.0)[0][:int(seconds * SAMPLE_RATE)].astype(np.float32))
    audio_s = sum(len(w) for w in waves) / SAMPLE_RATE
    settings = default_params().embedding
    cpu = torch.device("cpu")
    out: dict = {"recordings": recordings, "audio_seconds": audio_s, "torch_threads": torch.get_num_threads(),
                 "window_s": settings.window_s, "batch_size": settings.batch_size,
                 "target_realtime_per_core": TARGET_REALTIME_PER_CORE}
    for spec in ENCODERS:
        with Stopwatch() as load:
            encoder = encoder_for(spec, settings.layers, settings.window_s, settings.batch_size, cpu)
        encoder.embed(waves[:1])  # warm-up: first-call allocations, lazy imports
        with Stopwatch() as clock:
            encoder.embed(waves)
        out[spec] = {"load_s": load.wall, "s": clock.wall, "cpu_s": clock.cpu,
                     "realtime": audio_s / clock.wall, "realtime_per_core": audio_s / clock.cpu,
                     "dim": len(encoder.feature_names())}
    out["resemblyzer"].update(_ge2e_threads(waves, audio_s, settings.batch_size))
    extractor = FrontEnd.from_params(default_params().audio).extractor(cpu)
    log_mel_batch(waves[:1], extractor, cpu)
    with Stopwatch() as clock:
        log_mel_batch(waves, extractor, cpu)
    out["peer_log_mel"] = {"s": clock.wall, "cpu_s": clock.cpu, "realtime": audio_s / clock.wall,
                           "realtime_per_core": audio_s / clock.cpu}
    return out


def _ge2e_threads(waves: list[np.ndarray], audio_s: float, batch_size: int) -> dict:
    """The GE2E network alone (mels made beforehand) on one intra-op thread, as the encoder
    runs it, and on torch's default number: why the encoder keeps to one."""
    from .embeddings.ge2e import Ge2eNetwork, partial_mels, weights_path

    network = Ge2eNetwork()
    network.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True)["model_state"],
                            strict=False)
    mels = np.concatenate([partial_mels(w) for w in waves])
    default = torch.get_num_threads()
    out = {}
    for threads in (1, default):
        torch.set_num_threads(threads)
        try:
            with torch.no_grad(), Stopwatch() as clock:
                for start in range(0, len(mels), batch_size):
                    network(torch.from_numpy(mels[start:start + batch_size]))
        finally:
            torch.set_num_threads(default)
        out[f"network_{threads}_threads"] = {"s": clock.wall, "cpu_s": clock.cpu, "realtime": audio_s / clock.wall,
                                             "realtime_per_core": audio_s / clock.cpu}
    return out
