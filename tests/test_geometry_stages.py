"""The landmarks, register, ams and geometry stages on a small synthetic root and a faces.csv root."""
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import trimesh
import yaml

from pipeline.errors import DatasetError
from pipeline.face.ams import default_am_table, measure
from pipeline.face.io import write_faces_csv
from pipeline.face.landmarking import sfv_points
from pipeline.face.rigid import transform as apply_pose
from pipeline.stages import Paths
from pipeline.synth.scans import random_pose
from presets import run

# An annotation shifted this far along the face, which the register QC must refuse.
ANNOTATION_SHIFT_MM = 12.0
SMALL = {
    "seed": 4,
    "synth": {"speakers": {"male": 5, "female": 5}, "vertices": 3000,
              "scan": {"vertices": [3500, 4500], "holes": [1, 2]},
              "annotation": {"mislabel_rate": 0.05},
              "sheet_faces": 2, "sheet_voices": 2, "seconds": 6.0},
    "face": {"template_vertices": 3000},
}


def _params(folder: Path, root: Path, **data) -> Path:
    params = {**SMALL, "data": {"root": str(root), **data}}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _geometry(params: Path, work: Path) -> Paths:
    for stage in ("landmarks", "register", "ams", "geometry"):
        paths = run(stage, params, work)
    return paths


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """The geometry stages' outputs on a small synthetic root (its root: .synthetic)."""
    work = tmp_path_factory.mktemp("geometry")
    params = _params(work, run("synth", _params(work, work), work).synthetic)
    return _geometry(params, work)


def test_outputs_follow_the_design(synthetic):
    qc = pd.read_csv(synthetic.landmarks_qc)
    assert list(qc.columns) == ["speaker_id", "gender", "source", "unit", "points", "flagged", "flagged_landmarks",
                                "max_residual_mm"]
    assert set(qc["unit"]) == {"mm"} and set(qc["points"]) == {65}
    points = pd.read_csv(synthetic.landmarks)
    assert list(points.columns) == ["speaker_id", "landmark", "x", "y", "z"] and len(points) == 10 * 65
    assert points.groupby("speaker_id")["landmark"].apply(list).map(len).eq(65).all()
    register_qc = pd.read_csv(synthetic.register_qc)
    assert {"guides", "landmark_fit_mm", "asymmetry_mm", "cohort_flagged", "reason"} <= set(register_qc.columns)
    assert not register_qc["flagged"].any() and (register_qc["guides"] == 65).all()
    registered = np.load(synthetic.registered)
    assert registered.dtype == np.float32 and registered.shape == (10, 3000, 3)
    assert pd.read_csv(synthetic.face_speakers).columns.tolist() == ["speaker_id", "gender"]
    assert pd.read_csv(synthetic.landmark_vertices).shape == (65, 2)
    ams = pd.read_csv(synthetic.ams)
    assert ams.columns.tolist() == ["speaker_id", "gender"] + [f"am_{i}" for i in range(1, 97)]
    assert np.isfinite(ams.iloc[:, 2:].to_numpy()).all()


def test_geometry_report_against_the_truth(synthetic):
    report = json.loads(synthetic.geometry.read_text())
    assert report["register"]["vertex_error_mm"] < 2.0
    assert report["register"]["surface_distance_mm"] < 0.5
    assert report["landmarks"]["error_mm"] < report["landmarks"]["error_mm_annotated"]
    for key in ("mislabel_recall", "false_flag_rate"):
        assert 0.0 <= report["landmarks"][key] <= 1.0
    assert set(report["register"]["by_region"]) == {"nose", "mouth", "eyes", "brows_forehead", "cheeks_jaw", "chin"}
    assert report["ams"]["distance"]["r_median"] > 0.8
    assert len(pd.read_csv(synthetic.geometry_ams)) == 96
    assert synthetic.registration_plot.stat().st_size > 10_000


