"""Registration of a whole cohort's scans, one scan per job on a process pool."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..parallel import map_with_state
from .io import read_scan_mm
from .register import Guides, Registration, RegistrationSettings, TemplateFitter
from .template import Template


@dataclass(frozen=True)
class ScanJob:
    speaker_id: str
    path: Path
    shown_as: str  # the path as the manifest gives it, for messages
    guides: Guides | None  # points in scan coordinates (mm) and their template vertices; None: search


def register_scans(template: Template, settings: RegistrationSettings, jobs: list[ScanJob],
                   workers: int | None = None) -> Iterator[Registration]:
    """Registrations of the template onto each job's scan, in job order.

    Each worker builds the template's solver once and reads its scans itself, so only the
    fitted vertices travel between processes.
    """
    yield from map_with_state(_register_one, jobs, TemplateFitter, (template, settings), workers)


def _register_one(fitter: TemplateFitter, job: ScanJob) -> Registration:
    scan_vertices, scan_faces, _ = read_scan_mm(job.path, job.speaker_id, job.shown_as)
    return fitter.register(scan_vertices, scan_faces, job.guides)
