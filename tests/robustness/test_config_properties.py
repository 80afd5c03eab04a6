"""Property-based tests of every YAML config loader: a shipped file, damaged at random, loads usable or is refused.

Each example takes one shipped config file, applies one to three random
mutations (delete a key, put a value of the wrong kind there, add an unknown
key, duplicate a list item; or empty the document, make it a non-mapping, break
the YAML) and writes it as UTF-8, UTF-8 with a byte-order mark or GB18030.
The loader must then either return an object that is usable (its invariants
hold and the code that consumes it runs) or raise its own error, naming the
file and a key path of the document. Any other exception is a bug.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.analysis.textcode import DICTIONARY_PATH, DictionaryError, code_texts, load_dictionary
from workbench.campaigns.playbook import COLOURS, LANGUAGES, PLAYBOOKS_DIR, PlaybookError, load_playbook
from workbench.campaigns.scripts import render_script
from workbench.configcheck import ConfigChecker, problem_lines
from workbench.evaluation.config import SETTINGS_PATH, EvaluationConfigError, load_settings
from workbench.runner.config import CONFIG_DIR, PipelineConfigError, load_config
from workbench.scoring.config import ALL_STAGES, INDUSTRIES_DIR, STAGES, ScoringConfigError, load_industry
from workbench.scoring.stages import contact_policy
from workbench.surveys.taxonomy import REASON_CODES, TAXONOMY_PATH, TaxonomyError, load_reason_taxonomy
from workbench.surveys.template import TEMPLATES_DIR, TemplateError, load_template, skip_hint
from workbench.surveys.xlsform import xlsform_frames

# --------------------------------------------------------------------------- what "usable" means per loader


def industry_usable(cfg) -> None:
    limits = [cfg.stage_limits[s] for s in STAGES[:-1]]
    assert limits == sorted(limits) and len(set(limits)) == len(limits)
    for index in (cfg.churn, cfg.early_warning):
        assert abs(sum(i.weight for i in index.indicators) - 1) < 1e-6
        assert all(i.low < i.high for i in index.indicators) and 0 <= index.threshold <= 100
    assert 2 <= cfg.tier_count <= 5 and len(cfg.tier_shares) == cfg.tier_count
    assert abs(sum(cfg.tier_weights.values()) - 1) < 1e-6
    policy = contact_policy(cfg)  # what the campaign stage reads from an industry
    assert list(policy["stage"]) == list(ALL_STAGES)
    assert all(isinstance(t, str) and t for t in policy["zh"]) and all(isinstance(t, str) and t for t in policy["en"])


def playbook_usable(pb) -> None:
    for stage in ALL_STAGES:
        assert pb.gap_days(stage) >= 1 and pb.monthly_cap(stage) >= 0
        pb.stage_is_quiet(stage), pb.stage_allows_offers(stage), pb.team(stage), pb.stage_channels(stage)
    last = pb.channels[-1]
    assert last.tiers is None and last.stages is None and last.steps is None
    for family, script in pb.scripts.items():
        assert sorted(script.steps) == list(range(1, len(script.steps) + 1))
        for step, colour, lang in itertools.product(script.steps, COLOURS, LANGUAGES):
            bundle = next(iter(pb.bundles))
            for b in (bundle, None):
                texts = render_script(pb, family, step, colour, lang, name="王伟", agent="A1", bundle=b,
                                      valid_until="2026-11-30", store="S1")
                assert all(isinstance(t, str) and t for t in texts.values())
    assert 0 <= pb.holdout_share <= 0.5


def settings_usable(s) -> None:
    assert s.months and all(1 <= m <= 12 for m in s.months)
    for channel in ("phone", "sms", None, "fax"):
        assert s.window_days(channel) >= 1
    assert 0 < s.alpha <= 0.5 and s.resamples >= 100


def pipeline_usable(cfg) -> None:
    placed: set[str] = set()
    for step in cfg.steps:  # dependency order
        assert set(step.needs) <= placed, step.name
        placed.add(step.name)
        assert cfg.step(step.name) is step and (step.notebook is None) != (step.hook is None)
        assert isinstance(step.description, str) and isinstance(step.parameters, dict)
    assert len(placed) == len(cfg.steps) and cfg.timeout > 0


def template_usable(survey) -> None:
    names = [q.name for q in survey.questions]
    assert len(set(names)) == len(names)
    json.dumps(survey.to_dict(), ensure_ascii=False)  # stored as JSON in the surveys table
    for q in survey.questions:
        assert set(q.label) >= {"zh", "en"}
        q.answers
        for lang in ("zh", "en"):
            skip_hint(survey, q, lang)
    frames = xlsform_frames(survey)  # the XLSForm sheets the field teams get
    assert len(frames["survey"]) >= len(survey.questions)


def taxonomy_usable(frame: pd.DataFrame) -> None:
    assert sorted(frame["code"]) == sorted(REASON_CODES)
    for col in ("label_zh", "label_en", "family", "family_zh", "family_en"):
        assert all(isinstance(v, str) and v.strip() for v in frame[col]), col


def dictionary_usable(frame: pd.DataFrame) -> None:
    assert set(frame["reason"]) <= set(REASON_CODES)
    assert not frame.duplicated("keyword").any()
    texts = pd.DataFrame({"case_id": [str(i) for i in range(len(frame))], "question": "why",
                          "text": [f"…{k}…" for k in frame["keyword"]]})
    coded, _ = code_texts(texts, frame)
    found = set(zip(coded["case_id"], coded["reason"]))
    assert all((str(i), r) in found for i, r in enumerate(frame["reason"]))  # each keyword codes its own text


@dataclass(frozen=True)
class Loader:
    name: str
    files: tuple[Path, ...]
    load: Callable[[Path], Any]
    error: type[Exception]
    usable: Callable[[Any], None]


LOADERS = [
    Loader("industry", tuple(sorted(INDUSTRIES_DIR.glob("*.yaml"))), load_industry, ScoringConfigError, industry_usable),
    Loader("playbook", tuple(sorted(PLAYBOOKS_DIR.glob("*.yaml"))), load_playbook, PlaybookError, playbook_usable),
    Loader("evaluation", (SETTINGS_PATH,), lambda p: load_settings(path=p), EvaluationConfigError, settings_usable),
    Loader("pipeline", tuple(sorted(CONFIG_DIR.glob("*.yaml"))), load_config, PipelineConfigError, pipeline_usable),
    Loader("template", tuple(p for p in sorted(TEMPLATES_DIR.glob("*.yaml")) if p != TAXONOMY_PATH), load_template,
           TemplateError, template_usable),
    Loader("taxonomy", (TAXONOMY_PATH,), load_reason_taxonomy, TaxonomyError, taxonomy_usable),
    Loader("dictionary", (DICTIONARY_PATH,), load_dictionary, DictionaryError, dictionary_usable),
]

# --------------------------------------------------------------------------- mutations

WRONG_VALUES = st.sampled_from([
    [], {}, "text", None, 3.5, 0, True, False, 10 ** 30, 10 ** 400, -1, -7.25, "😀", "客户" * 3000 + "😀",
    "x" * 20_000, "=HYPERLINK(\"http://x\")", "+86 138 0000 0000", "-3", "@SUM(A1)", "{", "{name!z}", "{0}",
    dt.date(2026, 10, 1), [1, "a", None], {"zh": "中", "en": None}, {"1": {"2": {"3": []}}},
]).map(copy.deepcopy)  # a fresh copy: a later edit must not change the pool
AWKWARD_START = st.sampled_from(["", "=", "+", "-", "@", "😀"])
AWKWARD_END = st.sampled_from(["", "😀", " 客户" * 2000, "{{literal braces}}"])
UNKNOWN_KEYS = st.sampled_from(["surprise", "Campaign", 1, None, True, "=cmd|' /C calc'!A0", "备注", "😀",
                                "k" * 500])


def paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (keys and list indexes) into the document, the document itself first."""
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += paths(v, prefix + (i,))
    return out


