"""Bilingual survey templates: the YAML format, validated on load into immutable objects.

A template describes one questionnaire once; the XLSForm, the call team's
workbook and the printable questionnaire are all generated from it. Loading
checks the whole file and reports every problem at once, each naming the file,
the key path (``questions[3] (q_price).choices[2] (cheap).label.en``) and why.
The format is documented in ``docs/surveys.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench.configcheck import ConfigChecker, problem_lines, shown
from workbench.errors import ConfigError
from workbench.surveys.taxonomy import LANGUAGES, REASON_CODES, TEMPLATES_DIR
from workbench.yamlfiles import YamlFileError, parse_yaml_file

QUESTION_TYPES = ("single_choice", "multiple_choice", "ranking", "rating", "yes_no", "number", "free_text", "note")
CHOICE_TYPES = ("single_choice", "multiple_choice", "ranking")
#: Types whose answers a skip condition can test.
CONDITION_TYPES = ("single_choice", "multiple_choice", "rating", "yes_no", "number")
RATING_SCALES = (5, 10)
#: Names the exports use for their own fields; questions may not take them.
RESERVED_NAMES = {"case_id", "survey_id", "customer_id", "customer_ref", "interviewer", "status", "attempts",
                  "call_date", "notes", "name", "phone", "preferred_time", "stratum", "role", "start", "end",
                  "today", "deviceid", "meta", "instanceID"}
YES_NO_CHOICES = (("yes", {"zh": "是", "en": "Yes"}), ("no", {"zh": "否", "en": "No"}))
LINT_RULES = ("leading", "double_barrelled", "blunt_opener", "many_options")

_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
_CHOICE_RE = re.compile(r"^[A-Za-z0-9_]{1,40}$")
_SURVEY_KEYS = {"id", "version", "title", "description", "business", "languages", "default_language", "incentive",
                "fieldwork", "intro", "closing", "questions"}
_QUESTION_KEYS = {"name", "type", "label", "hint", "required", "randomize", "reason_question", "choices", "show_if",
                  "scale", "scale_labels", "min", "max", "integer", "max_choices", "lint_ignore"}
_CHOICE_KEYS = {"name", "label", "reason", "score", "other"}
_CONDITION_KEYS = {"question", "equals", "in", "min", "max"}


class TemplateError(ConfigError):
    """A template was refused; ``problems`` lists (file, key path, message) for every fault found."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        self.problems = problems
        lines = problem_lines(problems)
        super().__init__(f"survey template refused ({len(problems)} problem(s)):\n  " + "\n  ".join(lines))


@dataclass(frozen=True)
class Choice:
    name: str
    label: dict[str, str]
    reason: str | None = None
    score: float | None = None
    other: bool = False


@dataclass(frozen=True)
class Condition:
    """Show a question only if an earlier answer is in ``values`` (choices, yes/no, ratings) or in [min, max]."""

    question: str
    values: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Question:
    name: str
    type: str
    label: dict[str, str]
    hint: dict[str, str] | None = None
    required: bool = False
    randomize: bool = False
    reason_question: bool = False
    choices: tuple[Choice, ...] = ()
    show_if: tuple[Condition, ...] = ()
    scale: int | None = None
    scale_labels: dict[int, dict[str, str]] = field(default_factory=dict)
    min: float | None = None
    max: float | None = None
    integer: bool = True
    max_choices: int | None = None
    lint_ignore: tuple[str, ...] = ()

    @property
    def answers(self) -> tuple[Choice, ...]:
        """The allowed answers as choices: real choices, yes/no, or the rating points."""
        if self.type == "yes_no":
            return tuple(Choice(n, lab) for n, lab in YES_NO_CHOICES)
        if self.type == "rating":
            out = []
            for k in range(1, (self.scale or 5) + 1):
                lab = self.scale_labels.get(k)
                out.append(Choice(str(k), {g: f"{k} {lab[g]}" if lab else str(k) for g in LANGUAGES}))
            return tuple(out)
        return self.choices

    @property
    def other_choice(self) -> Choice | None:
        return next((c for c in self.choices if c.other), None)

    @property
    def asks(self) -> bool:
        """True for questions that take an answer (everything but notes)."""
        return self.type != "note"


