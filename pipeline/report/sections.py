"""The report's sections, each from data already loaded (the report stage reads the files)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .page import esc, paragraph, table

METHOD_NAMES = {"sfv": "SfV (voice → AMs → face)", "mean_face": "mean face", "regression": "voice → coefficients (CMP-style)",
                "oracle_ams": "oracle: true AMs, same fit"}


def dataset_section(manifest: pd.DataFrame, durations: pd.Series, speech: pd.Series, used: dict[str, set[str]],
                    skipped: pd.DataFrame) -> str:
    """Speakers per gender and how many reach each step; recording and speech lengths; who was
    skipped and why. `used` maps a step name to the speaker ids that have it."""
    rows = []
    for code, name in (("M", "male"), ("F", "female")):
        ids = manifest.loc[manifest["gender"] == code, "speaker_id"]
        if ids.empty:
            continue
        row = {"gender": name, "speakers": len(ids)}
        row.update({step: int(ids.isin(members).sum()) for step, members in used.items()})
        d, s = durations.reindex(ids).dropna(), speech.reindex(ids).dropna()
        row.update({"recorded s (mean)": float(d.mean()) if len(d) else np.nan,
                    "speech s (mean)": float(s.mean()) if len(s) else np.nan,
                    "speech s (min)": float(s.min()) if len(s) else np.nan})
        rows.append(row)
    parts = [table(pd.DataFrame(rows), 1, ("gender",))]
    if skipped.empty:
        parts.append(paragraph("No speaker was skipped."))
    else:
        parts.append(paragraph(f"{len(skipped)} speaker(s) skipped (data.on_error: skip):"))
        parts.append(table(skipped, text_columns=tuple(skipped.columns)))
    return "\n".join(parts)


def registration_section(register_qc: pd.DataFrame, landmarks_qc: pd.DataFrame, geometry: dict | None) -> str:
    flagged = register_qc[register_qc["flagged"].astype(str) == "True"]
    units = landmarks_qc["unit"].value_counts()
    parts = [paragraph(f"{len(register_qc)} faces registered; {len(flagged)} flagged by the register QC "
                       f"(coverage, distance to the scan, guide points, asymmetry, the search for the face, the "
                       f"cohort's shape model; each flagged face's reason below). Landmark QC: "
                       f"{int((landmarks_qc['flagged'] > 0).sum())} faces had annotated landmarks replaced; "
                       f"sources: {', '.join(f'{k} {v}' for k, v in landmarks_qc['source'].value_counts().items())}; "
                       f"scan units: {', '.join(f'{k} {v}' for k, v in units.items())}.")]
    checks = ["guides", "surface_distance_mm", "coverage", "landmark_fit_mm", "asymmetry_mm", "start_mm",
              "cohort_flagged"]
    summary = register_qc[checks].describe().loc[["mean", "min", "max"]]
    parts.append(table(summary.reset_index().rename(columns={"index": ""}), 3, ("",)))
    if len(flagged):
        parts.append(table(flagged[["speaker_id", "source", "reason"]], text_columns=("speaker_id", "source",
                                                                                    "reason")))
    if geometry:
        reg, lm = geometry["register"], geometry["landmarks"]
        parts.append(paragraph(
            f"Against the synthetic truth: registered vertices lie {reg['surface_distance_mm']:.2f} mm from the true "
            f"surface on average; per-vertex correspondence error {reg['vertex_error_mm']:.2f} mm; landmark QC caught "
            f"{100 * lm['mislabel_recall']:.1f} % of {lm['n_mislabelled']} planted mislabels and flagged "
            f"{100 * lm['false_flag_rate']:.2f} % of correct landmarks."))
    else:
        parts.append(paragraph("This root has no ground truth (no truth/ folder): registration is judged by its fit "
                               "to the scans alone."))
    return "\n".join(parts)


def selection_section(gender: str, selection: pd.DataFrame, metrics: dict) -> str:
    counts = metrics.get("selection", {})
    permutation = (f", permutation test {counts['n_predictable_permutation']}"
                   if "n_predictable_permutation" in counts else "")
    text = (f"{counts.get('n_predictable', 0)} AMs predictable under the configured test "
            f"(paper's test {counts.get('n_predictable_paper', 0)}, corrected test "
            f"{counts.get('n_predictable_corrected', 0)}{permutation}; {counts.get('n_repeats', '?')} repeats).")
    nmse = metrics.get("nmse")
    if nmse:
        show = lambda key: "–" if nmse.get(key) is None else f"{nmse[key]:.3f} ± {nmse[f'{key}_sd'] or 0:.3f}"  # noqa: E731
        text += (f" NMSE on D_v2 (the source's Tables 1 and 2): all AMs {show('all_100')}, on the 75 % / 50 % "
                 f"most certain speakers {show('all_75')} / {show('all_50')}; predictable AMs "
                 f"{show('predictable')}, unpredictable {show('unpredictable')}.")
    truth = metrics.get("truth")
    if truth:
        show = lambda v: "–" if v is None else f"{v:.2f}"  # noqa: E731
        text += (f" Against the synthetic oracle: precision {show(truth['precision'])}, recall "
                 f"{show(truth['recall'])}, false-positive rate {show(truth['fpr'])}.")
    else:
        text += " This root has no ground truth, so which AMs the voice truly carries is unknown here."
    columns = [c for c in ("am_id", "label", "kind", "mean_ratio", "ci_u", "p_value", "ci_u_corrected", "p_corrected",
                           "p_permutation", "z", "r2", "planted") if c in selection.columns]
    chosen = selection[selection["z"] == 1].sort_values("ci_u")[columns]
    body = table(chosen, 3, ("label", "kind")) if len(chosen) else paragraph("No AM is predictable.")
    return f"<h3>{esc(gender)}</h3>" + paragraph(text) + body


def reconstruction_section(metrics: dict, detail: dict, curves: dict[str, pd.DataFrame]) -> str:
    genders = [g for g in ("male", "female") if g in metrics and "reconstruction" in metrics[g]]
    rows = []
    for label, get in (("SfV, all of D_e", lambda m: m["reconstruction"]["vertex_error_mm"]),
                       ("SfV, 50 % most certain", lambda m: m["reconstruction"]["vertex_error_mm_50"]),
                       ("mean face", lambda m: m["baseline"]["mean_face_mm"]),
                       ("voice → coefficients regression", lambda m: m["baseline"]["regression_mm"]),
                       ("oracle: true AMs, same fit", lambda m: m["baseline"]["oracle_ams_mm"])):
        rows.append({"mean per-vertex error (mm)": label, **{g: get(metrics[g]) for g in genders}})
    def matching(m: dict) -> str:
        low, high, value = m["matching_1v2_ci"]["low"], m["matching_1v2_ci"]["high"], m["matching_1v2"]
        return "– (one D_e speaker)" if value is None else f"{value:.3f} [{low:.3f}, {high:.3f}]"
    rows.append({"mean per-vertex error (mm)": "1:2 matching, SfV (chance 0.5)",
                 **{g: matching(metrics[g]) for g in genders}})

    def gain(m: dict) -> str:
        r = m["reconstruction"]
        if "gain_over_mean_face_mm" not in r:
            return "–"
        closed = "" if r.get("gap_closed") is None else f"; {100 * r['gap_closed']:.0f} % of the gap to the oracle"
        return (f"{r['gain_over_mean_face_mm']:.3f} [{r['gain_over_mean_face_ci']['low']:.3f}, "
                f"{r['gain_over_mean_face_ci']['high']:.3f}]{closed}")
    rows.append({"mean per-vertex error (mm)": "mean face − SfV, paired by speaker [bootstrap interval]",
                 **{g: gain(metrics[g]) for g in genders}})
    parts = [table(pd.DataFrame(rows), 3, ("mean per-vertex error (mm)",))]
    for g in genders:
        regions = pd.DataFrame(detail[g]["region_mm"])[list(METHOD_NAMES)].rename(columns=METHOD_NAMES)
        are = pd.DataFrame(detail[g]["are"])[list(METHOD_NAMES)].rename(columns=METHOD_NAMES)
        parts += [f"<h3>{esc(g)}: by region (mm)</h3>", table(regions.reset_index().rename(columns={"index": "region"}),
                                                              2, ("region",)),
                  f"<h3>{esc(g)}: CMP absolute ratio errors</h3>",
                  table(are.reset_index().rename(columns={"index": "ratio"}), 4, ("ratio",)),
                  f"<h3>{esc(g)}: speakers dropped by SfV's uncertainty</h3>", table(curves[g], 3)]
    return "\n".join(parts)


def phonemes_section(gender: str, phonemes: pd.DataFrame, metrics: dict) -> str:
    """The phoneme analysis of one gender: the ranking, and against the truth where it is known."""
    head = f"<h3>{esc(gender)}</h3>"
    if phonemes.empty:
        return head + paragraph(f"No phoneme analysis: {metrics.get('note', 'no unit analysed')}.", note=True)
    columns = ["phoneme", "n_speakers", "n_instances", "seconds", "mean_1_minus_ci_u"]
    ranking = (phonemes[columns].drop_duplicates("phoneme")
               .sort_values("mean_1_minus_ci_u", ascending=False, kind="stable"))
    text = paragraph(f"{len(ranking)} units analysed ({metrics.get('speakers_aligned', '?')} of "
                     f"{metrics.get('speakers', '?')} speakers aligned); best {metrics.get('best')}, "
                     f"worst {metrics.get('worst')}.")
    truth = metrics.get("truth")
    if truth:
        text += paragraph(f"Against the planted link: mean 1 - CI_u on the {truth['nose_planted_ams']} planted nose "
                          f"AMs {_fmt(truth['nose_from_nasal'])} from nasal units and "
                          f"{_fmt(truth['nose_from_plosive'])} from plosives; the best unit on the eye and "
                          f"brow AMs (none planted) reaches {_fmt(truth['eyes_brows_best_unit'])}.")
    else:
        text += paragraph("No ground truth on this root: the analysis cannot be checked against a planted link.",
                          note=True)
    return head + text + table(ranking, text_columns=("phoneme",))


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
