"""Benchmarks behind the README's speed figures; each compares against a peer in the same run."""
from __future__ import annotations

import time

import numpy as np


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


def bench_geometry(scans: int, faces: int, seed: int) -> dict:
    """Our template registration against trimesh's `nricp_amberg` (default steps) on the same
    synthetic scans, landmarks and rigid start, one process each; and AM throughput, batched
    against one face at a time."""
    import torch
    import trimesh

    from .face.ams import default_am_table, measure
    from .face.register import TemplateFitter
    from .face.rigid import invert, rigid_fit, transform
    from .synth.scans import annotate_landmarks, simulate_scan
    from .synth.shape_model import build_shape_model
    from .synth.template import build_template

    template = build_template(6790)
    model = build_shape_model(template)
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(scans):
        _, true = model.sample_face(rng, "MF"[i % 2])
        scan = simulate_scan(true, template.faces, template.uv, rng, n_vertices=11000, max_rotation_deg=20,
                             max_translation_mm=50, noise_mm=0.3, n_holes=2, hole_radius_mm=(2.0, 5.0),
                             keep_clear=true[template.landmark_idx])
        annotation = annotate_landmarks(true[template.landmark_idx], scan.pose, rng, noise_mm=1.0,
                                        mislabel_rate=0.0, mislabel_mm=(5.0, 15.0))
        cases.append((true, scan, annotation.points))

    def accuracy(in_scan: np.ndarray, true: np.ndarray, pose: np.ndarray) -> tuple[float, float]:
        mapped = transform(in_scan, invert(pose))
        _, distance, _ = trimesh.proximity.closest_point(trimesh.Trimesh(true, template.faces, process=False), mapped)
        return float(np.linalg.norm(mapped - true, axis=1).mean()), float(distance.mean())

    fitter = TemplateFitter(template.vertices, template.faces, template.landmark_idx)
    results: dict[str, dict[str, list[float]]] = {"ours": {}, "trimesh_nricp_amberg": {}}
    for true, scan, landmarks in cases:
        t0 = time.perf_counter()
        fit = fitter.register(scan.vertices, scan.faces, landmarks)
        seconds = time.perf_counter() - t0
        errors = accuracy(transform(fit.vertices, fit.to_scan), true, scan.pose)
        _record(results["ours"], seconds, errors)

        start = transform(template.vertices, rigid_fit(template.vertices[template.landmark_idx], landmarks))
        t0 = time.perf_counter()
        fitted = trimesh.registration.nricp_amberg(
            trimesh.Trimesh(start, template.faces, process=False), trimesh.Trimesh(scan.vertices, scan.faces, process=False),
            source_landmarks=template.landmark_idx, target_positions=landmarks)
        seconds = time.perf_counter() - t0
        _record(results["trimesh_nricp_amberg"], seconds, accuracy(np.asarray(fitted), true, scan.pose))

    summary = {name: {key: float(np.mean(values)) for key, values in r.items()} for name, r in results.items()}
    summary["speedup"] = summary["trimesh_nricp_amberg"]["seconds_per_scan"] / summary["ours"]["seconds_per_scan"]
    summary["scans"], summary["template_vertices"] = scans, len(template.vertices)

    table = default_am_table()
    idx = torch.from_numpy(template.landmark_idx)
    batch = torch.from_numpy(template.vertices)[None].repeat(faces, 1, 1) + torch.randn(
        faces, len(template.vertices), 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        t0 = time.perf_counter()
        measure(batch, idx, table)
        batched = time.perf_counter() - t0
        t0 = time.perf_counter()
        for face in batch[:200]:
            measure(face[None], idx, table)
        single = (time.perf_counter() - t0) / min(faces, 200)
    summary["ams"] = {"faces": faces, "batched_faces_per_s": faces / batched, "one_by_one_faces_per_s": 1.0 / single,
                      "speedup": (single * faces) / batched}
    return summary


def _record(into: dict[str, list[float]], seconds: float, errors: tuple[float, float]) -> None:
    into.setdefault("seconds_per_scan", []).append(seconds)
    into.setdefault("vertex_error_mm", []).append(errors[0])
    into.setdefault("surface_distance_mm", []).append(errors[1])