def test_a_root_without_truth_gets_every_output_and_says_so(synthetic, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(synthetic.synthetic, root, ignore=shutil.ignore_patterns("audio", "truth"))
    work = _geometry(_params(tmp_path, root), tmp_path / "work")
    report = json.loads(work.geometry.read_text())
    assert report["ground_truth"] is False and "ams" not in report and "vertex_error_mm" not in report["register"]
    table = pd.read_csv(work.geometry_ams)
    assert table.columns.tolist() == ["am", "kind", "label", "mean", "sd", "r", "mae", "truth_sd"]
    ams = pd.read_csv(work.ams)
    np.testing.assert_allclose(table["mean"], ams.iloc[:, 2:].mean().to_numpy(), rtol=1e-3)
    assert table[["r", "mae", "truth_sd"]].isna().all().all()
    assert work.registration_plot.stat().st_size > 10_000
    with_truth = pd.read_csv(synthetic.geometry_ams)
    assert with_truth.columns.tolist() == table.columns.tolist() and with_truth["r"].notna().all()


def test_faces_csv_root_is_read_and_aligned_not_registered(synthetic, tmp_path):
    """A registered-face CSV gives the same AMs as the faces it holds, whatever their poses."""
    root = tmp_path / "root"
    root.mkdir()
    truth = synthetic.synthetic / "truth"
    shapes = np.load(truth / "shapes.npy").astype(np.float64)
    speakers = pd.read_csv(truth / "speakers.csv")
    rng = np.random.default_rng(0)
    posed = np.stack([apply_pose(s, random_pose(rng, 20, 30)) for s in shapes])
    write_faces_csv(root / "faces.csv", speakers.speaker_id.tolist(), posed)
    manifest = speakers.assign(audio="", scan="", landmarks="")
    manifest.to_csv(root / "manifest.csv", index=False)
    landmark_idx = pd.read_csv(truth / "template_landmarks.csv")
    landmark_idx.to_csv(tmp_path / "idx.csv", index=False)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**SMALL, "data": {"root": str(root)},
                                      "face": {"landmark_vertices": str(tmp_path / "idx.csv")}}))
    work = _geometry(params, tmp_path / "work")
    registered = np.load(work.registered)
    assert registered.shape == shapes.shape
    ams = pd.read_csv(work.ams).iloc[:, 2:].to_numpy()
    true = pd.read_csv(truth / "ams.csv").iloc[:, 2:].to_numpy()
    assert np.allclose(ams, true, atol=2e-3)
    assert set(pd.read_csv(work.landmarks_qc)["source"]) == {"faces_csv"}
    # Aligned: the faces now agree far better than their random poses did.
    spread = lambda x: np.linalg.norm(x - x.mean(axis=0), axis=2).mean()  # noqa: E731
    assert spread(registered) < 0.2 * spread(posed)


