"""Template loading and validation: shipped templates load; broken ones are refused naming file, question, field."""

from __future__ import annotations

import copy

import pytest
import yaml

from workbench.surveys.taxonomy import REASON_CODES, TaxonomyError, load_reason_taxonomy
from workbench.surveys.template import TemplateError, list_templates, load_template, parse_template

SHIPPED = ["car_aftersales_churn", "clinic_lost_callback", "phone_young_attrition", "satisfaction_short"]


def test_taxonomy_has_exactly_the_shared_codes_with_labels_and_families():
    tax = load_reason_taxonomy()
    assert list(tax["code"]) == list(REASON_CODES)
    assert tax[["label_zh", "label_en", "family"]].notna().all().all()
    assert (tax["label_zh"].str.len() > 0).all() and (tax["label_en"].str.len() > 0).all()
    fam = dict(zip(tax["code"], tax["family"]))
    assert fam["price"] == "value_offer" and fam["no_need"] == "let_go" and fam["style_outdated"] == "product_range"


def test_taxonomy_refuses_unknown_family_and_missing_code(tmp_path):
    raw = yaml.safe_load(open(load_reason_taxonomy.__globals__["TAXONOMY_PATH"], encoding="utf-8"))
    bad = copy.deepcopy(raw)
    bad["reasons"]["price"]["family"] = "discount_everything"
    p = tmp_path / "tax.yaml"
    p.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r"tax\.yaml: reasons\.price\.family"):
        load_reason_taxonomy(p)
    bad = copy.deepcopy(raw)
    del bad["reasons"]["canned_scripts"]
    p.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
    with pytest.raises(TaxonomyError, match="canned_scripts"):
        load_reason_taxonomy(p)


def test_shipped_templates_load_with_both_languages():
    assert set(SHIPPED) <= set(list_templates())
    for name in SHIPPED:
        s = load_template(name)
        for q in s.questions:
            assert set(q.label) == {"zh", "en"}
            for c in q.choices:
                assert c.label["zh"] and c.label["en"]
                if q.reason_question:
                    assert c.reason in REASON_CODES


def test_young_attrition_covers_the_article_002_topics():
    s = load_template("phone_young_attrition")
    names = {q.name for q in s.questions}
    assert {"style_rating", "colour_rating", "design_rating", "price_rating", "quality_rating", "current_brand",
            "where_bought"} <= names
    assert s.incentive and "纪念品" in s.incentive["zh"]


def test_satisfaction_uses_article_001_scores():
    s = load_template("satisfaction_short")
    scores = {c.label["zh"]: c.score for c in s.question("overall").choices}
    assert scores["还可以"] == 40 and scores["满意"] == 60 and scores["非常满意"] == 100


def _raw(name: str) -> dict:
    from workbench.surveys.template import read_template_yaml, template_path

    return read_template_yaml(template_path(name))


def _refusal(raw: dict, tmp_path) -> str:
    p = tmp_path / "broken.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        load_template(p)
    return str(err.value)


def test_unknown_question_type_is_refused_naming_file_question_field(tmp_path):
    raw = _raw("car_aftersales_churn")
    raw["questions"][1]["type"] = "slider"
    msg = _refusal(raw, tmp_path)
    assert "broken.yaml" in msg and "questions[1] (monthly_km).type" in msg and "slider" in msg


def test_skip_logic_naming_missing_question_is_refused(tmp_path):
    raw = _raw("car_aftersales_churn")
    raw["questions"][2]["show_if"] = {"question": "car_usage", "in": ["daily"]}
    msg = _refusal(raw, tmp_path)
    assert "questions[2] (last_service_place).show_if.question" in msg and "car_usage" in msg


def test_option_without_reason_code_is_refused(tmp_path):
    raw = _raw("clinic_lost_callback")
    i = next(k for k, q in enumerate(raw["questions"]) if q["name"] == "main_reason")
    del raw["questions"][i]["choices"][2]["reason"]
    msg = _refusal(raw, tmp_path)
    assert f"questions[{i}] (main_reason).choices[2] (result).reason" in msg


def test_missing_translation_is_refused(tmp_path):
    raw = _raw("phone_young_attrition")
    del raw["questions"][0]["choices"][3]["label"]["en"]
    del raw["questions"][4]["label"]["zh"]
    msg = _refusal(raw, tmp_path)
    assert "questions[0] (current_brand).choices[3] (xiaomi).label.en: missing en translation" in msg
    assert "questions[4] (design_rating).label.zh: missing zh translation" in msg


def test_every_problem_reported_at_once_and_other_faults(tmp_path):
    raw = _raw("satisfaction_short")
    raw["questions"].append(copy.deepcopy(raw["questions"][0]))          # duplicate name
    raw["questions"][1]["choices"] = [{"name": "a", "label": {"zh": "甲", "en": "A"}},
                                      {"name": "a", "label": {"zh": "乙", "en": "B"}}]  # duplicate choice
    raw["questions"][2]["show_if"] = {"question": "improve", "in": ["x"]}  # later question
    raw["colour"] = "blue"                                                   # unknown key
    msg = _refusal(raw, tmp_path)
    for part in ("duplicate question name 'overall'", "duplicate choice name 'a'", "earlier question",
                 "colour: unknown key"):
        assert part in msg, part


def test_rating_scale_and_yes_no_values_normalised():
    raw = _raw("clinic_lost_callback")
    s = parse_template(raw, "clinic")
    cond = s.question("best_time").show_if[0]
    assert cond.values == ("yes",)        # YAML reads `yes` as True
    raw["questions"][0]["scale"] = 7
    with pytest.raises(TemplateError, match=r"questions\[0\] \(result_rating\)\.scale"):
        parse_template(raw, "clinic")


def test_score_answers_averages_article_001_points():
    import pandas as pd

    from workbench.surveys.template import score_answers

    s = load_template("satisfaction_short")
    answers = pd.DataFrame({"case_id": ["C1", "C1", "C1", "C2", "C2"],
                            "question": ["overall", "staff", "improve", "overall", "speed"],
                            "answer": ["ok", "very_satisfied", "more parking", "satisfied", "dissatisfied"]})
    got = score_answers(s, answers).set_index("case_id")
    assert got.loc["C1", "score"] == pytest.approx((40 + 100) / 2) and got.loc["C1", "answered"] == 2
    assert got.loc["C2", "score"] == pytest.approx((60 + 0) / 2)
