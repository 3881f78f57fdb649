"""Selection: error ratios, the source's test, the corrected test, BH, the table and the stage."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.errors import ParamsError
from pipeline.face.ams import default_am_table
from pipeline.selection.ratios import error_ratios
from pipeline.selection.significance import benjamini_hochberg, corrected_test, decide, paper_test
from pipeline.selection.table import SelectionSettings, nmse_summary, selection_table, truth_scores
from pipeline.stages import run_stage
from presets import DEFAULTS, ROOT, params_with, paths_under

RATIOS = np.array([[0.80, 0.90, 0.85, 0.95, 0.70],   # clearly below 1
                   [1.10, 0.90, 1.00, 1.05, 0.95],   # around 1
                   [0.97, 0.99, 0.98, 0.96, 0.99]])  # slightly below 1, small spread


def test_paper_test_matches_hand_computation_and_scipy():
    result = paper_test(RATIOS, alpha=0.05)
    n = RATIOS.shape[1]
    mean, sd = RATIOS.mean(1), RATIOS.std(1, ddof=1)
    np.testing.assert_allclose(result.ci_u, mean + stats.t.ppf(0.95, n - 1) * sd / np.sqrt(n))
    # Hand value for the first AM: mean 0.84, sd 0.0962, t_0.95,4 = 2.1318
    assert result.ci_u[0] == pytest.approx(0.84 + 2.131847 * 0.0961769 / np.sqrt(5), abs=1e-5)
    expected_p = [stats.ttest_1samp(r, 1.0, alternative="less").pvalue for r in RATIOS]
    np.testing.assert_allclose(result.p_value, expected_p)
    # CI_u < 1 exactly when p < alpha.
    assert ((result.ci_u < 1) == (result.p_value < 0.05)).all()


def test_corrected_test_widens_the_interval_by_the_nadeau_bengio_factor():
    n = RATIOS.shape[1]
    paper = paper_test(RATIOS, 0.05)
    corrected = corrected_test(RATIOS, 0.05, n_test=6, n_train=42)
    factor = np.sqrt((1 / n + 6 / 42) / (1 / n))
    np.testing.assert_allclose(corrected.ci_u - corrected.mean, (paper.ci_u - paper.mean) * factor)
    t = (RATIOS.mean(1) - 1) / (RATIOS.std(1, ddof=1) * np.sqrt(1 / n + 6 / 42))
    np.testing.assert_allclose(corrected.p_value, stats.t.cdf(t, n - 1))
    assert (corrected.p_value >= paper.p_value).all()


def test_benjamini_hochberg_by_hand_and_the_decision():
    p = np.array([0.01, 0.04, 0.03, 0.20])
    # sorted 0.01, 0.03, 0.04, 0.20 -> p * m / rank = 0.04, 0.06, 0.0533, 0.20 -> monotone from the top
    np.testing.assert_allclose(benjamini_hochberg(p), [0.04, 0.0533333, 0.0533333, 0.20], rtol=1e-5)
    z, _ = decide(p, 0.05, "none")
    assert z.tolist() == [1, 1, 1, 0]
    z, adjusted = decide(p, 0.05, "bh")
    assert z.tolist() == [1, 0, 0, 0] and adjusted[0] == pytest.approx(0.04)


def _predictions(n_repeats=4, n_v2=8, n_ams=3, seed=0) -> pd.DataFrame:
    """AM 1 predicted well, AM 2 by chance (0), AM 3 badly; D_v1 and D_e rows that must be ignored."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(1, n_repeats + 1):
        for split, n in (("v1", 3), ("v2", n_v2), ("e", 2)):
            for s in range(n):
                target = rng.standard_normal(n_ams)
                guess = np.array([0.5 * target[0], 0.0, -target[2]])[:n_ams]
                for k in range(n_ams):
                    rows.append((r, split, f"{split}{s}", k + 1, guess[k], 1.0 + s, target[k]))
    return pd.DataFrame(rows, columns=["repeat", "split", "speaker_id", "am_id", "mean_z", "var_z", "target_z"])


