"""DVC stage entry points: `python -m pipeline.stages NAME [GENDER]` runs one stage of dvc.yaml.

A stage module holds a `main(params, paths)` (per-gender stages: `main(params, paths, gender)`)
that reads its inputs, calls the library and writes its outputs; it parses no arguments.
Every path comes from one table, dvc.yaml's `vars: - paths:`, which dvc.yaml's deps and outs
interpolate (`${paths.segments}`) and `Paths` reads, so a path is written down once.
"""
from __future__ import annotations

import importlib
import sys
from pathlib import Path

import yaml

from ..cohort import Gender
from ..config import Params, load_params
from ..errors import ParamsError, SfvError
from ..threads import apply_threads

DVC_YAML = Path("dvc.yaml")
PARAMS_YAML = Path("params.yaml")


class Paths:
    """The artefact paths of dvc.yaml's `paths` table, as attributes (`paths.segments`)."""

    def __init__(self, table: dict[str, str], base: Path = Path(".")):
        self._table = {name: Path(base) / value for name, value in table.items()}

    @classmethod
    def from_dvc_yaml(cls, dvc_yaml: Path = DVC_YAML, base: Path = Path(".")) -> Paths:
        """The table of `dvc_yaml`, every path under `base` (a test's folder, say)."""
        for entry in yaml.safe_load(Path(dvc_yaml).read_text()).get("vars", []):
            if isinstance(entry, dict) and "paths" in entry:
                return cls(entry["paths"], base)
        raise ParamsError(f"{dvc_yaml}: no `paths` table under `vars:`")

    def __getattr__(self, name: str) -> Path:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._table[name]
        except KeyError:
            raise AttributeError(f"dvc.yaml's `paths` table has no {name!r}") from None

    def names(self) -> list[str]:
        return list(self._table)


def run_stage(name: str, item: str | None, params: Params, paths: Paths) -> None:
    """Run stage `name` (with its `foreach` item, a gender, where it has one)."""
    module = importlib.import_module(f"{__name__}.{name}")
    if item is None:
        module.main(params, paths)
        return
    if item not in [g.value for g in Gender]:
        raise ParamsError(f"stage {name}@{item}: {item!r} is not a gender ({', '.join(g.value for g in Gender)})")
    gender = Gender(item)
    if gender not in params.sfv.genders:
        raise ParamsError(f"stage {name}@{gender}: gender {gender} is not in sfv.genders {list(params.sfv.genders)}")
    module.main(params, paths, gender)


def main(argv: list[str]) -> int:
    """Bad parameters or bad input end the stage with the error and exit status 2."""
    if len(argv) not in (1, 2):
        print("usage: python -m pipeline.stages NAME [GENDER]  (run from the folder of dvc.yaml)", file=sys.stderr)
        return 2
    apply_threads()  # the stage's process takes every core; a process pool it starts shares them out
    try:
        run_stage(argv[0], argv[1] if len(argv) == 2 else None, load_params(PARAMS_YAML), Paths.from_dvc_yaml())
    except SfvError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a write outside artifacts' writers: still one line, never a traceback
        print(f"error: {err} (is the disk full, or a folder read-only?)", file=sys.stderr)
        return 2
    return 0
