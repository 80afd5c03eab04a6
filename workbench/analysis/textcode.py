"""Code free-text answers to reason codes with an editable zh/en keyword dictionary.

The dictionary (``workbench/analysis/text_codes.yaml`` by default; any YAML of the same shape may be
passed) is validated on load: every code must be in the shared taxonomy, keywords must be non-empty text,
and one keyword may not sit under two codes; errors name the file and the key. Matching is
case-insensitive substring matching, so it works for Chinese without word segmentation. A text may get
several codes; texts matching nothing are returned separately for a person to code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from workbench.configcheck import ConfigChecker, Problem, problem_lines, shown
from workbench.errors import ConfigError
from workbench.surveys.taxonomy import REASON_CODES
from workbench.surveys.template import Survey
from workbench.yamlfiles import read_yaml

DICTIONARY_PATH = Path(__file__).with_name("text_codes.yaml")
LANGS = ("zh", "en")


class DictionaryError(ConfigError):
    """The keyword dictionary is malformed; the message names the file and key of every problem."""


def _refused(problems: list[Problem]) -> DictionaryError:
    return DictionaryError("keyword dictionary refused:\n  " + "\n  ".join(problem_lines(problems)))


def load_dictionary(path: str | Path | None = None) -> pd.DataFrame:
    """The dictionary as a tidy frame (reason, language, keyword), validated."""
    p = Path(path) if path else DICTIONARY_PATH
    ck = ConfigChecker(str(p), _refused, collect=True)
    raw = ck.mapping(read_yaml(p, DictionaryError), "", {"reasons"}, {"reasons"})
    rows, seen = [], {}
    for code, entry in ck.mapping(raw.get("reasons", {}), "reasons").items():
        where = f"reasons.{code}"
        if code not in REASON_CODES:
            ck.fail(where, f"{shown(code)} is not a reason code of the taxonomy")
            continue
        if not isinstance(entry, dict):
            ck.fail(where, "expected a mapping with zh and/or en keyword lists")
            continue
        for lang, words in entry.items():
            if lang not in LANGS:
                ck.fail(f"{where}.{lang}", "unknown language (use zh or en)")
                continue
            if not isinstance(words, list):
                ck.fail(f"{where}.{lang}", "expected a list of keywords")
                continue
            for i, w in enumerate(words):
                if ck.plain_text(w, f"{where}.{lang}[{i}]") is None:
                    continue
                key = w.strip().lower()
                if key in seen and seen[key] != code:
                    ck.fail(f"{where}.{lang}[{i}]", f"keyword {shown(w)} is also listed under {seen[key]}")
                elif key not in seen:  # the same keyword twice under one code counts once
                    seen[key] = code
                    rows.append({"reason": code, "language": lang, "keyword": key})
    ck.finish()
    return pd.DataFrame(rows, columns=["reason", "language", "keyword"])


def free_texts(survey: Survey, wide: pd.DataFrame) -> pd.DataFrame:
    """Tidy free texts (case_id, question, text): free-text questions and every ``<q>_other``."""
    names = [q.name for q in survey.questions if q.type == "free_text"] + \
            [f"{q.name}_other" for q in survey.questions if q.other_choice is not None]
    parts = []
    for n in names:
        if n in wide.columns:
            s = wide[n].astype(str)
            s = s[s.str.strip() != ""]
            parts.append(pd.DataFrame({"case_id": s.index.astype(str), "question": n, "text": s.to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["case_id", "question", "text"])


def code_texts(texts: pd.DataFrame, dictionary: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(coded, uncoded): coded has case_id, question, text, reason, keyword (first keyword found per
    reason); uncoded has the texts that matched nothing."""
    d = load_dictionary() if dictionary is None else dictionary
    cols = ["case_id", "question", "text", "reason", "keyword"]
    if texts.empty:
        return pd.DataFrame(columns=cols), texts.iloc[:0]
    low = texts["text"].astype(str).str.lower()
    hits = []
    for reason, grp in d.groupby("reason", sort=False):
        words = sorted(grp["keyword"], key=len, reverse=True)
        found = low.str.extract("(" + "|".join(re.escape(w) for w in words) + ")", expand=False)
        m = found.notna()
        if m.any():
            hits.append(texts[m].assign(reason=reason, keyword=found[m]))
    coded = pd.concat(hits, ignore_index=False) if hits else pd.DataFrame(columns=cols)
    uncoded = texts.loc[~texts.index.isin(coded.index)]
    coded = coded.sort_index(kind="stable")[cols].reset_index(drop=True)
    return coded, uncoded.reset_index(drop=True)
