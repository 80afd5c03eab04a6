"""Lint survey templates: structural faults, leading or double-barrelled wording, unreachable questions.

pyxform accepts a form with a missing translation, a leading question or a
question nobody can ever reach; the field team would only find out in the
field. The lint reports every finding as a tidy frame (template, question,
severity, rule, issue). ``error`` findings must be fixed; ``warning`` findings
are wording or design smells a person should look at (a deliberate exception
is declared in the template with ``lint_ignore: [rule]``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.surveys.template import (Question, Survey, TemplateError, list_templates, parse_template,
                                        read_template_yaml, template_path)

COLUMNS = ["template", "question", "severity", "rule", "issue"]
#: Workbook slots for a multiple-choice question without ``max_choices``.
DEFAULT_SLOTS = 5

LEADING = {
    "en": [r"\bdon'?t you (agree|think|feel)\b", r"\bwouldn'?t you\b", r"\bisn'?t it\b", r"\baren'?t (you|they|we)\b",
           r"\bdidn'?t you\b", r"\bsurely\b", r"\bobviously\b", r"\b(do|would) you agree\b",
           r"\bhow (much|great|good|wonderful) (was|is|were)\b", r"\beveryone (knows|agrees)\b"],
    "zh": ["难道", "是不是很", "是不是也", "不觉得", "不是吗", "对吧", "对不对", "您一定", "你一定", "肯定很",
           "大家都", "不认为"],
}
DOUBLE = {
    "en": [r"\band\b", r"\bas well as\b", r"&"],
    "zh": ["以及", "和", "及", "与", "并且"],
}
#: Words that contain a joining character but join nothing.
ZH_JOIN_EXCEPTIONS = ["和蔼", "和谐", "温和", "平和", "暖和", "柔和", "总和", "和平", "及时", "及格", "来得及",
                      "来不及", "涉及", "参与", "与其"]
BLUNT = {
    "en": [r"\bwhy (did|do|have) you (leave|left|stop|stopped|quit)\b", r"\bwhy (don'?t|didn'?t) you come\b"],
    "zh": ["为什么离开", "为何离开", "为什么不来", "为什么不再", "为什么流失", "为什么不在我们", "为啥不来"],
}


def _hits(text: str, patterns: list[str], lang: str) -> list[str]:
    if lang == "zh":
        cleaned = text
        for word in ZH_JOIN_EXCEPTIONS:
            cleaned = cleaned.replace(word, "")
        return [p for p in patterns if p in cleaned]
    return [m.group(0) for p in patterns for m in [re.search(p, text, flags=re.IGNORECASE)] if m]


def _question_of(key_path: str) -> str:
    m = re.match(r"questions\[\d+\](?: \(([^)]*)\))?", key_path)
    if not m:
        return ""
    return m.group(1) or key_path.split(".")[0]


def _wording(survey: Survey) -> list[dict[str, Any]]:
    rows = []
    asked = [q for q in survey.questions if q.asks]
    opener = asked[0].name if asked else None
    for q in survey.questions:
        for lang in ("zh", "en"):
            text = q.label.get(lang, "")
            if "leading" not in q.lint_ignore:
                for hit in _hits(text, LEADING[lang], lang):
                    rows.append((q.name, "warning", "leading", f"leading wording {hit!r} in the {lang} label: "
                                 "ask neutrally so the customer does not hear the answer we hope for"))
            if q.asks and "double_barrelled" not in q.lint_ignore:
                for hit in _hits(text, DOUBLE[lang], lang):
                    rows.append((q.name, "warning", "double_barrelled",
                                 f"possibly double-barrelled: {hit!r} in the {lang} label may join two topics in one "
                                 "question; split it (or declare lint_ignore: [double_barrelled])"))
            if "blunt_opener" not in q.lint_ignore:
                for hit in _hits(text, BLUNT[lang], lang):
                    severity = "error" if q.name == opener else "warning"
                    rows.append((q.name, severity, "blunt_opener",
                                 f"blunt 'why did you leave' wording {hit!r} in the {lang} label"
                                 + (" as the opening question" if q.name == opener else "")
                                 + ": ask indirectly (article 000)"))
    return [dict(zip(COLUMNS[1:], r)) for r in rows]


def _design(survey: Survey) -> list[dict[str, Any]]:
    rows = []
    seen_labels: dict[str, str] = {}
    for q in survey.questions:
        key = q.label.get("zh", "") + "|" + q.label.get("en", "")
        if q.asks and key in seen_labels:
            rows.append((q.name, "warning", "duplicate", f"same question text as {seen_labels[key]!r}"))
        seen_labels.setdefault(key, q.name)
        if q.reason_question:
            other = q.other_choice
            if other is None:
                rows.append((q.name, "warning", "no_other", "reason question without an 'other' choice "
                             "(mark one choice with other: true): customers' real reasons get forced into a box"))
            elif other.reason != "other":
                rows.append((q.name, "warning", "other_code",
                             f"the 'other' choice carries reason code {other.reason!r}; use 'other'"))
        if q.type == "multiple_choice" and q.max_choices is None and len(q.choices) > DEFAULT_SLOTS \
                and "many_options" not in q.lint_ignore:
            rows.append((q.name, "warning", "many_options",
                         f"{len(q.choices)} options without max_choices: the call-team workbook offers only "
                         f"{DEFAULT_SLOTS} answer slots; set max_choices"))
    return [dict(zip(COLUMNS[1:], r)) for r in rows]


def _reachability(survey: Survey) -> list[dict[str, Any]]:
    """Propagate what each shown question implies about earlier answers; an empty set means unreachable."""
    rows = []
    env: dict[str, dict[str, Any] | None] = {}
    by_name = {q.name: q for q in survey.questions}

    def finite(ref: Question) -> set[str]:
        return {c.name for c in ref.answers}

    for q in survey.questions:
        cons: dict[str, Any] = {}
        why = None
        for c in q.show_if:
            ref = by_name.get(c.question)
            if ref is None or c.question not in env:
                continue  # validation reports it
            if env[c.question] is None:
                why = f"it depends on {c.question!r}, which is itself unreachable"
                break
            for k, v in env[c.question].items():  # to answer the referenced question it must have been shown
                cons[k] = _meet(cons.get(k), v)
            if ref.type == "number":
                lo = max(x for x in (c.min, ref.min, -float("inf")) if x is not None)
                hi = min(x for x in (c.max, ref.max, float("inf")) if x is not None)
                allowed: Any = (lo, hi)
            elif ref.type == "multiple_choice":
                got = {str(v) for v in c.values or ()} & finite(ref)
                allowed = [frozenset(got)]
            elif c.values is not None:
                allowed = {str(v) for v in c.values} & finite(ref)
            else:  # rating with a range
                allowed = {str(k) for k in range(1, (ref.scale or 5) + 1)
                           if (c.min is None or k >= c.min) and (c.max is None or k <= c.max)}
            cons[c.question] = _meet(cons.get(c.question), allowed)
            if _empty(cons[c.question]):
                shown = sorted(map(str, c.values)) if c.values is not None else f"range [{c.min}, {c.max}]"
                why = (f"show_if can never be true: {c.question!r} cannot be answered {shown} "
                       "together with the conditions it depends on")
                break
        if why:
            env[q.name] = None
            rows.append((q.name, "error", "unreachable", f"unreachable question: {why}"))
        else:
            env[q.name] = cons
    return [dict(zip(COLUMNS[1:], r)) for r in rows]


def _meet(a: Any, b: Any) -> Any:
    if a is None:
        return b
    if isinstance(a, set):
        return a & b
    if isinstance(a, tuple):
        return (max(a[0], b[0]), min(a[1], b[1]))
    return a + b  # multiple choice: every any-of set must be met


def _empty(v: Any) -> bool:
    if isinstance(v, set):
        return not v
    if isinstance(v, tuple):
        return v[0] > v[1]
    return any(not s for s in v)


def lint_template(template: Survey | str | Path | dict, name: str | None = None) -> pd.DataFrame:
    """Lint one template (a loaded Survey, a path or template name, or raw YAML data).

    Validation faults (unknown type, missing translation, option without a reason
    code, skip logic naming a missing question, duplicate names) become ``error``
    rows instead of an exception, so a whole folder can be linted at once.
    """
    if isinstance(template, Survey):
        survey, label = template, name or template.id
    else:
        if isinstance(template, dict):
            raw, source = template, name or str(template.get("id", "<template>"))
        else:
            path = template_path(template)
            source = str(path)
            try:
                raw = read_template_yaml(path)
            except TemplateError as exc:
                return _frame([{"question": "", "severity": "error", "rule": "invalid", "issue": m}
                               for _, _, m in exc.problems], name or Path(source).stem)
        label = name or (raw.get("id") if isinstance(raw, dict) and raw.get("id") else Path(source).stem)
        try:
            survey = parse_template(raw, source)
        except TemplateError as exc:
            return _frame([{"question": _question_of(k), "severity": "error", "rule": "invalid",
                            "issue": f"{k}: {m}" if k else m} for _, k, m in exc.problems], label)
    return _frame(_wording(survey) + _design(survey) + _reachability(survey), label)


def _frame(rows: list[dict[str, Any]], template: str) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS[1:])
    df.insert(0, "template", template)
    return df[COLUMNS].reset_index(drop=True)


def lint_templates(templates: Iterable[Survey | str | Path] | None = None) -> pd.DataFrame:
    """Lint several templates (default: every shipped one) into one frame."""
    items = list(templates) if templates is not None else list_templates()
    frames = [lint_template(t) for t in items]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
