"""The parameter reference docs/parameters.md is the rendering of pipeline/config.py, and true."""
from pathlib import Path

import pytest
import yaml

from pipeline import params_doc
from pipeline.config import load_params, parse_params
from pipeline.errors import ParamsError

ROOT = Path(__file__).resolve().parents[1]


def test_the_committed_reference_is_the_rendering():
    committed = (ROOT / "docs/parameters.md").read_text()
    assert committed == params_doc.render(), "docs/parameters.md is stale: run `sfv params-doc`"


def test_every_field_of_every_section_has_a_description():
    fields = params_doc.all_fields()
    assert len(fields) > 80
    missing = [key for key, field in fields if not (field.description or "").strip()]
    assert not missing, missing


def test_every_parameter_is_in_the_reference_once():
    rendered = params_doc.render()
    for key in params_doc.defaults():
        assert rendered.count(f"| `{key}` |") == 1, key


def _leaves(mapping: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in mapping.items():
        out.update(_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return out


def test_params_yaml_sets_the_documented_defaults():
    raw = _leaves(yaml.safe_load((ROOT / "params.yaml").read_text()))
    defaults = params_doc.defaults()
    unknown = set(raw) - set(defaults)
    assert not unknown, unknown
    loaded = params_doc.values(load_params(ROOT / "params.yaml"))
    differ = {key: (loaded[key], defaults[key]) for key in raw if loaded[key] != defaults[key]}
    assert not differ, f"params.yaml overrides these defaults (key: (params.yaml, config.py)): {differ}"


def test_every_range_marked_min_max_is_checked_for_order():
    rows = [row for _, _, section in params_doc.sections() for row in section]
    ranges = [row for row in rows if row.allowed.startswith("[min, max]")]
    assert len(ranges) >= 5
    for row in ranges:
        low, high = row.default
        assert low != high, row.key
        mapping: dict = {}
        *sections, name = row.key.split(".")
        node = mapping
        for part in sections:
            node = node.setdefault(part, {})
        node[name] = [high, low]
        with pytest.raises(ParamsError, match=name):
            parse_params(mapping)


def test_check_finds_a_stale_file(tmp_path):
    target = tmp_path / "parameters.md"
    assert not params_doc.is_current(target)
    params_doc.write(target)
    assert params_doc.is_current(target)
    target.write_text(target.read_text().replace("| `seed` | `0` |", "| `seed` | `1` |"))
    assert not params_doc.is_current(target)


def test_allowed_values_follow_the_constraints():
    rows = {row.key: row for _, _, section in params_doc.sections() for row in section}
    assert rows["synth.speakers.male"].allowed == "an integer in (0, 100000]"
    assert rows["sfv.test"].allowed == "one of `paper`, `corrected`, `permutation`"
    assert rows["sfv.estimator"].allowed == "one of `stats_ridge`, `embedding_ridge`, `shared`, `per_am`"  # from the registry
    assert rows["reconstruct.lambda"].allowed == "a number ≥ 0"
    assert rows["audio.sample_rate"].allowed == "`16000` only"
    assert rows["sfv.segment_s"].allowed == "[min, max], each a number in (0, 60]"