def at(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


@st.composite
def mutated(draw, doc: Any) -> tuple[Any, list[str]]:
    """The document after one to three random edits, and what they were (for the failure report)."""
    doc = copy.deepcopy(doc)
    done = []
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        kind = draw(st.sampled_from(["delete", "replace", "replace", "unknown_key", "duplicate", "awkward_text"]))
        every = paths(doc)
        if kind in ("delete", "replace"):
            every = every[1:]
        elif kind == "unknown_key":
            every = [p for p in every if isinstance(at(doc, p), dict)]
        elif kind == "awkward_text":
            every = [p for p in every if isinstance(at(doc, p), str)]
        else:
            every = [p for p in every if isinstance(at(doc, p), list) and at(doc, p)]
        if not every:
            continue
        depth = draw(st.sampled_from(sorted({len(p) for p in every})))  # top-level keys as often as deep ones
        path = draw(st.sampled_from([p for p in every if len(p) == depth]))
        target = at(doc, path)
        if kind == "delete":
            del at(doc, path[:-1])[path[-1]]
        elif kind == "replace":
            at(doc, path[:-1])[path[-1]] = draw(WRONG_VALUES)
        elif kind == "unknown_key":
            target[draw(UNKNOWN_KEYS)] = draw(WRONG_VALUES)
        elif kind == "awkward_text":  # the same text as a spreadsheet would misread it, or very long, or emoji
            at(doc, path[:-1])[path[-1]] = draw(AWKWARD_START) + target + draw(AWKWARD_END)
        else:
            target.append(copy.deepcopy(target[draw(st.integers(0, len(target) - 1))]))
        done.append(f"{kind} {path}")
    return doc, done


def broken_yaml(text: str, where: int, how: int) -> str:
    """The text with a line of broken YAML inserted at a random place (inside a multi-line text it is just text)."""
    lines = text.splitlines()
    i = where % (len(lines) + 1)
    bad = ["key: [unclosed", "\tindented: with a tab", "a: b: c", "- item\nkey: value", "{oops", "'unterminated",
           "x: *undefined_alias", "  : : :"][how % 8]
    return "\n".join(lines[:i] + [bad] + lines[i:]) + "\n"


class Case:
    """One damaged file; its repr (shown when a case fails) says what was done, not the whole document."""

    def __init__(self, source: Path, shape: str, edits: list[str], encoding: str, doc: Any, text: str,
                 siblings: tuple[Path, ...]):
        self.source, self.shape, self.edits, self.encoding = source, shape, edits, encoding
        self.doc, self.text, self.siblings = doc, text, siblings  # siblings: the loader's shipped files

    def __repr__(self) -> str:
        return f"Case({self.source.name}, {self.shape}, {self.edits}, {self.encoding})"


@functools.cache
def shipped(source: Path) -> Any:
    return yaml.safe_load(source.read_text(encoding="utf-8"))


@st.composite
def cases(draw, loader: Loader) -> Case:
    source = draw(st.sampled_from(loader.files))
    original = shipped(source)
    shape = draw(st.sampled_from(["edit"] * 6 + ["empty", "not_a_mapping", "bad_yaml"]))
    edits: list[str] = []
    if shape == "edit":
        doc, edits = draw(mutated(original))
    elif shape == "empty":
        doc = None
    elif shape == "not_a_mapping":
        doc = draw(st.sampled_from([[], ["a", "b"], "just text", 42, [original]]))
    else:
        doc = original
    text = "" if shape == "empty" and draw(st.booleans()) else \
        yaml.dump(doc, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)
    if shape == "bad_yaml":
        text = broken_yaml(text, draw(st.integers(0, 10_000)), draw(st.integers(0, 7)))
    return Case(source, shape, edits, draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "gb18030"])), doc, text,
                loader.files)