@dataclass(frozen=True)
class Survey:
    id: str
    version: str
    title: dict[str, str]
    questions: tuple[Question, ...]
    source: str = ""
    description: dict[str, str] | None = None
    business: str | None = None
    languages: tuple[str, ...] = LANGUAGES
    default_language: str = "zh"
    incentive: dict[str, str] | None = None
    fieldwork: dict[str, str] | None = None
    intro: dict[str, str] | None = None
    closing: dict[str, str] | None = None

    def question(self, name: str) -> Question:
        for q in self.questions:
            if q.name == name:
                return q
        raise KeyError(f"{self.id}: no question {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The validated template as plain data (stored as JSON in the ``surveys`` table)."""
        return asdict(self)


# --------------------------------------------------------------------------- parsing


class _Checker(ConfigChecker):
    """The shared key checker, collecting every problem into one :class:`TemplateError`, plus
    labels in the survey's languages."""

    def __init__(self, source: str, languages: tuple[str, ...] = LANGUAGES):
        super().__init__(source, TemplateError, collect=True)
        self.languages = languages

    def unknown_message(self, allowed: Iterable[str]) -> str:
        return f"unknown key (allowed: {', '.join(sorted(allowed))})"

    def number(self, value: Any, key: str, lo: float | None = None, hi: float | None = None) -> float | None:
        """Optional here: a missing number stays None, and a number keeps its YAML spelling (40, not 40.0)."""
        if value is None:
            return None
        return value if super().number(value, key, lo, hi) is not None else None

    def text(self, value: Any, where: str, *, required: bool = True) -> dict[str, str] | None:
        """A {zh: ..., en: ...} label with every language present and non-empty."""
        if value is None:
            if required:
                self.fail(where, f"missing (needs {' and '.join(self.languages)} text)")
            return None
        if not isinstance(value, dict):
            self.fail(where, f"expected a mapping of language -> text ({', '.join(self.languages)}), got {shown(value)}")
            return None
        out = {}
        for lang in self.languages:
            t = value.get(lang)
            if t is None or not str(t).strip():
                self.fail(f"{where}.{lang}", f"missing {lang} translation")
            else:
                out[lang] = str(t).strip()
        extra = set(value) - set(self.languages)
        if extra:
            self.fail(where, f"language(s) {sorted(extra, key=str)} are not in the survey's languages {list(self.languages)}")
        return out if len(out) == len(self.languages) else None


def _norm_value(v: Any) -> Any:
    """YAML reads yes/no as booleans; conditions compare with choice names."""
    if v is True:
        return "yes"
    if v is False:
        return "no"
    return v


def _parse_choice(ck: _Checker, raw: Any, where: str) -> Choice | None:
    if not isinstance(raw, dict):
        ck.fail(where, f"expected a mapping with name and label, got {shown(raw)}")
        return None
    ck.unknown_keys(raw, where, _CHOICE_KEYS)
    name = raw.get("name")
    if name is None:
        ck.fail(f"{where}.name", "missing")
    elif not _CHOICE_RE.match(str(name)) or isinstance(name, bool):
        ck.fail(f"{where}.name", f"{shown(name)} must be 1-40 letters, digits or _")
    label = ck.text(raw.get("label"), f"{where}.label")
    reason = raw.get("reason")
    if reason is not None and reason not in REASON_CODES:
        ck.fail(f"{where}.reason", f"{shown(reason)} is not a code of the reason taxonomy")
        reason = None
    score = ck.number(raw.get("score"), f"{where}.score")
    other = ck.flag(raw.get("other"), f"{where}.other", False)
    if name is None or label is None:
        return None
    return Choice(str(name), label, reason, score, other)


def _parse_conditions(ck: _Checker, raw: Any, where: str) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    out = []
    for i, c in enumerate(items):
        w = f"{where}[{i}]" if isinstance(raw, list) else where
        if not isinstance(c, dict) or "question" not in c:
            ck.fail(w, f"expected a mapping like {{question: q1, in: [a, b]}}, got {shown(c)}")
            continue
        ck.unknown_keys(c, w, _CONDITION_KEYS)
        has_values = "in" in c or "equals" in c
        has_range = "min" in c or "max" in c
        if has_values == has_range or ("in" in c and "equals" in c):
            ck.fail(w, "give exactly one of 'equals', 'in', or a 'min'/'max' range")
            continue
        values = None
        if "equals" in c:
            values = (_norm_value(c["equals"]),)
        elif "in" in c:
            if not isinstance(c["in"], list) or not c["in"]:
                ck.fail(f"{w}.in", "expected a non-empty list of answers")
                continue
            values = tuple(_norm_value(v) for v in c["in"])
        out.append(Condition(str(c["question"]), values, ck.number(c.get("min"), f"{w}.min"),
                             ck.number(c.get("max"), f"{w}.max")))
    return tuple(out)


def _parse_question(ck: _Checker, raw: Any, where: str) -> Question | None:
    if not isinstance(raw, dict):
        ck.fail(where, f"expected a mapping, got {shown(raw)}")
        return None
    ck.unknown_keys(raw, where, _QUESTION_KEYS)
    name = raw.get("name")
    qtype = raw.get("type")
    ok = True
    if name is None:
        ck.fail(f"{where}.name", "missing")
        ok = False
    elif not isinstance(name, str) or not _NAME_RE.match(name):
        ck.fail(f"{where}.name", f"{shown(name)} must start with a letter and hold at most 40 letters, digits or _")
        ok = False
    elif name in RESERVED_NAMES:
        ck.fail(f"{where}.name", f"{shown(name)} is reserved for the exports' own fields")
        ok = False
    if qtype not in QUESTION_TYPES:
        ck.fail(f"{where}.type", f"unknown question type {shown(qtype)} (known: {', '.join(QUESTION_TYPES)})")
        return None
    label = ck.text(raw.get("label"), f"{where}.label")
    hint = ck.text(raw.get("hint"), f"{where}.hint", required=False)
    reason_q = ck.flag(raw.get("reason_question"), f"{where}.reason_question", False)
    randomize = ck.flag(raw.get("randomize"), f"{where}.randomize", False)
    required = ck.flag(raw.get("required"), f"{where}.required", False)
    if qtype == "note" and required:
        ck.fail(f"{where}.required", "a note takes no answer and cannot be required")
    choices: list[Choice] = []
    raw_choices = raw.get("choices")
    if qtype in CHOICE_TYPES:
        if not isinstance(raw_choices, list) or len(raw_choices) < 2:
            ck.fail(f"{where}.choices", f"a {qtype} question needs a list of at least 2 choices")
        else:
            for j, rc in enumerate(raw_choices):
                cname = rc.get("name") if isinstance(rc, dict) else None
                cw = f"{where}.choices[{j}]" + (f" ({cname})" if cname is not None else "")
                c = _parse_choice(ck, rc, cw)
                if c is not None:
                    if reason_q and c.reason is None and (not isinstance(rc, dict) or rc.get("reason") is None):
                        ck.fail(f"{cw}.reason", "missing: every option of a reason question needs a reason code")
                    choices.append(c)
            seen: set[str] = set()
            for j, c in enumerate(choices):
                if c.name in seen:
                    ck.fail(f"{where}.choices ({c.name})", f"duplicate choice name {shown(c.name)}")
                seen.add(c.name)
            for lang in ck.languages:
                labels = [c.label[lang] for c in choices]
                dups = sorted({x for x in labels if labels.count(x) > 1})
                if dups:
                    ck.fail(f"{where}.choices", f"duplicate {lang} label(s) {dups}: answers could not be told apart")
    elif raw_choices is not None:
        ck.fail(f"{where}.choices", f"a {qtype} question takes no choices")
    if reason_q and qtype not in CHOICE_TYPES:
        ck.fail(f"{where}.reason_question", f"only choice questions can be reason questions, not {qtype}")
    if randomize and qtype not in CHOICE_TYPES:
        ck.fail(f"{where}.randomize", f"only choice questions can randomise options, not {qtype}")
    scale = raw.get("scale")
    scale_labels: dict[int, dict[str, str]] = {}
    if qtype == "rating":
        if scale not in RATING_SCALES:
            ck.fail(f"{where}.scale", f"a rating needs scale 5 or 10 (1-5 or 1-10), got {shown(scale)}")
            scale = None
        sl = raw.get("scale_labels") or {}
        if not isinstance(sl, dict):
            ck.fail(f"{where}.scale_labels", "expected a mapping point -> {zh, en}")
        else:
            for k, v in sl.items():
                if not isinstance(k, int) or (scale and not 1 <= k <= scale):
                    ck.fail(f"{where}.scale_labels.{k}", f"not a point of the 1-{scale} scale")
                    continue
                t = ck.text(v, f"{where}.scale_labels.{k}")
                if t:
                    scale_labels[k] = t
    else:
        for key in ("scale", "scale_labels"):
            if raw.get(key) is not None:
                ck.fail(f"{where}.{key}", f"only rating questions take {key}")
    qmin, qmax = ck.number(raw.get("min"), f"{where}.min"), ck.number(raw.get("max"), f"{where}.max")
    if (qmin is not None or qmax is not None) and qtype != "number":
        ck.fail(f"{where}.min", "only number questions take min/max")
    if qmin is not None and qmax is not None and qmin > qmax:
        ck.fail(f"{where}.max", f"max {qmax} is below min {qmin}")
    integer = ck.flag(raw.get("integer"), f"{where}.integer", True)
    max_choices = raw.get("max_choices")
    if max_choices is not None:
        if qtype != "multiple_choice":
            ck.fail(f"{where}.max_choices", "only multiple_choice questions take max_choices")
            max_choices = None
        elif not isinstance(max_choices, int) or isinstance(max_choices, bool) or not 1 <= max_choices <= len(choices or [0, 0]):
            ck.fail(f"{where}.max_choices", f"expected a whole number between 1 and the number of choices, got {shown(max_choices)}")
            max_choices = None
    lint_ignore = raw.get("lint_ignore") or []
    if not isinstance(lint_ignore, list) or any(r not in LINT_RULES for r in lint_ignore):
        ck.fail(f"{where}.lint_ignore", f"expected a list of lint rules from {list(LINT_RULES)}")
        lint_ignore = []
    show_if = _parse_conditions(ck, raw.get("show_if"), f"{where}.show_if")
    if not ok or label is None:
        return None
    return Question(name, qtype, label, hint, required, randomize, reason_q, tuple(choices), show_if,
                    scale, scale_labels, qmin, qmax, integer, max_choices, tuple(lint_ignore))


def _check_conditions(ck: _Checker, questions: list[tuple[str, Question]]) -> None:
    """Skip logic must name an earlier question whose answers can be tested."""
    earlier: dict[str, Question] = {}
    names = {q.name for _, q in questions}
    for where, q in questions:
        for i, c in enumerate(q.show_if):
            w = f"{where}.show_if" + (f"[{i}]" if len(q.show_if) > 1 else "") + ".question"
            if c.question not in names:
                ck.fail(w, f"skip logic names a missing question {shown(c.question)}")
            elif c.question not in earlier:
                ck.fail(w, f"skip logic must refer to an earlier question; {shown(c.question)} comes later (or is itself)")
            else:
                ref = earlier[c.question]
                if ref.type not in CONDITION_TYPES:
                    ck.fail(w, f"{shown(c.question)} is a {ref.type} question; skip logic can test only "
                              f"{', '.join(CONDITION_TYPES)}")
                elif c.values is None and ref.type != "number" and ref.type != "rating":
                    ck.fail(w, f"a min/max range applies to number or rating questions, not {ref.type}")
        earlier[q.name] = q


def parse_template(raw: Any, source: str = "<template>") -> Survey:
    """Validate a template already read from YAML; raise :class:`TemplateError` listing every problem."""
    ck = _Checker(source)
    if not isinstance(raw, dict):
        raise TemplateError([(source, "", "expected a mapping at the top level")])
    ck.unknown_keys(raw, "", _SURVEY_KEYS)
    langs = raw.get("languages", list(LANGUAGES))
    if not isinstance(langs, list) or not all(isinstance(g, str) for g in langs) or not set(LANGUAGES) <= set(langs):
        ck.fail("languages", f"must list at least zh and en, got {shown(langs)}")
    else:
        ck.languages = tuple(dict.fromkeys(langs))
    sid = raw.get("id")
    if not isinstance(sid, str) or not _NAME_RE.match(sid):
        ck.fail("id", f"expected an identifier (letters, digits, _; starting with a letter), got {shown(sid)}")
    title = ck.text(raw.get("title"), "title")
    default_language = raw.get("default_language", "zh")
    if default_language not in ck.languages:
        ck.fail("default_language", f"{shown(default_language)} is not one of the languages {list(ck.languages)}")
    texts = {k: ck.text(raw.get(k), k, required=False)
             for k in ("description", "incentive", "fieldwork", "intro", "closing")}
    raw_qs = raw.get("questions")
    parsed: list[tuple[str, Question]] = []
    if not isinstance(raw_qs, list) or not raw_qs:
        ck.fail("questions", "expected a non-empty list of questions")
    else:
        seen: dict[str, str] = {}
        for i, rq in enumerate(raw_qs):
            qname = rq.get("name") if isinstance(rq, dict) else None
            where = f"questions[{i}]" + (f" ({qname})" if qname else "")
            q = _parse_question(ck, rq, where)
            if q is None:
                continue
            if q.name in seen:
                ck.fail(f"{where}.name", f"duplicate question name {shown(q.name)} (first at {seen[q.name]})")
                continue
            seen[q.name] = where
            parsed.append((where, q))
            if q.other_choice is not None and f"{q.name}_other" in [x.get('name') for x in raw_qs if isinstance(x, dict)]:
                ck.fail(f"{where}.choices", f"{q.name}_other is generated for the 'other' text; rename that question")
        _check_conditions(ck, parsed)
        if not any(q.asks for _, q in parsed):
            ck.fail("questions", "the survey asks nothing (only notes)")
    ck.finish()
    return Survey(id=sid, version=str(raw.get("version", "1")), title=title, questions=tuple(q for _, q in parsed),
                  source=source, description=texts["description"], business=raw.get("business"),
                  languages=ck.languages, default_language=default_language, incentive=texts["incentive"],
                  fieldwork=texts["fieldwork"], intro=texts["intro"], closing=texts["closing"])


def read_template_yaml(path: str | Path) -> Any:
    """The raw YAML of a template (refused with the file name if it is not valid YAML)."""
    try:
        return parse_yaml_file(path)
    except YamlFileError as exc:
        raise TemplateError([(exc.path, "", exc.why)]) from exc


def template_path(name: str | Path) -> Path:
    """Resolve a template given as a path or as a name in ``survey_templates/`` (``car_aftersales_churn``)."""
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    for cand in (TEMPLATES_DIR / f"{name}.yaml", TEMPLATES_DIR / str(name)):
        if cand.exists() and cand.is_file():
            return cand
    raise FileNotFoundError(f"no survey template {name!r} (looked in {TEMPLATES_DIR}); "
                            f"available: {', '.join(list_templates())}")


def load_template(name: str | Path) -> Survey:
    """Load and validate one template (a path, or a name in ``survey_templates/``)."""
    path = template_path(name)
    return parse_template(read_template_yaml(path), str(path))


def list_templates() -> list[str]:
    """Names of the shipped templates (every YAML in ``survey_templates/`` but the taxonomy)."""
    return sorted(p.stem for p in TEMPLATES_DIR.glob("*.yaml") if p.stem != "reason_taxonomy")


def label(text: dict[str, str] | None, language: str) -> str:
    """One language's text of a label ('' for none)."""
    return (text or {}).get(language, "")


def describe_condition(survey: Survey, cond: Condition, language: str) -> str:
    """A skip condition in words, e.g. ``Q3 = 价格偏高 / 服务态度不好``."""
    ref = survey.question(cond.question)
    number = next(i for i, q in enumerate(survey.questions, 1) if q.name == cond.question)
    if cond.values is not None:
        by_name = {c.name: c for c in ref.answers}
        shown = [label(by_name[str(v)].label, language) if str(v) in by_name else str(v) for v in cond.values]
        op = "包含" if (ref.type == "multiple_choice" and language == "zh") else \
            ("includes" if ref.type == "multiple_choice" else "=")
        return f"Q{number} {op} {' / '.join(shown)}"
    lo = "" if cond.min is None else f"{cond.min:g} ≤ "
    hi = "" if cond.max is None else f" ≤ {cond.max:g}"
    return f"{lo}Q{number}{hi}"


def skip_hint(survey: Survey, q: Question, language: str) -> str:
    """The whole skip rule of a question in words ('' when always asked)."""
    if not q.show_if:
        return ""
    joiner = " 且 " if language == "zh" else " and "
    body = joiner.join(describe_condition(survey, c, language) for c in q.show_if)
    return f"仅当 {body} 时询问" if language == "zh" else f"Ask only if {body}"


def choice_scores(survey: Survey) -> "pd.DataFrame":
    """Scores attached to choices (article 001: 还可以 40, 满意 60, 非常满意 100) as (question, choice, score)."""
    import pandas as pd

    rows = [(q.name, c.name, float(c.score)) for q in survey.questions for c in q.choices if c.score is not None]
    return pd.DataFrame(rows, columns=["question", "choice", "score"])


def score_answers(survey: Survey, answers: "pd.DataFrame") -> "pd.DataFrame":
    """Mean choice score per case from tidy answers (case_id, question, answer = choice code).

    Returns case_id, score (0-100 mean over the scored questions answered) and answered (how many).
    Unscored questions and unknown answers are ignored.
    """
    scores = choice_scores(survey)
    merged = answers.merge(scores, left_on=["question", "answer"], right_on=["question", "choice"], how="inner")
    out = merged.groupby("case_id", sort=True)["score"].agg(["mean", "size"]).reset_index()
    return out.rename(columns={"mean": "score", "size": "answered"})
