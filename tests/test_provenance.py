"""pipeline/provenance.py: an experiment's record names the commit it ran at."""
import subprocess

from pipeline.provenance import git_state, run_record


def test_the_record_names_the_checked_out_commit_and_the_settings():
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    record = run_record({"seed": 0}, seconds=1.5)
    if head:
        assert record["git_commit"] == head and isinstance(record["uncommitted_changes"], bool)
    assert record["settings"] == {"seed": 0} and record["wall_seconds"] == 1.5
    assert record["machine"]["cpus"] >= 1 and record["cpu_seconds"] > 0


def test_outside_git_the_commit_is_unknown(tmp_path):
    assert git_state(tmp_path) == {"git_commit": None, "uncommitted_changes": None}