# --------------------------------------------------------------------------- the property


def keys_of(doc: Any) -> set[str]:
    """Every mapping key anywhere in the document, as text."""
    if isinstance(doc, dict):
        return {str(k) for k in doc}.union(*map(keys_of, doc.values()))
    if isinstance(doc, list):
        return set().union(*map(keys_of, doc))
    return set()


def names_a_key(message: str, keys: set[str]) -> bool:
    """True when one of ``keys`` stands in ``message`` as a component of a key path (``a.KEY[0]: ...``)."""
    return any(re.search(r"(^|: |\.|\()" + re.escape(k) + r"($|\.|\[|:| \(|\))", message, re.M) for k in keys)


def check_refusal(message: str, path: Path, case: Case) -> None:
    """The error names the file and, for an edit of the document, a key path of this kind of file
    (a key of a shipped one, or of the edited one: a missing key may come from an ``extends`` parent)."""
    assert path.name in message, message
    if case.encoding == "gb18030" and not case.text.isascii():
        assert "not UTF-8" in message and "GB18030" in message, message
        return
    if case.shape != "edit":
        return
    keys = set().union(*(keys_of(shipped(f)) for f in case.siblings)) | keys_of(case.doc) | {"(top level)"}
    assert names_a_key(message, keys), f"no key path of the document in: {message[:500]}"


