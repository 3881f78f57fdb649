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


def test_only_changes_to_the_code_mark_a_run_uncommitted(tmp_path):
    """Pages edited while an experiment runs do not make its numbers uncommitted; code does."""
    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)
    git("init", "-q")
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "pipeline" / "m.py").write_text("A = 1\n")
    (tmp_path / "docs" / "p.md").write_text("text\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    (tmp_path / "docs" / "p.md").write_text("edited\n")
    assert git_state(tmp_path)["uncommitted_changes"] is False
    (tmp_path / "pipeline" / "m.py").write_text("A = 2\n")
    assert git_state(tmp_path)["uncommitted_changes"] is True