def test_automatic_landmarks_when_none_are_annotated(synthetic, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(synthetic.synthetic, root, ignore=shutil.ignore_patterns("audio", "truth"))
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.loc[:1, "landmarks"] = ""
    manifest.to_csv(root / "manifest.csv", index=False)
    out = run("landmarks", _params(tmp_path, root), tmp_path)
    qc = pd.read_csv(out.landmarks_qc)
    assert qc.source.tolist()[:3] == ["automatic", "automatic", "annotated"]
    found = sfv_points(pd.read_csv(out.landmarks), list(qc.speaker_id))
    ours = sfv_points(pd.read_csv(synthetic.landmarks), list(qc.speaker_id))
    assert np.linalg.norm(found[:2] - ours[:2], axis=2).mean() < 4.0


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_a_broken_scan_fails_cleanly_or_is_skipped(synthetic, tmp_path, on_error):
    root = tmp_path / "root"
    shutil.copytree(synthetic.synthetic, root, ignore=shutil.ignore_patterns("audio", "truth"))
    (root / "scans" / "F0002.ply").write_bytes(b"not a mesh")
    params = _params(tmp_path, root, on_error=on_error)
    if on_error == "fail":
        with pytest.raises(DatasetError, match="speaker F0002: scans/F0002.ply"):
            run("landmarks", params, tmp_path / "out")
        assert not (tmp_path / "out").exists()
    else:
        out = run("landmarks", params, tmp_path / "out")
        skipped = pd.read_csv(out.skipped_faces)
        assert skipped.speaker_id.tolist() == ["F0002"] and skipped.stage.tolist() == ["landmarks"]
        assert "F0002" not in pd.read_csv(out.landmarks_qc).speaker_id.tolist()
        assert pd.read_csv(out.landmarks)["speaker_id"].nunique() == 9


def test_a_scan_in_metres_is_read_in_mm(synthetic, tmp_path, capsys):
    """Scan and annotation in metres: found from the scan's size, read in mm, registered as in mm."""
    root = tmp_path / "root"
    shutil.copytree(synthetic.synthetic, root, ignore=shutil.ignore_patterns("audio", "truth"))
    scan = trimesh.load(root / "scans" / "M0003.ply", process=False)
    scan.vertices = scan.vertices / 1000.0
    scan.export(root / "scans" / "M0003.ply")
    annotation = pd.read_csv(root / "landmarks" / "M0003.csv")
    (annotation / 1000.0).to_csv(root / "landmarks" / "M0003.csv", index=False)
    params = _params(tmp_path, root)
    out = run("landmarks", params, tmp_path)
    assert "speaker M0003: the coordinates are in m " in capsys.readouterr().err
    run("register", params, tmp_path)
    qc = pd.read_csv(out.landmarks_qc).set_index("speaker_id")
    assert qc.loc["M0003", "unit"] == "m" and (qc.drop("M0003")["unit"] == "mm").all()
    ids = list(pd.read_csv(out.face_speakers).speaker_id)
    mine, theirs = np.load(out.registered), np.load(synthetic.registered)
    assert ids == list(pd.read_csv(synthetic.face_speakers).speaker_id)
    row = ids.index("M0003")
    assert np.abs(mine[row] - theirs[row]).max() < 0.05  # mm


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_a_scan_in_no_unit_is_refused_or_left_out(synthetic, tmp_path, on_error):
    root = tmp_path / "root"
    shutil.copytree(synthetic.synthetic, root, ignore=shutil.ignore_patterns("audio", "truth"))
    scan = trimesh.load(root / "scans" / "M0003.ply", process=False)
    scan.vertices = scan.vertices / 100.0  # decimetres: under 2 across, no face in any unit
    scan.export(root / "scans" / "M0003.ply")
    params = _params(tmp_path, root, on_error=on_error)
    if on_error == "fail":
        with pytest.raises(DatasetError, match=r"speaker M0003: scans/M0003.ply is 1\.\d+ units across .* in no unit"):
            run("landmarks", params, tmp_path)
    else:
        out = run("landmarks", params, tmp_path)
        skipped = pd.read_csv(out.skipped_faces)
        assert skipped.speaker_id.tolist() == ["M0003"] and "no unit" in skipped.reason.item()


def test_ams_stage_matches_the_library(synthetic):
    registered = torch.from_numpy(np.load(synthetic.registered).astype(np.float64))
    idx = torch.from_numpy(pd.read_csv(synthetic.landmark_vertices).vertex_index.to_numpy().copy())
    expected = measure(registered, idx, default_am_table()).numpy()
    assert np.allclose(pd.read_csv(synthetic.ams).iloc[:, 2:].to_numpy(), expected, atol=1e-4)


def _resampled(shapes: np.ndarray, source, target) -> np.ndarray:
    """Faces [N, T, 3] in `source`'s topology, sampled at the vertices of `target` (another
    template of the same face domain) by barycentric interpolation over `source`'s uv mesh."""
    from scipy.spatial import Delaunay

    from scipy.spatial import cKDTree

    mesh = Delaunay(source.uv)
    simplex = mesh.find_simplex(target.uv)
    transform_ = mesh.transform[simplex]
    bary = np.einsum("nij,nj->ni", transform_[:, :2], target.uv - transform_[:, 2])
    weights = np.column_stack([bary, 1 - bary.sum(axis=1)])
    corners = mesh.simplices[simplex]
    out = np.einsum("nk,bnkd->bnd", weights, shapes[:, corners])
    outside = simplex < 0  # outline points just beyond the source's hull: the nearest source vertex
    out[:, outside] = shapes[:, cKDTree(source.uv).query(target.uv[outside])[1]]
    return out


def test_a_faces_csv_root_in_another_topology_gets_its_landmarks_found(synthetic, tmp_path):
    """faces.csv in a 2,400-vertex topology, no landmark file: the landmarks are transferred from
    the 3,000-vertex template to the cohort's mean face, and the AMs measured on them agree
    with the true AMs."""
    from pipeline.face.template import build_template

    truth = synthetic.synthetic / "truth"
    shapes = np.load(truth / "shapes.npy").astype(np.float64)
    speakers = pd.read_csv(truth / "speakers.csv")
    other = build_template(2400)
    faces = _resampled(shapes, build_template(3000), other)
    root = tmp_path / "root"
    root.mkdir()
    write_faces_csv(root / "faces.csv", speakers.speaker_id.tolist(), faces)
    speakers.assign(audio="", scan="", landmarks="").to_csv(root / "manifest.csv", index=False)
    work = _geometry(_params(tmp_path, root), tmp_path / "work")
    transfer = pd.read_csv(work.landmark_transfer)
    assert set(transfer["source"]) == {"transfer"} and not transfer["flagged"].any()
    assert transfer["surface_mm"].max() < 1.0
    exact = (transfer["vertex_index"].to_numpy() == other.landmark_idx).mean()
    assert exact > 0.8, exact  # the 2,400-vertex template has a vertex at every landmark
    ams = pd.read_csv(work.ams).iloc[:, 2:].to_numpy()
    true = pd.read_csv(truth / "ams.csv").iloc[:, 2:].to_numpy()
    distances = [i for i, kind in enumerate(default_am_table().kind) if kind == "distance"]
    assert np.median(np.abs(ams - true)[:, distances]) < 0.5  # mm


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_an_annotation_the_scan_does_not_fit_is_refused_or_left_out(synthetic, tmp_path, on_error):
    """An annotation moved ANNOTATION_SHIFT_MM along the face, consistently, passes the landmark QC (nothing
    stands out within it), but the template cannot follow both it and the surface: the register
    QC refuses the face and says why."""
    root = tmp_path / "root"
    shutil.copytree(synthetic.synthetic, root, ignore=shutil.ignore_patterns("audio", "truth"))
    annotation = pd.read_csv(root / "landmarks" / "F0004.csv")
    annotation["y"] += ANNOTATION_SHIFT_MM
    annotation.to_csv(root / "landmarks" / "F0004.csv", index=False)
    params = _params(tmp_path, root, on_error=on_error)
    out = run("landmarks", params, tmp_path)
    if on_error == "fail":
        with pytest.raises(DatasetError, match="speaker F0004: scans/F0004.ply failed registration QC: "):
            run("register", params, tmp_path)
        assert not out.registered.exists()
    else:
        run("register", params, tmp_path)
        qc = pd.read_csv(out.register_qc).set_index("speaker_id")
        assert qc.loc["F0004", "flagged"] and "mm >" in qc.loc["F0004", "reason"]
        assert qc["flagged"].sum() == 1 and "F0004" not in set(pd.read_csv(out.face_speakers).speaker_id)


# --- landmark configurations that are not a face in the scheme (issue 31) ---------------------

def _faces_csv_root(synthetic, tmp_path: Path, faces: np.ndarray | None = None) -> Path:
    truth = synthetic.synthetic / "truth"
    speakers = pd.read_csv(truth / "speakers.csv")
    root = tmp_path / "root"
    root.mkdir()
    shapes = np.load(truth / "shapes.npy").astype(np.float64) if faces is None else faces[:len(speakers)]
    write_faces_csv(root / "faces.csv", speakers.speaker_id.tolist(), shapes)
    speakers.assign(audio="", scan="", landmarks="").to_csv(root / "manifest.csv", index=False)
    return root


@pytest.mark.parametrize("damage, message", [
    ("shuffled", r"faces\.csv: face\.landmark_vertices \(.*idx\.csv\) fails the placement check: the landmarks are "
                 r"not where the scheme puts them .* automatic landmark transfer"),
    ("out_of_range", r"faces\.csv: index check: faces have 3000 vertices \(0-2999\), but landmark vertex 3000 "
                     r"\(for sfv7\) is asked for"),
])
def test_faces_csv_with_wrong_landmark_vertices_is_refused(synthetic, tmp_path, damage, message):
    root = _faces_csv_root(synthetic, tmp_path)
    idx = pd.read_csv(synthetic.synthetic / "truth" / "template_landmarks.csv")
    if damage == "shuffled":
        idx["vertex_index"] = np.random.default_rng(0).permutation(idx["vertex_index"].to_numpy())
    else:
        idx.loc[6, "vertex_index"] = 3000
    idx.to_csv(tmp_path / "idx.csv", index=False)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({**SMALL, "data": {"root": str(root)},
                                      "face": {**SMALL["face"], "landmark_vertices": str(tmp_path / "idx.csv")}}))
    with pytest.raises(DatasetError, match=message):
        run("landmarks", params, tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_source_sized_faces_of_another_topology_get_their_landmarks_transferred(synthetic, tmp_path, shape_model,
                                                                              capsys):
    """sfv's own 6,790-vertex faces in faces.csv: the source's shipped landmark vertices fail the
    placement check on them (every AM was wrong, issue 31), so the landmarks are transferred."""
    rng = np.random.default_rng(3)
    faces = np.stack([shape_model.sample_face(rng, "MF"[i % 2])[1] for i in range(10)])
    root = _faces_csv_root(synthetic, tmp_path, faces)
    out = run("landmarks", _params(tmp_path, root), tmp_path / "work")
    assert "the shipped landmark vertices of the source's 6790-vertex topology fail the placement check" \
        in capsys.readouterr().err
    transfer = pd.read_csv(out.landmark_transfer)
    assert set(transfer["source"]) == {"transfer"}
    mean = faces.mean(axis=0)
    off = np.linalg.norm(mean[transfer["vertex_index"]] - mean[shape_model.template.landmark_idx], axis=1)
    assert np.median(off) < 3.0  # mm: the transfer finds sfv's own landmark vertices


@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_scrambled_annotations_are_refused_or_left_out(synthetic, tmp_path, on_error):
    """Rows scrambled the same way in every landmark file pass the cohort's landmark QC (they
    agree with one another); the placement check against the scheme refuses them."""
    root = tmp_path / "root"
    shutil.copytree(synthetic.synthetic, root, ignore=shutil.ignore_patterns("audio", "truth"))
    order = np.random.default_rng(2).permutation(65)
    scrambled = sorted((root / "landmarks").glob("*.csv")) if on_error == "fail" else [root / "landmarks" / "M0003.csv"]
    for path in scrambled:
        annotation = pd.read_csv(path)
        annotation[["x", "y", "z"]] = annotation[["x", "y", "z"]].to_numpy()[order]
        annotation.to_csv(path, index=False)
    params = _params(tmp_path, root, on_error=on_error)
    if on_error == "fail":
        with pytest.raises(DatasetError, match=r"speaker (M0001: landmarks/M0001|F0001: landmarks/F0001)\.csv fails the placement check: the "
                                               r"landmarks are not where the scheme puts them"):
            run("landmarks", params, tmp_path / "work")
        return
    out = run("landmarks", params, tmp_path / "work")
    skipped, qc = pd.read_csv(out.skipped_faces), pd.read_csv(out.landmarks_qc)
    assert "M0003" not in set(qc.speaker_id) and len(qc) == 9
    assert list(skipped.speaker_id) == ["M0003"] and skipped.reason.str.contains("placement check").all()
