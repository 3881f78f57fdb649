"""Benchmarks behind docs/benchmarks.md; each compares against a peer in the same run."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

GEOMETRY_SCAN_VERTICES = 11000  # vertices of each synthetic scan bench-geometry registers
MATMUL_SIZE = 2048  # bench-train's ceiling: torch's dense float32 matmul of two square matrices this size
ESTIMATOR_BATCH = 64  # bench-phonatory's estimator step: the CNN's batch (sfv.batch_size's default)
SOURCE_RESULTS = Path(__file__).resolve().parents[1] / "reference" / "source_results.yaml"


def source_setup() -> dict:
    """The source's training setup (reference/source_results.yaml, block `setup`), which the
    estimates of the source's run are built from, so the page and the estimate read one
    definition."""
    return source_block("setup")


def source_block(name: str) -> dict:
    """One top-level block of reference/source_results.yaml."""
    import yaml

    return yaml.safe_load(SOURCE_RESULTS.read_text())[name]


def provenance(root: Path | str = Path(__file__).resolve().parents[1]) -> dict:
    """Where and when a measurement ran: the git commit of `root` and whether its code differs
    from it (pipeline.provenance.git_state), the machine's cores and its load averages over 1,
    5 and 15 min, so a timing taken on a busy machine says so."""
    from .provenance import git_state

    state = git_state(Path(root))
    return {"commit": state["git_commit"][:7] if state["git_commit"] else None,
            "dirty": state["uncommitted_changes"],
            "cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def bench_synth(people: int, vertices: int, seed: int) -> dict:
    """Time each step of synthetic person generation, wall and CPU seconds per person (the
    template: once).

    The scan step resamples a whole surface into a new mesh; trimesh's even surface sampling
    of the same number of points (points only, no mesh) runs beside it as a reference. The
    same people with head scans (synth.scan.head front, whole) give the head's cost, size
    (breadth, height with the neck, depth, mm) and vertex count.
    """
    import tempfile
    from dataclasses import replace

    import trimesh

    from .config import default_params
    from .face.template import build_template
    from .synth.cohort import ScanSettings, VoiceSettings, record, simulate_person
    from .synth.link import draw_latents, voice_params
    from .synth.scans import true_frame
    from .synth.shape_model import build_shape_model
    from .synth.writer import write_person

    with Stopwatch() as clock:
        template = build_template(vertices)
    timings = {"template": clock.per(1)}
    synth = default_params().synth
    model = build_shape_model(template, synth.residual_mm)
    settings = ScanSettings.from_params(synth)
    rng = np.random.default_rng(seed)

    with Stopwatch() as clock:
        faces = [model.sample_face(rng, "F")[1] for _ in range(people)]
    timings["face"] = clock.per(people)

    voice = VoiceSettings.from_params(synth)
    with Stopwatch() as clock:
        for _ in range(people):
            record(voice_params(draw_latents(model, model.sample_factors(rng, "F", 1), "F", rng, 1.0)[0]), rng, voice)
    timings["voice"] = clock.per(people)

    heads, drawn = {}, {}
    for extent in ("none", "front", "whole"):  # synth.scan.head: the same people, scans grown by a head
        with Stopwatch() as clock:
            drawn[extent] = [simulate_person(model, f"F{i:04d}", "F", i, seed, replace(settings, head=extent), voice)
                             for i in range(people)]
        size = np.mean([np.ptp(true_frame(p.scan), axis=0) for p in drawn[extent]], axis=0)
        heads[extent] = {**clock.per(people), "scan_vertices": float(np.mean([len(p.scan.vertices)
                                                                             for p in drawn[extent]])),
                         "breadth_mm": float(size[0]), "height_mm": float(size[1]), "depth_mm": float(size[2])}
    persons = drawn["none"]

    mean_scan = int(np.mean([len(p.scan.vertices) for p in persons]))
    with Stopwatch() as clock:
        for face in faces:
            trimesh.sample.sample_surface_even(trimesh.Trimesh(face, template.faces, process=False), mean_scan,
                                               seed=seed)
    timings["peer_sample_surface_even"] = {**clock.per(people), "points": mean_scan}

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with Stopwatch() as clock:
            for person in persons:
                write_person(root, person)
        timings["write"] = clock.per(people)
    return {"people": people, "template_vertices": len(template.vertices), "seed": seed,
            "recording_s": voice.seconds, **timings, "heads": heads}


class Stopwatch:
    """The wall and CPU seconds of a block (CPU: this process, all its threads). On a shared
    machine the CPU time is what the work costs; the wall time is what it took beside the
    other work."""

    def __enter__(self) -> Stopwatch:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def per(self, n: int) -> dict[str, float]:
        """Seconds per item of `n`: wall `s`, CPU `cpu_s`."""
        return {"s": self.wall / n, "cpu_s": self.cpu / n}


def bench_audio(recordings: int, seconds: float, seed: int) -> dict:
    """Our batched torch log-mels against librosa on the same audio in the same run, and the
    real-time factors of both VADs. Real-time factor per core = audio seconds / (wall seconds
    x threads used)."""
    import librosa
    import torch

    from .audio.features import log_mel_batch
    from .audio.frontend import FrontEnd
    from .audio.vad import SileroVad, energy_vad
    from .config import default_params
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
    audio = default_params().audio
    extractor = FrontEnd.from_params(audio).extractor(torch.device("cpu"))
    log_mel_batch(waves[:2], extractor, torch.device("cpu"))  # warm-up
    t0 = time.perf_counter()
    log_mel_batch(waves, extractor, torch.device("cpu"))
    ours_s = time.perf_counter() - t0

    silero = SileroVad(audio.vad_threshold, audio.min_speech_s, audio.min_silence_s)
    t0 = time.perf_counter()
    for wave in waves:
        silero(wave)
    silero_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for wave in waves:
        energy_vad(wave, SAMPLE_RATE, threshold_db=audio.energy_threshold_db, min_speech_s=audio.min_speech_s,
                   min_silence_s=audio.min_silence_s)
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

    from .config import default_params
    from .face.ams import default_am_table, measure
    from .face.register import Guides, RegistrationSettings, TemplateFitter
    from .face.rigid import invert, rigid_fit, transform
    from .face.template import build_template
    from .synth.scans import annotate_landmarks, simulate_scan
    from .synth.shape_model import build_shape_model

    defaults = default_params()
    template = build_template(defaults.face.template_vertices)
    model = build_shape_model(template, defaults.synth.residual_mm)
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(scans):
        _, true = model.sample_face(rng, "MF"[i % 2])
        scan = simulate_scan(true, template.faces, template.uv, rng, n_vertices=GEOMETRY_SCAN_VERTICES, max_rotation_deg=20,
                             max_translation_mm=50, noise_mm=0.3, n_holes=2, hole_radius_mm=(2.0, 5.0),
                             keep_clear=true[template.landmark_idx])
        annotation = annotate_landmarks(true[template.landmark_idx], scan.pose, rng, noise_mm=1.0,
                                        mislabel_rate=0.0, mislabel_mm=(5.0, 15.0))
        cases.append((true, scan, annotation.points))

    def accuracy(in_scan: np.ndarray, true: np.ndarray, pose: np.ndarray) -> tuple[float, float]:
        mapped = transform(in_scan, invert(pose))
        _, distance, _ = trimesh.proximity.closest_point(trimesh.Trimesh(true, template.faces, process=False), mapped)
        return float(np.linalg.norm(mapped - true, axis=1).mean()), float(distance.mean())

    fitter = TemplateFitter(template, RegistrationSettings.from_params(defaults.face))
    results: dict[str, dict[str, list[float]]] = {"ours": {}, "trimesh_nricp_amberg": {}}
    for true, scan, landmarks in cases:
        t0 = time.perf_counter()
        fit = fitter.register(scan.vertices, scan.faces, Guides(template.landmark_idx, landmarks))
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


H100_TF32_DENSE = 494.7e12  # FLOP/s, NVIDIA H100 SXM datasheet (TF32 tensor cores, dense)
H100_FP32 = 66.9e12  # FLOP/s, the same card without tensor cores


def bench_train(repeats: int, steps: int, frames: int, batch: int, n_ams: int, seed: int) -> dict:
    """Training-step cost: R repeats stacked into one network against the same R networks one
    after the other (equal steps, same data shapes); shared against per_am; achieved GFLOP/s
    (FLOPs counted by torch's FlopCounterMode) next to torch's dense matmul on this machine;
    and a FLOP-based estimate of the source-scale run on one H100."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .estimator.training import make_network, sgd_step

    generator = torch.Generator().manual_seed(seed)
    n_mels = 64

    def step_seconds(copies: int, per_am: bool, outputs: int, n_steps: int, frames: int = frames,
                     batch: int = batch) -> float:
        net = make_network(copies, outputs, n_mels, per_am, list(range(copies)))
        optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
        x = torch.randn(batch, copies, n_mels, frames, generator=generator)
        y = torch.randn(batch, copies, outputs, generator=generator)
        sgd_step(net, optimiser, x, y, per_am, 5.0)  # warm-up
        t0 = time.perf_counter()
        for _ in range(n_steps):
            sgd_step(net, optimiser, x, y, per_am, 5.0)
        return (time.perf_counter() - t0) / n_steps

    def step_flops(per_am: bool, outputs: int, length: int, batch_size: int) -> float:
        """FLOPs of one training step of one network (forward and backward)."""
        net = make_network(1, outputs, n_mels, per_am, [0])
        optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
        x = torch.randn(batch_size, 1, n_mels, length, generator=generator)
        y = torch.randn(batch_size, 1, outputs, generator=generator)
        with FlopCounterMode(display=False) as counter:
            sgd_step(net, optimiser, x, y, per_am, 5.0)
        return float(counter.get_total_flops())

    batched = step_seconds(repeats, False, n_ams, steps)
    one = [step_seconds(1, False, n_ams, steps) for _ in range(repeats)]
    sequential = float(np.sum(one))
    # The same comparison where each network's step is tiny, so per-model overhead dominates.
    small = {"frames": 100, "batch": 8}
    small_batched = step_seconds(repeats, False, n_ams, steps, **small)
    small_sequential = float(np.sum([step_seconds(1, False, n_ams, steps, **small) for _ in range(repeats)]))
    per_am = step_seconds(1, True, n_ams, 1)  # the n_ams networks of one repeat, stacked
    flops = step_flops(False, n_ams, frames, batch)

    size = MATMUL_SIZE
    a, b = torch.randn(size, size, generator=generator), torch.randn(size, size, generator=generator)
    a @ b
    t0 = time.perf_counter()
    for _ in range(10):
        a @ b
    matmul = 2 * size ** 3 * 10 / (time.perf_counter() - t0)

    achieved = flops * repeats / min(batched, sequential)  # the faster way of training R networks
    source = source_setup()
    source_frames = round(100 * float(np.mean(source["segment_s"])))  # the middle segment length, 100 frames/s
    source_flops = step_flops(False, n_ams, source_frames, source["batch_size"])
    per_am_flops = step_flops(True, 1, source_frames, source["batch_size"])
    runs = source["iterations"] * source["repeats"] * len(source["speakers"])  # steps x repeats x genders
    totals = {"shared": source_flops * runs, "per_am": per_am_flops * n_ams * runs}
    share = achieved / matmul
    return {
        "repeats": repeats, "steps": steps, "frames": frames, "batch": batch, "n_ams": n_ams,
        "threads": torch.get_num_threads(),
        "batched_s_per_step": batched, "sequential_s_per_step": sequential,
        "batched_speedup": sequential / batched,
        "small_step": {**small, "batched_s_per_step": small_batched, "sequential_s_per_step": small_sequential,
                       "batched_speedup": small_sequential / small_batched},
        "one_network_s_per_step": float(np.median(one)),
        "per_am_s_per_step": per_am, "per_am_over_shared": per_am / float(np.median(one)),
        "gflop_per_network_step": flops / 1e9, "achieved_gflops": achieved / 1e9,
        "achieved_gflops_one_network": flops / float(np.median(one)) / 1e9,
        "matmul_gflops": matmul / 1e9, "share_of_matmul": share,
        "source_scale": {
            "gflop_per_step_shared": source_flops / 1e9, "gflop_per_step_per_am_network": per_am_flops / 1e9,
            "total_pflop": {k: v / 1e15 for k, v in totals.items()},
            "h100_hours_at_measured_share_of_tf32": {k: v / (share * H100_TF32_DENSE) / 3600 for k, v in totals.items()},
            "h100_hours_at_full_fp32": {k: v / H100_FP32 / 3600 for k, v in totals.items()},
        },
    }


def bench_phonatory(repeats: int, steps: int, frames: int, seed: int) -> dict:
    """The phonatory pre-training step (encoder + module at the default `phonatory:` settings)
    beside the estimator's step (shared CNN, batch 64), and R stacked copies of the
    pre-training step against the same R one after the other. From the step time, what the
    pre-training adds to a default run (`phonatory.steps` per repeat, `sfv.repeats` repeats,
    both genders) and to the source's (its steps, repeats and genders from
    reference/source_results.yaml), one network at a time on this machine."""
    import torch

    from .config import default_params
    from .estimator.phonatory import PhonatorySettings, alpha_bar, beta_schedule
    from .estimator.pretrain import make_module, pretrain_step
    from .estimator.training import make_network, sgd_step

    settings = PhonatorySettings.from_params(default_params().phonatory)
    rng = np.random.default_rng(seed)
    n_mels, n_ams = 64, 96
    bars = torch.from_numpy(alpha_bar(beta_schedule(settings.timesteps, settings.schedule,
                                                    settings.beta_range))).float()

    def timed(step, n_steps: int) -> float:
        step()  # warm-up
        t0 = time.perf_counter()
        for _ in range(n_steps):
            step()
        return (time.perf_counter() - t0) / n_steps

    def pretraining(copies: int) -> float:
        net = make_network(copies, n_ams, n_mels, False, list(range(copies)))
        unet = make_module(copies, net.widths[-1], settings, list(range(copies)))
        optimiser = torch.optim.Adam([*net.body.parameters(), *unet.parameters()], lr=settings.lr)
        b = settings.batch_size
        batch = (rng.standard_normal((b, copies, n_mels, frames), dtype=np.float32),
                 rng.standard_normal((b, copies, settings.crop_samples), dtype=np.float32),
                 rng.integers(0, settings.timesteps, (b, copies)),
                 rng.standard_normal((b, copies, settings.crop_samples), dtype=np.float32))
        return timed(lambda: pretrain_step(net, unet, optimiser, batch, bars, torch.device("cpu"), 5.0), steps)

    net = make_network(1, n_ams, n_mels, False, [0])
    optimiser = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    x = torch.from_numpy(rng.standard_normal((ESTIMATOR_BATCH, 1, n_mels, frames), dtype=np.float32))
    y = torch.from_numpy(rng.standard_normal((ESTIMATOR_BATCH, 1, n_ams), dtype=np.float32))
    estimator = timed(lambda: sgd_step(net, optimiser, x, y, False, 5.0), steps)
    one = pretraining(1)
    stacked = pretraining(repeats)
    module_parameters = sum(p.numel() for p in make_module(1, net.widths[-1], settings, [0]).parameters())
    return {
        "steps": steps, "frames": frames, "repeats": repeats, "threads": torch.get_num_threads(),
        "settings": {"batch_size": settings.batch_size, "crop_samples": settings.crop_samples,
                     "widths": list(settings.widths), "tokens": settings.tokens, "timesteps": settings.timesteps},
        "module_parameters": module_parameters,
        "estimator_s_per_step": estimator, "pretraining_s_per_step": one,
        "pretraining_over_estimator": one / estimator,
        "stacked_s_per_step": stacked, "sequential_s_per_step": one * repeats,
        "stacked_speedup": one * repeats / stacked,
        **phonatory_estimates(one),
    }


def phonatory_estimates(step_s: float) -> dict:
    """What pre-training adds at `step_s` seconds a step, one network at a time: to a default
    run (`phonatory.steps` per repeat, `sfv.repeats` repeats, each gender) and to the source's
    (its steps, repeats and genders from reference/source_results.yaml)."""
    from .config import default_params

    defaults = default_params()
    steps, repeats, genders = defaults.phonatory.steps, defaults.sfv.repeats, len(defaults.sfv.genders)
    source = source_setup()
    source_steps, source_genders = source_block("training")["phonatory_steps"], len(source["speakers"])
    return {
        "default_run": {"steps_per_repeat": steps, "repeats": repeats, "genders": genders,
                        "steps": steps * repeats * genders, "s": steps * repeats * genders * step_s},
        "source_scale": {"steps_per_repeat": source_steps, "over_default": source_steps / steps,
                         "repeats": source["repeats"], "genders": source_genders, "s_per_repeat": source_steps * step_s,
                         "days": source_steps * step_s * source["repeats"] * source_genders / 86400},
    }


def bench_reconstruct(faces: int, top_k: int, seed: int) -> dict:
    """The batched AM-guided fit of all faces at once against scipy's L-BFGS-B fitting the same
    faces one at a time (same objective, torch gradients), on synthetic faces of one sex."""
    import torch
    from scipy.optimize import minimize

    from .config import default_params
    from .face.ams import default_am_table, measure
    from .face.template import build_template
    from .reconstruction.eigenface import fit_eigenface
    from .reconstruction.fit import AmObjective, fit_coefficients
    from .synth.shape_model import build_shape_model

    defaults = default_params()
    template = build_template(defaults.synth.vertices)
    model_faces = build_shape_model(template, defaults.synth.residual_mm)
    rng = np.random.default_rng(seed)
    cohort = np.stack([model_faces.sample_face(rng, "F")[1] for _ in range(120 + faces)])
    model = fit_eigenface(cohort[:120], defaults.reconstruct.variance_share, defaults.reconstruct.max_components)
    table = default_am_table()
    idx = torch.from_numpy(template.landmark_idx)
    with torch.no_grad():
        ams = measure(torch.from_numpy(cohort), idx, table).numpy()
    mean, sd = ams[:120].mean(0), ams[:120].std(0, ddof=1)
    targets = (ams[120:] - mean) / sd
    weights = np.zeros(len(table))
    weights[rng.choice(len(table), top_k, replace=False)] = 1.0
    objective = AmObjective.build(model, template.landmark_idx, table, targets, weights, mean, sd, lam=1.0)

    def per_face_scipy(n: int) -> list[float]:
        values = []
        for s in range(n):
            single = AmObjective.build(model, template.landmark_idx, table, targets[s:s + 1], weights, mean, sd,
                                       lam=1.0)

            def value_and_grad(b: np.ndarray) -> tuple[float, np.ndarray]:
                beta = torch.tensor(b[None], requires_grad=True)
                value = single.per_speaker(beta).sum()
                value.backward()
                return float(value.detach()), beta.grad.numpy()[0].copy()
            values.append(minimize(value_and_grad, np.zeros(model.n_components), jac=True, method="L-BFGS-B").fun)
        return values

    # Untimed calls of each first: torch's one-off set-up is not the method's cost.
    for _ in range(3):
        fit_coefficients(objective)
    per_face_scipy(3)
    t0 = time.perf_counter()
    _, batched_values = fit_coefficients(objective)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    scipy_values = per_face_scipy(faces)
    per_face = time.perf_counter() - t0
    return {"faces": faces, "components": model.n_components, "top_k": top_k,
            "batched_s": batched, "scipy_per_face_s": per_face, "speedup": per_face / batched,
            "objective_batched_mean": float(np.mean(batched_values)),
            "objective_scipy_mean": float(np.mean(scipy_values)),
            "objective_max_relative_gap": float(np.max((np.asarray(batched_values) - scipy_values)
                                                       / np.asarray(scipy_values)))}


def bench_permutations(speakers: int, statistics: int, n_ams: int, repeats: int, permutations: int,
                       seed: int) -> dict:
    """The permutation null: `mean_ratios` (one SVD per repeat shared by every shuffling and
    AM, shufflings batched) against refitting StatsRidge for every shuffling, on the same
    random data and splits; both give the same statistics."""
    from .estimator.ridge import RepeatRows, StatsRidge, mean_ratios

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((speakers, statistics))
    y = x[:, :n_ams] * 0.3 + rng.standard_normal((speakers, n_ams))
    n_select = n_score = max(1, speakers // 9)
    rows = []
    for _ in range(repeats):
        order = rng.permutation(speakers)
        rows.append(RepeatRows(order[n_select + n_score:], order[:n_select], order[n_select:n_select + n_score]))
    t0 = time.perf_counter()
    batched = mean_ratios(x, y, rows, permutations, seed)
    batched_s = time.perf_counter() - t0
    # The peer refits the observed AMs of every repeat (its cost per shuffling is the same).
    t0 = time.perf_counter()
    naive = np.zeros(n_ams)
    for r in rows:
        model = StatsRidge().fit(x[r.train], y[r.train], x[r.select], y[r.select])
        mean, _ = model.predict(x[r.score])
        naive += ((mean - y[r.score]) ** 2).sum(0) / ((y[r.score] - y[r.train].mean(0)) ** 2).sum(0)
    per_refit = (time.perf_counter() - t0) / repeats
    naive_s = per_refit * repeats * (permutations + 1)
    return {"speakers": speakers, "statistics": statistics, "n_ams": n_ams, "repeats": repeats,
            "permutations": permutations, "batched_s": batched_s, "refit_s_estimated": naive_s,
            "refit_s_per_fit": per_refit, "speedup": naive_s / batched_s,
            "max_abs_difference_observed": float(np.abs(batched[0] - naive / repeats).max())}