#: CONFIG_PROPERTY_SCALE=20 tries twenty times as many examples (a longer hunt than CI's budget allows).
SCALE = int(os.environ.get("CONFIG_PROPERTY_SCALE", "1"))
SETTINGS = settings(derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
EXAMPLES = {"industry": 150, "playbook": 150, "evaluation": 150, "pipeline": 150, "template": 150, "taxonomy": 120,
            "dictionary": 120}


@pytest.mark.parametrize("loader", LOADERS, ids=[lo.name for lo in LOADERS])
def test_damaged_configs_load_usable_or_are_refused_naming_file_and_key(loader, tmp_path):
    outcomes = {"loaded": 0, "refused": 0}
    numbers = itertools.count()

    @settings(SETTINGS, max_examples=EXAMPLES[loader.name] * SCALE)
    @given(case=cases(loader))
    def run(case):
        path = tmp_path / f"{next(numbers)}_{case.source.name}"  # a new name: no loader cache answers
        path.write_bytes(case.text.encode(case.encoding))
        try:
            loaded = loader.load(path)
        except loader.error as exc:
            check_refusal(str(exc), path, case)
            outcomes["refused"] += 1
            return
        assert not (case.encoding == "gb18030" and not case.text.isascii()), "GB18030 read as UTF-8"
        loader.usable(loaded)
        outcomes["loaded"] += 1

    run()
    assert outcomes["loaded"] and outcomes["refused"], outcomes  # both sides of the property were tried


@pytest.mark.parametrize("loader", LOADERS, ids=[lo.name for lo in LOADERS])
def test_shipped_files_load_usable_with_or_without_a_byte_order_mark(loader, tmp_path):
    for i, source in enumerate(loader.files):
        text = source.read_text(encoding="utf-8")
        loader.usable(loader.load(source))
        bom = tmp_path / f"bom{i}_{source.name}"
        bom.write_bytes(text.encode("utf-8-sig"))
        loader.usable(loader.load(bom))


@pytest.mark.parametrize("loader", LOADERS, ids=[lo.name for lo in LOADERS])
def test_gb18030_file_is_refused_as_not_utf8_naming_the_file(loader, tmp_path):
    source = loader.files[0]
    text = source.read_text(encoding="utf-8")
    if text.isascii():
        text += "\n# 中文备注\n"
    path = tmp_path / f"gbk_{source.name}"
    path.write_bytes(text.encode("gb18030"))
    with pytest.raises(loader.error) as err:
        loader.load(path)
    assert str(path) in str(err.value) and "not UTF-8" in str(err.value) and "GB18030" in str(err.value)


class _Refused(ValueError):
    pass


def test_shared_checker_raises_at_the_first_problem_naming_file_and_key():
    ck = ConfigChecker("f.yaml", _Refused)
    with pytest.raises(_Refused, match=r"^f\.yaml: a\.b: expected a number, got 'x'$"):
        ck.number("x", "a.b")
    with pytest.raises(_Refused, match=r"^f\.yaml: \(top level\): expected a mapping, got list$"):
        ck.mapping([], "")
    with pytest.raises(_Refused, match=r"^f\.yaml: n: expected a number, got 1000.*\(401 characters\)$"):
        ck.number(10 ** 400, "n")  # too big for a float: refused, and the message stays short
    assert ck.whole(3, "w", 1, 5) == 3 and ck.number(2, "x", 0, 2) == 2.0


def test_shared_checker_collects_every_problem_and_raises_them_together():
    ck = ConfigChecker("f.yaml", lambda problems: _Refused("\n".join(problem_lines(problems))), collect=True)
    assert ck.mapping({"y": 1, 2: "two", None: 0}, "top", {"y", "z"}, {"z"}) == {"y": 1, 2: "two", None: 0}
    assert ck.flag("yes", "top.flag", default=False) is False
    assert ck.choices(["phone", ["fax"]], "top.use", ("phone", "sms"), "channel") == ()
    assert ck.choices([True], "top.steps", (1, 2), "step") == ()  # YAML's true is no step 1
    with pytest.raises(_Refused) as err:
        ck.finish()
    assert str(err.value).splitlines() == [
        "f.yaml: top.2: unknown key; allowed keys are ['y', 'z']",
        "f.yaml: top.None: unknown key; allowed keys are ['y', 'z']",
        "f.yaml: top.z: missing",
        "f.yaml: top.flag: expected true or false, got 'yes'",
        "f.yaml: top.use: unknown channel ['fax']; allowed: ['phone', 'sms']",
        "f.yaml: top.steps: unknown step True; allowed: ['1', '2']",
    ]
