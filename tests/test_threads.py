"""Thread use (pipeline/threads.py): the rule, its use in pool workers, and that the vad stage's
output does not depend on the pool's width."""
import pytest
import torch
import yaml

from pipeline.parallel import map_with_state
from pipeline.threads import available_cores, thread_count
from presets import run

TINY = {"seed": 5, "synth": {"speakers": {"male": 2, "female": 2}, "vertices": 3000,
                             "scan": {"vertices": [3500, 4500]}, "seconds": 6.0}}


def test_sfv_threads_wins_else_cores_are_shared_among_workers(monkeypatch):
    monkeypatch.setattr("pipeline.threads.available_cores", lambda: 8)
    monkeypatch.delenv("SFV_THREADS", raising=False)
    assert [thread_count(w) for w in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    monkeypatch.setenv("SFV_THREADS", "3")
    assert thread_count(1) == thread_count(4) == 3


def _nothing() -> None:
    return None


def _torch_threads(state, job) -> int:
    return torch.get_num_threads()


def test_pool_workers_take_their_share(monkeypatch):
    monkeypatch.setenv("SFV_THREADS", "")  # unset: the cores, shared among the pool's two workers
    seen = set(map_with_state(_torch_threads, range(4), _nothing, workers=2))
    assert seen == {max(1, available_cores() // 2)}


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    """The tiny world's params.yaml, its synthetic root made."""
    tmp = tmp_path_factory.mktemp("threads")
    (tmp / "p.yaml").write_text(yaml.safe_dump(TINY))
    root = run("synth", tmp / "p.yaml", tmp).synthetic
    (tmp / "params.yaml").write_text(yaml.safe_dump({**TINY, "data": {"root": str(root)}}))
    return tmp / "params.yaml"


def test_vad_segments_are_the_same_bytes_with_one_and_two_workers(params, tmp_path, monkeypatch):
    tables = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("SFV_WORKERS", workers)
        tables[workers] = run("vad", params, tmp_path / workers).segments.read_bytes()
    assert tables["1"] == tables["2"] and tables["1"].count(b"\n") > 4


def test_features_are_the_same_bytes_with_one_and_two_torch_threads(params, tmp_path):
    run("vad", params, tmp_path)
    threads, written = torch.get_num_threads(), {}
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            folder = run("features", params, tmp_path).features
            written[n] = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    finally:
        torch.set_num_threads(threads)
    assert written[1] == written[2] and len(written[1]) > 4