def test_error_ratios_on_d_v2_and_filtering_by_uncertainty():
    predictions = _predictions()
    ratios = error_ratios(predictions)
    v2 = predictions[(predictions.split == "v2") & (predictions.repeat == 2) & (predictions.am_id == 1)]
    expected = ((v2.mean_z - v2.target_z) ** 2).mean() / (v2.target_z ** 2).mean()
    row = ratios[(ratios.repeat == 2) & (ratios.am_id == 1)].iloc[0]
    assert row.ratio == pytest.approx(expected) and row.n == 8
    assert ratios[ratios.am_id == 2]["ratio"].eq(1.0).all()  # predicting the D_t mean is chance
    # 50 %: the four v2 speakers with the lowest var_z (v2_0..v2_3), per AM and repeat.
    half = error_ratios(predictions, 0.5)
    assert half["n"].eq(4).all()
    kept = v2[v2.var_z <= 4.0]
    assert half[(half.repeat == 2) & (half.am_id == 1)].ratio.iloc[0] == pytest.approx(
        ((kept.mean_z - kept.target_z) ** 2).mean() / (kept.target_z ** 2).mean())
    assert error_ratios(predictions, 0.75)["n"].eq(6).all()


def test_selection_table_is_complete_and_decides():
    predictions = _predictions()
    table = selection_table(predictions, np.array([1, 2, 3]), ["a", "b", "c"], ["distance"] * 3, 8, 56,
                            SelectionSettings(0.05, "paper", "none"))
    expected = ["am_id", "label", "kind", "n", "mean_ratio", "sd", "ci_u", "p_value", "ci_u_corrected",
                "p_corrected", "p_bh", "z", "z_paper", "z_corrected", "mean_ratio_75", "ci_u_75", "z_75",
                "mean_ratio_50", "ci_u_50", "z_50"]
    assert list(table.columns) == expected
    assert table["z"].tolist() == [1, 0, 0] and table["n"].eq(4).all()
    assert truth_scores(np.array([1, 0, 1, 0]), np.array([1, 1, 0, 0])) == {
        "precision": 0.5, "recall": 0.5, "fpr": 0.5, "n_planted": 2, "n_selected": 2}


