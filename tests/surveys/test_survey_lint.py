"""The lint: planted bad questions are caught, the shipped templates are clean."""

from __future__ import annotations

import copy

import pandas as pd

from workbench.surveys.lint import COLUMNS, lint_template, lint_templates
from workbench.surveys.template import read_template_yaml, template_path


def _base() -> dict:
    return read_template_yaml(template_path("car_aftersales_churn"))


def _q(name, zh, en, qtype="free_text", **kw):
    return {"name": name, "type": qtype, "label": {"zh": zh, "en": en}, **kw}


def test_shipped_templates_pass_the_lint():
    found = lint_templates()
    assert list(found.columns) == COLUMNS
    assert found.empty, found.to_string()


def test_planted_bad_questions_are_caught():
    raw = _base()
    raw["questions"] = [
        _q("opener", "您为什么不来我们店了？", "Why did you stop coming to us?"),
        _q("leading_zh", "难道您不觉得我们的服务很好吗？", "How would you rate our service?"),
        _q("leading_en", "您怎么评价我们的服务？", "Don't you agree our service is excellent?"),
        _q("double_zh", "您对价格和服务态度满意吗？", "How do you rate our prices?"),
        _q("double_en", "您怎么评价我们的价格？", "How satisfied are you with our prices and our staff?"),
        _q("fine_zh", "服务是否及时？", "Was the service on time?"),
        _q("rate", "请打分", "Please rate", "rating", scale=5),
        _q("never", "追问", "Follow-up", "yes_no", show_if={"question": "rate", "min": 6}),
        _q("chained", "再追问", "Another follow-up", show_if={"question": "never", "equals": "yes"}),
        _q("pick", "选一个", "Pick one", "single_choice",
           choices=[{"name": "a", "label": {"zh": "甲", "en": "A"}}, {"name": "b", "label": {"zh": "乙", "en": "B"}}]),
        _q("ghost", "不存在的选项", "Missing option", show_if={"question": "pick", "equals": "c"}),
        _q("both", "矛盾", "Contradiction", show_if=[{"question": "pick", "equals": "a"},
                                                  {"question": "pick", "equals": "b"}]),
        _q("ok_follow", "正常追问", "Normal follow-up", show_if={"question": "pick", "equals": "a"}),
    ]
    found = lint_template(raw)
    assert not (found["rule"] == "invalid").any(), found.to_string()
    by = found.groupby("question")["rule"].apply(set).to_dict()
    assert "blunt_opener" in by["opener"]
    assert found.loc[(found.question == "opener") & (found.rule == "blunt_opener"), "severity"].eq("error").all()
    assert "leading" in by["leading_zh"] and "leading" in by["leading_en"]
    assert "double_barrelled" in by["double_zh"] and "double_barrelled" in by["double_en"]
    for q in ("never", "chained", "ghost", "both"):
        assert "unreachable" in by.get(q, set()), q
    for q in ("fine_zh", "rate", "pick", "ok_follow"):
        assert q not in by, (q, by.get(q))


def test_structural_faults_become_error_rows_not_exceptions():
    raw = _base()
    raw["questions"][0]["choices"][0]["label"] = {"zh": "几乎每天开"}  # missing en
    i = next(k for k, q in enumerate(raw["questions"]) if q["name"] == "main_reason")
    del raw["questions"][i]["choices"][0]["reason"]
    raw["questions"].append(copy.deepcopy(raw["questions"][1]))         # duplicate name
    found = lint_template(raw)
    assert (found["severity"] == "error").all() and len(found) == 3
    text = " ".join(found["issue"])
    assert "label.en: missing en translation" in text and "reason code" in text and "duplicate question name" in text
    assert set(found["question"]) == {"car_use", "main_reason", "monthly_km"}


def test_lint_ignore_silences_a_deliberate_case():
    raw = _base()
    raw["questions"].append(_q("combo", "款式和颜色哪个更重要？", "Which matters more, style or colour?",
                               lint_ignore=["double_barrelled"]))
    assert lint_template(raw).empty
    raw["questions"][-1].pop("lint_ignore")
    assert set(lint_template(raw)["rule"]) == {"double_barrelled"}


def test_missing_other_and_many_options_are_warned():
    raw = _base()
    i = next(k for k, q in enumerate(raw["questions"]) if q["name"] == "main_reason")
    raw["questions"][i]["choices"] = [c for c in raw["questions"][i]["choices"] if not c.get("other")]
    j = next(k for k, q in enumerate(raw["questions"]) if q["name"] == "last_visit_issues")
    del raw["questions"][j]["max_choices"]
    found = lint_template(raw)
    assert isinstance(found, pd.DataFrame)
    assert set(zip(found["question"], found["rule"])) == {("main_reason", "no_other"),
                                                          ("last_visit_issues", "many_options")}
