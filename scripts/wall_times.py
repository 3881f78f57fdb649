"""reports/experiments/wall_time.txt as JSON, so the pages can quote the experiments' wall times.

scratch.sh appends one `name: N s` line per experiment run; a results page quotes only JSON,
YAML or CSV. This writes reports/experiments/wall_time.json, {name: {seconds, committed_in}},
where `committed_in` is the commit that last changed the line (git blame; the run was made at
that commit's parent or earlier) and null for a line not committed yet (the run was made at
the scratch clone of HEAD). It reads the text file and git only, so it is re-run after every
experiment (scratch.sh does) and the two files never disagree.

    python scripts/wall_times.py
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEXT = ROOT / "reports" / "experiments" / "wall_time.txt"
LINE = re.compile(r"^(?P<name>[\w.+-]+): (?P<seconds>\d+) s$")


def blame(path: Path) -> list[str | None]:
    """The commit of each line of `path` (None where the line is not committed)."""
    done = subprocess.run(["git", "blame", "--porcelain", "--", str(path.relative_to(ROOT))], cwd=ROOT,
                          capture_output=True, text=True)
    if done.returncode:
        return [None] * len(path.read_text().splitlines())
    commits = [line.split()[0] for line in done.stdout.splitlines()
               if re.match(r"^[0-9a-f]{40} \d+ \d+", line)]
    return [None if set(c) == {"0"} else c[:7] for c in commits]


def wall_times(path: Path = TEXT) -> dict[str, dict]:
    """{name: {seconds, committed_in}} from the text file, the last line of a name winning."""
    out = {}
    for line, commit in zip(path.read_text().splitlines(), blame(path)):
        match = LINE.match(line.strip())
        if not match:
            raise ValueError(f"{path}: {line!r} is not `name: N s`")
        out[match["name"]] = {"seconds": int(match["seconds"]), "committed_in": commit}
    return out


if __name__ == "__main__":
    TEXT.with_suffix(".json").write_text(json.dumps(wall_times(), indent=2, sort_keys=True) + "\n")
    print(TEXT.with_suffix(".json").read_text())
