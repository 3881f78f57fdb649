"""register stage: every face in the template's topology, rigidly aligned to the template frame."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..artifacts import read_table, save_npy, write_csv
from ..config import load_params
from ..dataset import DatasetError, read_manifest
from ..face.batch import ScanJob, register_scans
from ..face.io import read_faces_csv, read_landmark_vertices, write_mesh
from ..face.rigid import align_to_mean
from ..face.topology import triangulate_frontal
from ..settings import registration_schedule
from ..synth.template import REGIONS, build_template
from . import run

QC_COLUMNS = ["speaker_id", "source", "surface_distance_mm", "coverage", "landmark_fit_mm", "flagged"]


def main(params_path: Path, faces_dir: Path) -> None:
    params = load_params(params_path)
    root, face = Path(params.data.root), params.face
    qc = read_table(faces_dir / "landmarks_qc.csv")
    landmarks = np.load(faces_dir / "landmarks.npy")
    speakers = qc[["speaker_id", "gender"]]

    if (root / "faces.csv").is_file():
        ids, vertices = read_faces_csv(root / "faces.csv")
        row_of = {sid: i for i, sid in enumerate(ids)}
        faces_in = vertices[[row_of[sid] for sid in speakers.speaker_id]]
        registered, _ = align_to_mean(faces_in, reference=faces_in[0])
        template_vertices = registered.mean(axis=0)
        template_faces = triangulate_frontal(template_vertices)
        landmark_idx = read_landmark_vertices(Path(face.landmark_vertices) if face.landmark_vertices else None)
        regions = None
        to_scan = np.repeat(np.eye(4)[None], len(speakers), axis=0)
        rows = [(sid, "faces_csv", np.nan, 1.0, np.nan, False) for sid in speakers.speaker_id]
    else:
        template = build_template(face.template_vertices)
        template_vertices, template_faces = template.vertices, template.faces
        landmark_idx, regions = template.landmark_idx, template.region
        scan_of = {s.speaker_id: s.scan for s in read_manifest(root)}
        jobs = [ScanJob(sid, root / scan_of[sid], scan_of[sid], landmarks[i])
                for i, sid in enumerate(speakers.speaker_id)]
        fits = list(tqdm(register_scans(template_vertices, template_faces, landmark_idx, registration_schedule(face),
                                        face.max_distance_mm, jobs),
                         total=len(jobs), desc="register", unit="scan"))
        registered = np.stack([f.vertices for f in fits])
        to_scan = np.stack([f.to_scan for f in fits])
        rows = [(sid, "scan", f.surface_distance_mm, f.coverage, f.landmark_fit_mm,
                 bool(f.coverage < face.min_coverage or f.surface_distance_mm > face.max_surface_mm))
                for sid, f in zip(speakers.speaker_id, fits)]
        failed = [(i, sid, scan_of[sid], f) for i, (sid, f) in enumerate(zip(speakers.speaker_id, fits)) if rows[i][-1]]
        if failed and params.data.on_error == "fail":
            i, sid, scan, f = failed[0]
            raise DatasetError(
                f"speaker {sid}: {scan} failed registration QC (coverage {f.coverage:.2f}, needed >= "
                f"{face.min_coverage}; mean distance to the scan {f.surface_distance_mm:.2f} mm, allowed <= "
                f"{face.max_surface_mm} mm; {len(failed)} face(s) failed in all). Is the scan a face in millimetres "
                f"with its landmarks? Fix it, or set data.on_error: skip to leave such faces out.")
        # In skip mode a failed face stays in register_qc.csv (flagged) but goes no further.
        keep = np.array([not row[-1] for row in rows])
        speakers, registered, to_scan = speakers[keep], registered[keep], to_scan[keep]

    save_npy(registered.astype(np.float32), faces_dir / "registered.npy")
    save_npy(to_scan, faces_dir / "to_scan.npy")
    write_csv(speakers, faces_dir / "speakers.csv", None)
    write_mesh(faces_dir / "template.ply", template_vertices, template_faces)
    write_csv(pd.DataFrame({"landmark": np.arange(1, len(landmark_idx) + 1), "vertex_index": landmark_idx}),
              faces_dir / "landmark_vertices.csv", None)
    region_names = np.asarray(REGIONS)[regions] if regions is not None else np.full(len(template_vertices), "")
    write_csv(pd.DataFrame({"vertex_index": np.arange(len(template_vertices)), "region": region_names}),
              faces_dir / "template_regions.csv", None)
    write_csv(pd.DataFrame(rows, columns=QC_COLUMNS), faces_dir / "register_qc.csv", "%.4f")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--faces", type=Path, default=Path("data/faces"))
    args = parser.parse_args()
    run(main, args.params, args.faces)
