"""Results pages: quoted values and tables rendered from their files, and the audit of figures."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.pages.audit import PAGE_NAMED, unsourced
from pipeline.pages.markers import format_value, render
from pipeline.pages.render import check, pages, write
from pipeline.pages.tables import render_tables
from pipeline.pages.values import SourceError, clear_cache, resolve

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def sources(tmp_path):
    clear_cache()
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "m.json").write_text(json.dumps(
        {"male": {"nmse": {"all_100": 0.90612, "all_50": 0.93}, "n": 48, "r2>=0.5": {"recall": 0.91}},
         "runs": [{"s": 304.2}], "missing": None}))
    pd.DataFrame({"am_id": [1, 2, 3, 4], "label": ["a", "b", "c", "d"], "mean_ratio": [0.5, 0.7, 1.0, 1.1],
                  "r2": [0.6, 0.5, 0.1, float("nan")], "z": [1, 1, 0, 1]}).to_csv(tmp_path / "reports" / "s.csv",
                                                                                 index=False)
    (tmp_path / "params.yaml").write_text("synth:\n  speakers:\n    male: 150\n    female: 150\n")
    yield tmp_path
    clear_cache()


def test_json_yaml_paths_and_arithmetic(sources):
    assert resolve(sources, "reports/m.json", "male.nmse.all_100") == 0.90612
    assert resolve(sources, "reports/m.json", 'male["r2>=0.5"].recall') == 0.91
    assert resolve(sources, "reports/m.json", "runs[0].s / 60") == pytest.approx(5.07)
    assert resolve(sources, "reports/m.json", "male.nmse.all_50 - male.nmse.all_100") == pytest.approx(0.02388)
    assert resolve(sources, "params.yaml", "synth.speakers.male + synth.speakers.female") == 300
    for expression, message in [("male.nmse.all_75", "no key 'all_75'"), ("male.nmse", "not a single value"),
                                ("missing", "null"), ("__import__('os')", "unsupported")]:
        with pytest.raises(SourceError, match=message):
            resolve(sources, "reports/m.json", expression)
    with pytest.raises(SourceError, match="no such file"):
        resolve(sources, "reports/none.json", "a")


def test_module_constants_are_read_without_importing(sources):
    (sources / "mod.py").write_text('import os\nPLANTED = 0.05  # note\nBINS: tuple = (0.05, 0.3)\n'
                                    'X = os.getcwd()\nLINK = {"nose": {"w": -0.6}}\n')
    assert resolve(sources, "mod.py", "PLANTED") == 0.05
    assert resolve(sources, "mod.py", "BINS[1] * 2") == 0.6
    assert resolve(sources, "mod.py", "LINK.nose.w") == -0.6
    with pytest.raises(SourceError, match="no key 'X'"):  # not a literal: never evaluated
        resolve(sources, "mod.py", "X")


def test_csv_aggregates_with_conditions(sources):
    assert resolve(sources, "reports/s.csv", "mean(mean_ratio, r2 >= 0.5)") == pytest.approx(0.6)
    assert resolve(sources, "reports/s.csv", "count(z == 1)") == 3
    assert resolve(sources, "reports/s.csv", "count((z == 1) & (r2 < 0.6))") == 1  # NaN is not < 0.6
    with pytest.raises(SourceError, match="parenthesise"):
        resolve(sources, "reports/s.csv", "count(z == 1 & r2 < 0.6)")
    assert resolve(sources, "reports/s.csv", "share(mean_ratio < 1)") == 0.5
    assert resolve(sources, "reports/s.csv", "value(label, am_id == 3)") == "c"
    assert resolve(sources, "reports/s.csv", "max(mean_ratio) - min(mean_ratio)") == pytest.approx(0.6)
    assert resolve(sources, "reports/s.csv", "sd(mean_ratio)") == pytest.approx(pd.Series([0.5, 0.7, 1, 1.1]).std())
    with pytest.raises(SourceError, match="exactly one row"):
        resolve(sources, "reports/s.csv", "value(label, z == 1)")
    with pytest.raises(SourceError, match="no column 'ratio'"):
        resolve(sources, "reports/s.csv", "mean(ratio)")
    with pytest.raises(SourceError, match="through an aggregate"):
        resolve(sources, "reports/s.csv", "mean_ratio")


@pytest.mark.parametrize("value, fmt, text", [
    (0.90612, ".3f", "0.906"), (0.3312, ".0%", "33 %"), (-0.0031, ".3f", "−0.003"), (1000, ",d", "1,000"),
    (304.2, "dur", "5 min 4 s"), (42.4, "dur", "42 s"), (3725, "dur", "1 h 2 min"), (48, "", "48"),
    (0.5, "", "0.5"), ("15-19", "", "15-19"), (0.0123, "+.3f", "+0.012")])
def test_formats(value, fmt, text):
    assert format_value(value, fmt) == text


def test_quoted_values_are_rewritten_and_bad_quotes_reported(sources):
    page = ("| male | <!--v reports/m.json male.nmse.all_100:.3f-->0.9<!--/v--> |\n"
            "declared <!--v reports/m.json male.n-->50<!--/v--> of 96 AMs, "
            "<!--v reports/s.csv value(label, am_id == 4)-->x<!--/v-->\n"
            "<!--v reports/m.json male.none:.2f-->1.00<!--/v-->\n")
    text, problems = render(page, sources, "p.md")
    assert text.splitlines()[:2] == ["| male | <!--v reports/m.json male.nmse.all_100:.3f-->0.906<!--/v--> |",
                                     "declared <!--v reports/m.json male.n-->48<!--/v--> of 96 AMs, "
                                     "<!--v reports/s.csv value(label, am_id == 4)-->d<!--/v-->"]
    assert len(problems) == 1 and problems[0].line == 3 and "no key 'none'" in problems[0].message
    assert text.splitlines()[2] == page.splitlines()[2]  # left as it was
    example = "Write `<!--v reports/m.json male.n-->1<!--/v-->`:\n```\n<!--v FILE x-->y<!--/v-->\n```\n"
    assert render(example, sources, "p.md") == (example, [])


@pytest.mark.parametrize("name, text", [("broken.py", "LIMIT = 0.7\n<<<<<<< HEAD\n"),
                                         ("broken.json", '{"n": 4'), ("broken.yaml", "a: [1, 2\n")])
def test_a_source_that_does_not_parse_is_a_problem_not_a_crash(sources, name, text):
    (sources / name).write_text(text)
    expression = "LIMIT" if name.endswith(".py") else "n"
    page = f"bound <!--v {name} {expression}-->0.7<!--/v-->\n"
    rendered_text, problems = render(page, sources, "p.md")
    assert rendered_text == page and len(problems) == 1 and "cannot read it" in problems[0].message


def test_tables_are_rendered_from_a_csv(sources):
    page = ("before\n<!--table reports/s.csv | am_id as AM | label | mean_ratio:.2f as ratio | r2:.1f | where z == 1-->\n"
            "| stale |\n<!--/table-->\nafter\n")
    text, problems = render_tables(page, sources, "p.md")
    assert not problems
    assert text == ("before\n<!--table reports/s.csv | am_id as AM | label | mean_ratio:.2f as ratio | r2:.1f "
                    "| where z == 1-->\n| AM | label | ratio | r2 |\n|---:|---|---:|---:|\n| 1 | a | 0.50 | 0.6 |\n"
                    "| 2 | b | 0.70 | 0.5 |\n| 4 | d | 1.10 | — |\n<!--/table-->\nafter\n")
    assert render_tables(text, sources, "p.md")[0] == text


def test_the_audit_finds_figures_and_passes_names_code_and_quotes(monkeypatch):
    page = "\n".join([
        "The error fell to 2.1 mm (33 %), 1 of 48 AMs, after 5 min with 300 speakers and 1,000 shufflings.",
        "Fig. 5 and Table 2 of the source, the 96 AMs on 65 landmarks, iBUG-68, 1:2 matching, 3D scans, in 2023.",
        "Run `sfv power --speakers 150` or <!--v r.json a:.2f-->0.50<!--/v--> [link](docs/x_0.5.md).",
        "| gender | declared | ratio |", "|---|---:|---:|", "| male | 48 | 0.77 / 0.91 |",
        "| 11-18 | eye rings | 11 exocanthion |",
        "```", "x = 0.25", "```"])
    found = [(f.line, f.text) for f in unsourced(page, "p.md")]
    assert found == [(1, "2.1"), (1, "33"), (1, "1"), (1, "48"), (1, "5"), (1, "300"), (1, "1,000"),
                     (6, "48"), (6, "0.77"), (6, "0.91"), (7, "11"), (7, "18")]
    # A page names its own numbers (landmark ranges here) in PAGE_NAMED.
    monkeypatch.setitem(PAGE_NAMED, "p.md", [r"(?m:^\| \d+-\d+ \|)"])
    assert [(f.line, f.text) for f in unsourced(page, "p.md")][-2:] == [(6, "0.77"), (6, "0.91")]


def test_write_renders_in_place_and_check_lists_what_differs(sources):
    (sources / "docs").mkdir()
    (sources / "README.md").write_text("NMSE <!--v reports/m.json male.nmse.all_100:.3f-->0.900<!--/v-->.\n")
    (sources / "docs" / "a.md").write_text("Men: <!--v reports/m.json male.n-->48<!--/v--> AMs, 2.5 mm.\n")
    assert pages(sources) == ["README.md", "docs/a.md"]
    problems = [str(p) for p in check(sources)]
    assert len(problems) == 2 and "'0.906'" in problems[0] and "'2.5' without a source" in problems[1]
    assert write(sources) == (["README.md"], [])
    assert "0.906" in (sources / "README.md").read_text() and write(sources) == ([], [])
    (sources / "README.md").write_text("NMSE <!--v reports/m.json male.nmse.all_100:.3f-->0.9<!--/v-->.\n")
    (sources / "docs" / "a.md").write_text("<!--v reports/m.json male.nope-->1<!--/v-->\n")
    changed, problems = write(sources)
    assert changed == ["README.md"] and len(problems) == 1 and "no key 'nope'" in str(problems[0])
    assert "0.906" in (sources / "README.md").read_text()
    assert (sources / "docs" / "a.md").read_text() == "<!--v reports/m.json male.nope-->1<!--/v-->\n"


def test_every_quoted_figure_of_the_checkout_matches_its_source():
    """`sfv docs --check`: every quoted value and table of README.md and docs/ renders to what the
    page says, and the audit finds no figure without a source (issue 30's target: 0 and 0)."""
    problems = [str(p) for p in check(ROOT)]
    assert not problems, "\n".join(problems[:20])


def test_the_cli_check_runs_in_a_checkout(sources):
    (sources / "README.md").write_text("All <!--v reports/m.json male.n-->48<!--/v--> fine.\n")
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "docs", "--check"], cwd=sources,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    (sources / "README.md").write_text("All <!--v reports/m.json male.n-->47<!--/v--> fine.\n")
    done = subprocess.run([sys.executable, "-m", "pipeline.cli", "docs", "--check"], cwd=sources,
                          capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 1 and "'47'" in done.stderr and "'48'" in done.stderr
