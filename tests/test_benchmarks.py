"""The benchmarks behind docs/benchmarks.md run, and say where and at what they ran."""
from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.benchmarks import Stopwatch, bench_synth, provenance, source_setup

ROOT = Path(__file__).resolve().parents[1]


def test_provenance_names_the_commit_and_the_load():
    run = provenance(ROOT)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    if head.returncode == 0:
        assert run["commit"] == head.stdout.strip()
    assert isinstance(run["dirty"], bool)  # whether pipeline/, scripts/, tests/ or params.yaml differ
    assert run["cpus"] >= 1 and len(run["load_average"]) == 3


def test_provenance_outside_git_has_no_commit(tmp_path):
    assert provenance(tmp_path)["commit"] is None


def test_the_source_setup_is_read_from_the_reference_file():
    setup = source_setup()
    assert set(setup["speakers"]) == {"male", "female"}
    assert setup["iterations"] > 0 and setup["repeats"] > 0 and len(setup["segment_s"]) == 2


def test_bench_synth_reports_each_step_and_the_heads():
    out = bench_synth(people=1, vertices=6790, seed=0)
    assert out["people"] == 1 and out["template_vertices"] == 6790
    heads = out["heads"]
    assert heads["none"]["scan_vertices"] < heads["front"]["scan_vertices"] < heads["whole"]["scan_vertices"]
    assert heads["none"]["depth_mm"] < heads["whole"]["depth_mm"]
    assert out["peer_sample_surface_even"]["points"] == int(heads["none"]["scan_vertices"])
    for step in ("template", "face", "voice", "write", "peer_sample_surface_even"):
        assert out[step]["s"] > 0 and out[step]["cpu_s"] >= 0


def test_the_stopwatch_counts_cpu_apart_from_waiting():
    import time

    with Stopwatch() as clock:
        time.sleep(0.05)
    assert clock.wall >= 0.05 and clock.cpu < 0.04
    assert clock.per(2) == {"s": clock.wall / 2, "cpu_s": clock.cpu / 2}
