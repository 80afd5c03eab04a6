"""Industry configs: the bundled ones load; malformed ones are refused with the file and key named."""

from __future__ import annotations

import copy

import pytest
import yaml

from workbench.scoring.config import (ScoringConfigError, available_industries, default_tier_shares,
                                      load_industry)


def test_bundled_industries_load():
    assert {"clinic", "dealership", "phone_brand"} <= set(available_industries())
    clinic = load_industry("clinic")
    assert clinic.stage_limits == {"active": 45, "silent": 90, "sleeping": 180}   # article 003
    for name in available_industries():
        cfg = load_industry(name)
        assert abs(sum(i.weight for i in cfg.churn.indicators) - 1) < 1e-9
        assert len(cfg.early_warning.indicators) < len(cfg.churn.indicators)
        assert 2 <= cfg.tier_count <= 5


def test_default_tier_shares_are_a_pyramid():
    for k in range(2, 6):
        shares = default_tier_shares(k)
        assert len(shares) == k and abs(sum(shares) - 1) < 1e-12
        assert list(shares) == sorted(shares)   # top tier smallest


def _write(tmp_path, mutate):
    doc = copy.deepcopy(load_industry("clinic").raw)
    mutate(doc)
    path = tmp_path / "bad_clinic.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _set(doc, dotted, value):
    *parents, last = dotted.split(".")
    for p in parents:
        doc = doc[p]
    doc[last] = value


@pytest.mark.parametrize("mutate, key, words", [
    (lambda d: d["churn_index"]["indicators"].update(mood={"weight": 0.0, "low": 0, "high": 1}),
     "churn_index.indicators.mood", "unknown indicator"),
    (lambda d: _set(d, "churn_index.indicators.overdue.weight", 0.5),
     "churn_index.indicators", "sum to 1"),
    (lambda d: _set(d, "churn_index.indicators.overdue.low", 4.0),
     "churn_index.indicators.overdue.high", "out of order"),
    (lambda d: _set(d, "stages.silent", 30),
     "stages.silent", "out of order"),
    (lambda d: _set(d, "stages.sleeping", 60),
     "stages.sleeping", "out of order"),
    (lambda d: _set(d, "tiers.count", 6), "tiers.count", "at most 5"),
    (lambda d: _set(d, "tiers.weights.monetary", 0.9), "tiers.weights", "sum to 1"),
    (lambda d: _set(d, "early_warning.indicators", copy.deepcopy(d["churn_index"]["indicators"])),
     "early_warning.indicators", "fewer indicators"),
    (lambda d: _set(d, "early_warning.stages", ["dormant"]), "early_warning.stages", "unknown stage"),
    (lambda d: d.update(colour_weights=1), "colour_weights", "unknown key"),
    (lambda d: d["contact_policy"].pop("lost"), "contact_policy.lost", "missing"),
    (lambda d: _set(d, "winback.floor", "lots"), "winback.floor", "expected a number"),
])
def test_bad_config_is_refused_naming_file_and_key(tmp_path, mutate, key, words):
    path = _write(tmp_path, mutate)
    with pytest.raises(ScoringConfigError) as err:
        load_industry(path)
    msg = str(err.value)
    assert str(path) in msg
    assert f" {key}:" in msg
    assert words in msg


def test_unknown_industry_name_lists_the_choices():
    with pytest.raises(ScoringConfigError, match="dealership"):
        load_industry("bakery")