def test_nmse_tables_against_a_hand_computation():
    """Tables 1 and 2, eps and eps^C on two repeats, two AMs and four D_v2 speakers, worked by
    hand; the variances make the 75 % and 50 % subsets other speakers than all and than the
    first rows of the table."""
    # (mean_z, var_z, target_z) of speakers s0..s3, per repeat and AM
    values = {
        1: {1: ([1, 0, 0, 0], [1, 2, 3, 4], [1, 1, 2, 2]),
            2: ([0, 0, 0, 0], [4, 3, 2, 1], [2, 2, 1, -1])},
        2: {1: ([2, 0, 1, 0], [2, 1, 4, 3], [2, 1, 1, 2]),
            2: ([1, -1, 0, 0], [1, 2, 4, 3], [1, -1, 2, 3])},
    }
    rows = [(r, "v2", f"s{i}", am, float(mean[i]), float(var[i]), float(target[i]))
            for r, ams in values.items() for am, (mean, var, target) in ams.items() for i in range(4)]
    rows.append((1, "v1", "x", 1, 9.0, 0.1, -9.0))  # D_v1 is not scored
    predictions = pd.DataFrame(rows, columns=["repeat", "split", "speaker_id", "am_id", "mean_z", "var_z", "target_z"])
    nmse = nmse_summary(predictions, np.array([1, 2]), np.array([True, False]))
    # Squared errors / squared targets, and what each subset keeps (by var_z):
    # r1 AM1: errors 0,1,4,4 / 1,1,4,4; 75 % s0,s1,s2; 50 % s0,s1
    #   eps 9/4, 5/3, 1/2; eps^C 5/2, 2, 1; ratio 0.9, 5/6, 1/2
    # r1 AM2 (predicts 0): errors = targets 4,4,1,1; 75 % s3,s2,s1; 50 % s3,s2
    #   eps = eps^C 5/2, 2, 1; ratio 1
    # r2 AM1: errors 0,1,0,4 / 4,1,1,4; 75 % s1,s0,s3; 50 % s1,s0
    #   eps 5/4, 5/3, 1/2; eps^C 5/2, 3, 5/2; ratio 1/2, 5/9, 1/5
    # r2 AM2: errors 0,0,4,9 / 1,1,4,9; 75 % s0,s1,s3; 50 % s0,s1
    #   eps 13/4, 3, 0; eps^C 15/4, 11/3, 1; ratio 13/15, 9/11, 0
    per_repeat = {  # mean over the two AMs, repeat 1 and repeat 2
        "all_100": [(0.9 + 1) / 2, (1 / 2 + 13 / 15) / 2], "all_75": [(5 / 6 + 1) / 2, (5 / 9 + 9 / 11) / 2],
        "all_50": [(1 / 2 + 1) / 2, (1 / 5 + 0) / 2],
        "error_100": [(9 / 4 + 5 / 2) / 2, (5 / 4 + 13 / 4) / 2], "error_75": [(5 / 3 + 2) / 2, (5 / 3 + 3) / 2],
        "error_50": [(1 / 2 + 1) / 2, (1 / 2 + 0) / 2],
        "chance_100": [(5 / 2 + 5 / 2) / 2, (5 / 2 + 15 / 4) / 2], "chance_75": [(2 + 2) / 2, (3 + 11 / 3) / 2],
        "chance_50": [(1 + 1) / 2, (5 / 2 + 1) / 2],
        "predictable": [0.9, 1 / 2], "unpredictable": [1, 13 / 15],
    }
    assert set(nmse) == {f"{key}{sd}" for key in per_repeat for sd in ("", "_sd")}
    for key, (first, second) in per_repeat.items():
        assert nmse[key] == pytest.approx((first + second) / 2), key
        assert nmse[f"{key}_sd"] == pytest.approx(abs(first - second) / np.sqrt(2)), key
    assert nmse["all_50"] == pytest.approx(0.425) and nmse["all_100"] == pytest.approx(49 / 60)
    assert nmse["error_50"] == pytest.approx(0.5) and nmse["chance_50"] == pytest.approx(1.375)
    nothing = nmse_summary(predictions, np.array([1, 2]), np.array([False, False]))
    assert nothing["predictable"] is None and nothing["predictable_sd"] is None
    assert nothing["unpredictable"] == pytest.approx(nmse["all_100"])


