"""The whole pipeline end to end on a tiny synthetic cohort: `dvc repro`, the metrics and plots
DVC shows, `sfv predict` against the pipeline's own reconstructions, the HTML report in
headless Chromium, and the README's experiment workflow."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile
import trimesh
import yaml
from test_synth_stage import PROJECT, SMALL

pytestmark = pytest.mark.e2e
CHROMIUM = Path("/usr/bin/chromium")
# What the end-to-end checks hold to (docs/testing.md and cli.md quote these).
PREDICT_ATOL_MM = 2e-3  # sfv predict's face against the pipeline's reconstruction of the same speaker
FOREIGN_RATE = 44_100  # the sample rate of the stereo recordings a user may bring
MIN_CANVAS_SHARE = 0.05  # the least share of its canvas each face of the report's viewer covers


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project with a tiny cohort, after `dvc repro`. The paper's test at a raised
    sfv.alpha, without FDR, lets two-repeat selections on 4 speakers still pick AMs, so the fit
    has something to follow (the permutation null is still computed and reported)."""
    work = tmp_path_factory.mktemp("e2e") / "project"
    shutil.copytree(PROJECT / "pipeline", work / "pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PROJECT / "dvc.yaml", work / "dvc.yaml")
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["synth"].update(SMALL["synth"])
    params["synth"]["speakers"] = {"male": 6, "female": 6}  # the splits stage needs 5 or more
    params["face"]["template_vertices"] = SMALL["synth"]["vertices"]
    params["sfv"].update({"repeats": 2, "iterations": 4, "eval_every": 2, "group_size": 2, "segment_s": [1.0, 1.5],
                          "batch_size": 8, "warmup_steps": 2, "alpha": 0.45, "test": "paper", "fdr": "none",
                          "evaluation_share": 0.34})  # two D_e speakers, so 1:2 matching has pairs
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(work), "GIT_AUTHOR_NAME": "sfv test", "GIT_AUTHOR_EMAIL": "test@sfv.invalid",
           "GIT_COMMITTER_NAME": "sfv test", "GIT_COMMITTER_EMAIL": "test@sfv.invalid"}

    def run(*cmd, check=True):
        done = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if check and done.returncode:
            pytest.fail(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return done

    run("git", "init", "-q")
    run(sys.executable, "-m", "dvc", "init", "-q")
    run(sys.executable, "-m", "dvc", "config", "core.analytics", "false")
    run(sys.executable, "-m", "dvc", "repro")
    return work, run


def dvc(run, *args):
    return run(sys.executable, "-m", "dvc", *args)


def test_repro_writes_every_stage_and_the_metrics_contract(project):
    work, run = project
    assert (work / "data/synthetic/manifest.csv").is_file()
    assert (work / "data/vad/segments.csv").is_file() and (work / "data/features/index.csv").is_file()
    assert (work / "reports/synth/faces.png").is_file() and (work / "reports/synth/voices.png").is_file()
    assert (work / "data/ams/ams.csv").is_file() and (work / "data/faces/registered.npy").is_file()
    geometry = json.loads((work / "reports/geometry.json").read_text())
    assert geometry["register"]["surface_distance_mm"] < 0.5
    for gender in ("male", "female"):
        predictions = pd.read_csv(work / f"data/predictions/{gender}.csv")
        assert set(predictions["repeat"]) == {1, 2} and predictions["am_id"].nunique() == 96
        assert len(list((work / f"models/estimators/{gender}").glob("repeat_*.npz"))) == 2
    plots = json.loads(dvc(run, "plots", "show", "--json").stdout)
    for key in ("reports/train", "reports/selection", "reports/evaluation", "reports/regression"):
        assert any(key in name for name in plots["data"]), (key, list(plots["data"]))
    assert "vertex_error_mm" in dvc(run, "metrics", "show", "--json").stdout
    contract = json.loads((work / "reports/metrics.json").read_text())
    detail = json.loads((work / "reports/evaluation.json").read_text())
    for gender in ("male", "female"):
        m = contract[gender]
        assert {"n_predictable", "n_predictable_paper", "n_predictable_corrected"} <= set(m["selection"])
        assert {"precision", "recall", "fpr"} <= set(m["truth"])
        assert {"vertex_error_mm", "vertex_error_mm_50", "gain_over_mean_face_mm", "gap_closed"} <= set(m["reconstruction"])
        gain = m["reconstruction"]["gain_over_mean_face_ci"]
        assert gain["low"] <= m["reconstruction"]["gain_over_mean_face_mm"] <= gain["high"]
        assert m["reconstruction"]["gain_over_mean_face_mm"] == pytest.approx(
            m["baseline"]["mean_face_mm"] - m["reconstruction"]["vertex_error_mm"])
        assert {"all_100", "all_75", "all_50", "all_100_sd", "predictable", "unpredictable_sd"} <= set(m["nmse"])
        assert "n_predictable_permutation" in m["selection"]  # the default estimator affords the exact test
        assert set(m["baseline"]) == {"mean_face_mm", "regression_mm", "oracle_ams_mm"}
        assert 0 <= m["matching_1v2"] <= 1 and 0 <= m["matching_1v2_ci"]["low"] <= m["matching_1v2_ci"]["high"] <= 1
        assert set(detail[gender]["are"]["sfv"]) == {"ER", "FR", "CR", "NR", "MR"}
        assert len(pd.read_csv(work / f"reports/selection/{gender}.csv")) == 96
        assert (work / f"models/eigenface/{gender}.npz").is_file()
        assert (work / f"reports/plots/error_map_{gender}.png").is_file()
        assert (work / f"reports/plots/predictable_ams_{gender}.png").is_file()
        assert (work / f"reports/plots/phonemes_{gender}.png").is_file()
        assert (work / f"reports/plots/phoneme_am_{gender}.png").is_file()
        phonemes = json.loads((work / f"reports/phonemes/{gender}.json").read_text())[gender]["phonemes"]
        assert phonemes["speakers_aligned"] == 6  # too few for splits with 10 D_t speakers: empty, with a note
        assert phonemes["n_phonemes"] == 0 and "note" in phonemes
        reconstructed = pd.read_csv(work / f"data/reconstructions/{gender}/speakers.csv", dtype={"speaker_id": str})
        assert len(reconstructed) >= 1 and (work / f"data/reconstructions/{gender}/{reconstructed.speaker_id[0]}.ply").is_file()
        assert len(pd.read_csv(work / f"data/regression/{gender}.csv")) == len(reconstructed)
    assert (work / "reports/index.html").is_file()
    second = dvc(run, "repro")
    assert "didn't change" in second.stdout or "skipping" in second.stdout.lower()
    assert "up to date" in dvc(run, "status").stdout.lower()


def _guided_speaker(work: Path) -> tuple[str, str]:
    """A D_e speaker of a gender whose fit some AMs guide (the test is void otherwise)."""
    for gender in ("female", "male"):
        guides = pd.read_csv(work / f"data/reconstructions/{gender}/guiding_ams.csv")["guides"].sum()
        if guides:
            speakers = pd.read_csv(work / f"data/reconstructions/{gender}/speakers.csv", dtype={"speaker_id": str})
            return gender, speakers["speaker_id"].iloc[0]
    pytest.fail("no gender has guiding AMs; raise sfv.alpha in the fixture")


def test_predict_reproduces_the_pipeline_reconstruction(project, tmp_path):
    work, run = project
    gender, speaker = _guided_speaker(work)
    voice = work / "data/synthetic/audio" / f"{speaker}.wav"
    second = work / "data/synthetic/audio" / f"{speaker}_2.wav"  # the pipeline used both recordings
    out, ams = tmp_path / "face.ply", tmp_path / "ams.json"
    done = run("sfv", "predict", str(voice), str(second), "--gender", gender, "--models", "models", "-o", str(out),
               "--json", str(ams))
    assert "guide the face" in done.stdout
    predicted = np.asarray(trimesh.load(out, process=False).vertices)
    pipeline = np.asarray(trimesh.load(work / f"data/reconstructions/{gender}/{speaker}.ply", process=False).vertices)
    mean_face = np.load(work / f"models/eigenface/{gender}.npz")["mean"]
    assert np.abs(pipeline - mean_face).max() > 0.01  # the fit moved the face: the comparison means something
    np.testing.assert_allclose(predicted, pipeline, atol=PREDICT_ATOL_MM)
    document = json.loads(ams.read_text())
    assert len(document["ams"]) == 96 and all(r["low"] <= r["value"] <= r["high"] for r in document["ams"])

    # The same voice at FOREIGN_RATE in stereo: read, resampled and mixed down, and it runs.
    audio, rate = soundfile.read(voice)
    stereo = tmp_path / "stereo.flac"
    resampled = librosa.resample(audio, orig_sr=rate, target_sr=FOREIGN_RATE)
    soundfile.write(stereo, np.stack([resampled, 0.8 * resampled], axis=1), FOREIGN_RATE)
    run("sfv", "predict", str(stereo), "--gender", gender, "--models", "models", "-o", str(tmp_path / "s.ply"))
    assert (tmp_path / "s.ply").is_file()


@pytest.mark.parametrize("case", ["missing model", "no speech", "unknown gender", "missing file"])
def test_predict_bad_inputs_fail_clearly_and_write_nothing(project, tmp_path, case):
    work, run = project
    voice = next((work / "data/synthetic/audio").glob("F*.wav"))
    silent = tmp_path / "silence.wav"
    soundfile.write(silent, np.zeros(16000 * 3), 16000)
    args = {"missing model": [str(voice), "--gender", "female", "--models", str(tmp_path / "nothing")],
            "no speech": [str(silent), "--gender", "female", "--models", "models"],
            "unknown gender": [str(voice), "--gender", "other", "--models", "models"],
            "missing file": [str(tmp_path / "absent.wav"), "--gender", "female", "--models", "models"]}[case]
    out = tmp_path / "face.ply"
    done = run("sfv", "predict", *args, "-o", str(out), "--json", str(tmp_path / "a.json"), check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    expected = {"missing model": "no trained estimators", "no speech": "no speech", "unknown gender": "invalid choice",
                "missing file": "does not exist"}[case]
    assert expected in done.stderr, done.stderr
    assert not out.exists() and not (tmp_path / "a.json").exists()


def test_report_opens_offline_in_headless_chromium(project):
    """No console errors, the 3D viewer drew both faces, and a screenshot under reports/."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    work, _ = project
    page_path = work / "reports/index.html"
    text = page_path.read_text()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # nothing to fetch
    shot = PROJECT / "reports/browser/report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: problems.append(f"request {r.url}") if not r.url.startswith(("file:", "data:")) else None)
        page.goto(page_path.as_uri())
        page.wait_for_selector("#sfv-viewer[data-ready=true]", timeout=20000)
        # The probe's own gl.readPixels can make SwiftShader log a "GPU stall" performance note:
        # the page's messages are those up to here.
        page_problems = list(problems)
        page.on("request", lambda r: page_problems.append(f"request {r.url}") if not r.url.startswith(("file:", "data:")) else None)
        coloured = page.evaluate("""() => Array.from(document.querySelectorAll('#sfv-viewer canvas')).map(c => {
            const gl = c.getContext('webgl');
            const px = new Uint8Array(c.width * c.height * 4);
            gl.readPixels(0, 0, c.width, c.height, gl.RGBA, gl.UNSIGNED_BYTE, px);
            let n = 0;
            for (let i = 0; i < px.length; i += 4) if (px[i] < 250 || px[i + 1] < 250 || px[i + 2] < 250) n++;
            return n / (c.width * c.height);
        })""")
        page.locator("#sfv-viewer").scroll_into_view_if_needed()
        page.screenshot(path=str(shot), full_page=False)
        browser.close()
    assert not page_problems, page_problems
    assert len(coloured) == 2 and min(coloured) > MIN_CANVAS_SHARE, coloured  # each face covers part of its canvas
    assert shot.stat().st_size > 10_000


def test_experiment_with_another_top_k_reruns_only_the_fit(project):
    """The README's workflow: `dvc exp run -S reconstruct.top_k=...`, then compare with dvc."""
    work, run = project
    run("git", "add", "-A")
    run("git", "commit", "-q", "-m", "baseline")
    experiment = dvc(run, "exp", "run", "-S", "reconstruct.top_k=1")
    ran = {line.split("'")[1] for line in experiment.stdout.splitlines() if line.startswith("Running stage")}
    # evaluate re-runs only if the guiding AMs changed; nothing upstream of the fit re-runs.
    after_fit = {"params", "reconstruct", "evaluate", "error_map@male", "error_map@female", "report"}  # params: any change
    assert {"reconstruct", "report"} <= ran <= after_fit, experiment.stdout
    assert "reconstruct.top_k" in dvc(run, "params", "diff").stdout
    json.loads(dvc(run, "metrics", "diff", "--json").stdout or "{}")


def test_editing_the_training_loop_leaves_features_and_faces_up_to_date(project):
    """The front end and the geometry import no estimator code, so `dvc status` after an edit
    of the CNN's training loop lists train (and what follows it) but not features, landmarks,
    register or ams."""
    work, run = project
    training = work / "pipeline" / "estimator" / "training.py"
    original = training.read_text()
    try:
        training.write_text(original + "\n# an edit\n")
        stale = dvc(run, "status").stdout
    finally:
        training.write_text(original)
    changed = {line.strip().rstrip(":") for line in stale.splitlines() if line and not line.startswith("\t")}
    assert "train" in changed, stale
    assert not changed & {"vad", "features", "landmarks", "register", "ams", "splits", "synth"}, stale


def _copy_project(work: Path, into: Path) -> Path:
    """The fixture's project, run and all (DVC cache and git included), for a run of its own."""
    shutil.copytree(work, into, symlinks=True)
    return into


def _own_root(project_dir: Path) -> tuple[Path, list[str]]:
    """A user's root inside the project, built from the tiny cohort without truth/: the first
    woman's audio as stereo FLAC at FOREIGN_RATE, the second's scan as OBJ, the third's scan
    without landmarks and without an alignment. Returns the root and those three speakers."""
    root = project_dir / "own"
    shutil.copytree(project_dir / "data/synthetic", root, ignore=shutil.ignore_patterns("truth"))
    manifest = pd.read_csv(root / "manifest.csv", dtype=str, keep_default_na=False)
    rows = manifest.index[manifest.gender == "F"][:3]
    first, second, third = manifest.loc[rows, "speaker_id"]
    wav = root / "audio" / f"{first}.wav"
    samples, rate = soundfile.read(wav)
    stereo = np.stack([librosa.resample(samples, orig_sr=rate, target_sr=FOREIGN_RATE)] * 2, axis=1)
    soundfile.write(root / "audio" / f"{first}.flac", stereo, FOREIGN_RATE)
    wav.unlink()
    scan = root / "scans" / f"{second}.ply"
    trimesh.load(scan, process=False).export(root / "scans" / f"{second}.obj")
    scan.unlink()
    manifest.loc[rows[0], "audio"] = f"audio/{first}.flac"
    alignment = pd.read_csv(root / "alignments" / f"{first}.csv")
    alignment = alignment[alignment.recording == f"audio/{first}.wav"]  # this speaker keeps one recording
    alignment.assign(recording=f"audio/{first}.flac").to_csv(root / "alignments" / f"{first}.csv", index=False)
    manifest.loc[rows[1], "scan"] = f"scans/{second}.obj"
    manifest.loc[rows[2], "landmarks"] = ""
    manifest.to_csv(root / "manifest.csv", index=False)
    (root / "alignments" / f"{third}.csv").unlink()
    return root, [first, second, third]


def test_a_users_own_root_runs_one_gender_end_to_end_without_truth(project, tmp_path):
    """docs/own-data.md's recipe (data.root set, `dvc repro report`) with `sfv.genders: [female]`: the
    synthetic cohort is not generated, every report says where it has no ground truth, and every
    stage writes the female outputs only. (One run for both: each is a whole `dvc repro`.)"""
    work, run = project
    copy = _copy_project(work, tmp_path / "project")
    _, (first, second, third) = _own_root(copy)
    shutil.rmtree(copy / "data/synthetic")  # as on a fresh clone: the cohort was never made here
    for stale in ("selection_male.png", "selection_male_all.png", "error_map_male.png"):
        (copy / "reports/plots" / stale).unlink()
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["data"]["root"] = "own"
    params["sfv"]["genders"] = ["female"]
    (copy / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(copy)}
    done = subprocess.run([sys.executable, "-m", "dvc", "repro", "report"], cwd=copy, env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "'synth'" not in done.stdout and not (copy / "data/synthetic").exists()
    assert "selection_plot@female" in done.stdout and "selection_plot@male" not in done.stdout
    segments = pd.read_csv(copy / "data/vad/segments.csv", dtype={"speaker_id": str})
    assert segments["speaker_id"].nunique() == 12
    geometry = json.loads((copy / "reports/geometry.json").read_text())
    assert geometry["ground_truth"] is False
    qc = pd.read_csv(copy / "data/faces/landmarks_qc.csv", dtype={"speaker_id": str}).set_index("speaker_id")
    assert qc.loc[third, "source"] == "automatic" and qc.loc[second, "source"] == "annotated"
    metrics = json.loads((copy / "reports/metrics.json").read_text())
    assert set(metrics) == {"female"} and "truth" not in metrics["female"]
    assert "r2" not in pd.read_csv(copy / "reports/selection/female.csv")
    assert metrics["female"]["reconstruction"]["vertex_error_mm"] > 0
    skipped = pd.concat([pd.read_csv(p, dtype=str) for p in (copy / "reports/phonemes").glob("*_skipped.csv")])
    assert skipped["speaker_id"].tolist() == [third] and "no alignment file" in skipped["reason"].iloc[0]
    assert (copy / "reports/plots/selection_female.png").is_file() and (copy / "reports/plots/error_map_female.png").is_file()
    assert not (copy / "reports/plots/selection_male.png").exists()
    assert not (copy / "data/predictions/male.csv").exists()
    page = (copy / "reports/index.html").read_text()
    assert "no ground truth" in page and "Phonemes" in page and "female" in page
    assert (work / "data/synthetic/manifest.csv").is_file()  # the shared project is untouched