def test_certain_speakers_script_on_a_tiny_table():
    """scripts/certain_speakers.py: eps, eps^C, typicality and rank correlations by hand, on one AM,
    two repeats and four D_v2 speakers; repeat 2's variance does not vary, so its 50 % is the
    first two rows and it stays out of the correlations."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("certain_speakers", ROOT / "scripts" / "certain_speakers.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    rows = [(1, "v2", f"s{i}", 1, m, v, t) for i, (m, v, t) in
            enumerate([(0.5, 1, 0.5), (0.0, 2, 1.0), (1.0, 3, 2.0), (0.0, 4, -3.0)])]
    rows += [(2, "v2", f"s{i}", 1, m, 2.0, t) for i, (m, t) in enumerate([(0, 1), (0, -1), (0, 2), (1, 0)])]
    rows.append((1, "v1", "x", 1, 5.0, 0.1, -5.0))
    predictions = pd.DataFrame(rows, columns=["repeat", "split", "speaker_id", "am_id", "mean_z", "var_z", "target_z"])
    summary = script.summarise(predictions, draws=20, seed=0)
    half = summary["subsets"]["50"]
    # r1 keeps s0, s1: errors 0, 1 / targets^2 0.25, 1; r2 keeps s0, s1: errors 1, 1 / 1, 1.
    assert half["speakers_per_am"] == 2
    assert half["error"] == pytest.approx(0.75) and half["chance"] == pytest.approx(0.8125)
    assert half["error_over_chance"] == pytest.approx(0.75 / 0.8125)
    assert half["mean_ratio"] == pytest.approx((0.5 / 0.625 + 1) / 2)
    assert half["mean_abs_target"] == pytest.approx(0.875) and half["mean_abs_prediction"] == pytest.approx(0.125)
    whole = summary["subsets"]["100"]
    assert whole["error"] == pytest.approx((11 / 4 + 7 / 4) / 2) and "random_mean_ratio" not in whole
    assert 0 <= half["random_mean_ratio"] <= 2 and half["random_mean_ratio_sd"] > 0
    # Random halves keep every speaker equally often, so eps and eps^C keep their means on average.
    assert half["random_error"] == pytest.approx(whole["error"], rel=0.25)
    assert half["random_chance"] == pytest.approx(whole["chance"], rel=0.25)
    assert half["random_error_sd"] > 0 and half["random_error_over_chance_sd"] > 0
    certainty = summary["certainty"]
    assert certainty["repeats_with_constant_variance"] == [2]
    assert certainty["n_repeats"] == 2 and certainty["n_repeats_with_constant_variance"] == 1
    # r1: var ranks 1..4; targets^2 0.25, 1, 4, 9 rank alike; errors 0, 1, 1, 9 rank 1, 2.5, 2.5, 4;
    # predictions^2 0.25, 0, 1, 0 rank 3, 1.5, 4, 1.5.
    assert certainty["rho_variance_squared_target"] == pytest.approx(1.0)
    assert certainty["rho_variance_squared_error"] == pytest.approx(4.5 / np.sqrt(5 * 4.5))
    assert certainty["rho_speaker_variance_face_distance"] == pytest.approx(1.0)
    assert certainty["rho_speaker_variance_prediction_distance"] == pytest.approx(-1 / np.sqrt(5 * 4.5))


def test_select_stage_writes_all_ams_plots_and_metrics(tmp_path):
    table = default_am_table()
    root = tmp_path / "root"
    (root / "truth").mkdir(parents=True)
    planted = (np.arange(len(table)) < 30).astype(int)
    pd.DataFrame({"am_id": table.am_id, "r2": planted * 0.2, "planted": planted, "r2_male": planted * 0.2,
                  "planted_male": planted, "r2_female": planted * 0.2, "planted_female": planted}).to_csv(
        root / "truth" / "oracle.csv", index=False)
    rng = np.random.default_rng(1)
    predictions, splits = [], []
    for r in range(1, 6):
        for s in range(10):
            target = rng.standard_normal(len(table))
            guess = np.where(planted == 1, 0.7 * target, 0.0) + 0.1 * rng.standard_normal(len(table))
            predictions.append(pd.DataFrame({"repeat": r, "split": "v2", "speaker_id": f"s{s}", "am_id": table.am_id,
                                             "mean_z": guess, "var_z": 1.0, "target_z": target}))
        splits += [(r, f"s{s}", "v2") for s in range(10)] + [(r, f"t{s}", "t") for s in range(70)]
    paths = paths_under(tmp_path)
    paths.predictions.mkdir(parents=True)
    paths.splits.mkdir(parents=True)
    pd.concat(predictions).to_csv(paths.predictions / "male.csv", index=False)
    # The permutation table: the observed mean ratios, and 99 shufflings scattered about 1.
    observed = error_ratios(pd.concat(predictions)).groupby("am_id")["ratio"].mean().loc[table.am_id].to_numpy()
    shuffled = 1.0 + 0.05 * rng.standard_normal((99, len(table)))
    values = np.vstack([observed, shuffled])
    pd.DataFrame({"permutation": np.repeat(np.arange(100), len(table)), "am_id": np.tile(table.am_id, 100),
                  "mean_ratio": values.ravel()}).to_csv(paths.predictions / "male_permutations.csv", index=False)
    pd.DataFrame(splits, columns=["repeat", "speaker_id", "split"]).to_csv(paths.splits / "male.csv", index=False)
    params = params_with(data={"root": str(root)}, sfv={"genders": ["male"]})
    run_stage("select", None, params, paths)
    # Fig. 5 draws on the eigenface mean in the registered topology.
    from pipeline.face.io import write_mesh
    from pipeline.face.template import build_template
    from pipeline.reconstruction.eigenface import Eigenface
    template = build_template(2000)
    write_mesh(paths.template, template.vertices, template.faces)
    pd.DataFrame({"landmark": np.arange(1, 66), "vertex_index": template.landmark_idx}).to_csv(
        paths.landmark_vertices, index=False)
    Eigenface(template.vertices, np.zeros((1, template.vertices.size)), np.ones(1)).save(paths.eigenface / "male.npz")
    run_stage("selection_plot", "male", params, paths)
    selection = pd.read_csv(paths.selection / "male.csv")
    assert len(selection) == 96 and selection["am_id"].tolist() == table.am_id.tolist()
    assert {"r2", "planted"} <= set(selection.columns)
    metrics = json.loads(paths.selection_metrics.read_text())["male"]
    assert set(metrics["selection"]) >= {"n_predictable", "n_predictable_paper", "n_predictable_corrected",
                                         "n_predictable_permutation"}
    # The configured test is the permutation test with BH: the planted AMs beat every shuffling.
    assert selection.loc[planted == 1, "p_permutation"].eq(0.01).all()
    from statsmodels.stats.multitest import multipletests
    bh = multipletests(selection["p_permutation"], method="fdr_bh")[1]
    np.testing.assert_allclose(selection["p_bh"], bh, rtol=1e-5)  # the table keeps 6 significant digits
    assert selection["z"].tolist() == (bh < 0.05).astype(int).tolist()
    assert selection.loc[planted == 1, "z"].eq(1).all()
    nmse = metrics["nmse"]
    assert set(nmse) == {f"{k}{s}" for k in ("all_100", "all_75", "all_50", "error_100", "error_75", "error_50",
                                             "chance_100", "chance_75", "chance_50", "predictable", "unpredictable")
                         for s in ("", "_sd")}
    assert nmse["predictable"] < 0.3 < 0.9 < nmse["unpredictable"]
    assert set(metrics["truth"]) >= {"precision", "recall", "fpr"}
    assert metrics["truth"]["recall"] > 0.9 and metrics["truth"]["fpr"] < 0.2
    assert (paths.plots / "selection_male.png").stat().st_size > 10_000
    assert (paths.plots / "selection_male_all.png").is_file()
    assert (paths.plots / "predictable_ams_male.png").stat().st_size > 10_000
    with pytest.raises(ParamsError, match="gender female is not in sfv.genders"):
        run_stage("selection_plot", "female", params, paths)


def test_the_params_stage_refuses_too_few_shufflings_to_declare_a_lone_am(tmp_path):
    """BH over the 96 AMs declares a lone AM only at p <= 0.05/96: with B shufflings p >= 1/(1 + B),
    so the permutation test needs B >= 1919; without FDR it needs 19, and a 10-AM table 199."""
    from pipeline.selection.significance import smallest_needed_permutations
    assert smallest_needed_permutations(0.05, "bh", 96) == 1919
    assert smallest_needed_permutations(0.05, "none", 96) == 19
    assert (1 + 1919) * 0.05 / 96 >= 1 > (1 + 1918) * 0.05 / 96
    assert DEFAULTS.sfv.permutations >= 1919
    with pytest.raises(ParamsError, match="sfv.permutations: 1000 shufflings .* use at least 1919"):
        run_stage("params", None, params_with(sfv={"permutations": 1000}), paths_under(tmp_path))
    assert not paths_under(tmp_path).params_report.exists()
    run_stage("params", None, params_with(sfv={"permutations": 1000, "fdr": "none"}), paths_under(tmp_path))
    short = tmp_path / "ams_10.csv"
    pd.read_csv(ROOT / "pipeline" / "data" / "ams_96.csv").head(10).to_csv(short, index=False)
    run_stage("params", None, params_with(face={"ams": str(short)}, sfv={"permutations": 199}), paths_under(tmp_path))
    with pytest.raises(ParamsError, match="use at least 199"):
        run_stage("params", None, params_with(face={"ams": str(short)}, sfv={"permutations": 198}),
                  paths_under(tmp_path))
