"""Evaluation settings: the bundled ``settings.yaml``, overridden per campaign, validated with errors naming the key.

A campaign's playbook definition may carry an ``evaluation:`` mapping with
any of the keys below (for example its own ``attribution_days``); anything it
leaves out comes from ``workbench/evaluation/settings.yaml``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from workbench.evaluation.stats import CORRECTIONS
from workbench.yamlfiles import read_yaml

SETTINGS_PATH = Path(__file__).with_name("settings.yaml")
BREAKDOWN_COLUMNS = ("tier", "stage", "reason", "reason_source", "channel", "script_step", "agent", "bundle")
CHANNELS = ("phone", "sms", "wechat", "email", "letter", "visit")


class EvaluationConfigError(ValueError):
    """The evaluation settings are invalid; the message names the source and the key."""


@dataclass(frozen=True)
class EvaluationSettings:
    source: str
    month_days: int
    months: tuple[int, ...]
    alpha: float
    correction: str
    attribution_days: dict[str, int]
    breakdowns: tuple[str, ...]
    min_customers: int
    min_expected: float
    spend_cap_percentile: float
    resamples: int
    seed: int
    power: float
    srm_alpha: float
    meaningful: dict[str, float]
    reached_outcomes: tuple[str, ...]
    margin_rate: float
    let_go_after_contacts: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def window_days(self, channel: Any) -> int:
        """Attribution window of a channel (the default for unknown or missing channels)."""
        return self.attribution_days.get(str(channel), self.attribution_days["default"])


def _fail(source: str, key: str, why: str):
    raise EvaluationConfigError(f"{source}: {key}: {why}")


def _num(source: str, doc: dict, key: str, lo: float, hi: float, integer: bool = False) -> float:
    value = doc.get(key.split(".")[-1])
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(source, key, f"expected a number, got {value!r}")
    if integer and int(value) != value:
        _fail(source, key, f"expected a whole number, got {value!r}")
    if not lo <= value <= hi:
        _fail(source, key, f"{value} is outside {lo}..{hi}")
    return int(value) if integer else float(value)


def _map(source: str, doc: Any, key: str, allowed: set[str]) -> dict:
    if not isinstance(doc, dict):
        _fail(source, key, f"expected a mapping, got {type(doc).__name__}")
    unknown = sorted(set(doc) - allowed)
    if unknown:
        _fail(source, f"{key}.{unknown[0]}", f"unknown key; allowed keys are {sorted(allowed)}")
    missing = sorted(allowed - set(doc))
    if missing:
        _fail(source, f"{key}.{missing[0]}", "missing")
    return doc


TOP_KEYS = {"month_days", "months", "alpha", "correction", "attribution_days", "breakdowns", "small_cell",
            "spend_cap_percentile", "bootstrap", "power", "srm_alpha", "meaningful", "reached_outcomes",
            "margin_rate", "let_go_after_contacts"}


def parse_settings(doc: Any, source: str = "<settings>") -> EvaluationSettings:
    """Validate a full settings mapping (every key present, no unknown keys)."""
    doc = _map(source, doc, "", TOP_KEYS) if isinstance(doc, dict) else _fail(source, "(top)", "expected a mapping")
    months = doc["months"]
    if not isinstance(months, list) or not months or not all(isinstance(m, int) and 1 <= m <= 12 for m in months):
        _fail(source, "months", f"expected a list of month numbers 1..12, got {months!r}")
    if doc["correction"] not in CORRECTIONS:
        _fail(source, "correction", f"must be one of {list(CORRECTIONS)}, got {doc['correction']!r}")
    att = doc["attribution_days"]
    if not isinstance(att, dict) or "default" not in att:
        _fail(source, "attribution_days", "expected a mapping with a 'default' entry")
    for ch in att:
        if ch != "default" and ch not in CHANNELS:
            _fail(source, f"attribution_days.{ch}", f"unknown channel; channels are {list(CHANNELS)}")
        _num(source, att, f"attribution_days.{ch}", 1, 366, integer=True)
    bds = doc["breakdowns"]
    if not isinstance(bds, list) or not all(b in BREAKDOWN_COLUMNS for b in bds):
        _fail(source, "breakdowns", f"expected a list drawn from {list(BREAKDOWN_COLUMNS)}, got {bds!r}")
    small = _map(source, doc["small_cell"], "small_cell", {"min_customers", "min_expected"})
    boot = _map(source, doc["bootstrap"], "bootstrap", {"resamples", "seed"})
    meaningful = _map(source, doc["meaningful"], "meaningful", {"came_back", "spend"})
    reached = doc["reached_outcomes"]
    if not isinstance(reached, list) or not all(isinstance(r, str) for r in reached):
        _fail(source, "reached_outcomes", f"expected a list of outcome codes, got {reached!r}")
    return EvaluationSettings(
        source=source,
        month_days=_num(source, doc, "month_days", 7, 31, integer=True),
        months=tuple(sorted(set(months))),
        alpha=_num(source, doc, "alpha", 1e-6, 0.5),
        correction=doc["correction"],
        attribution_days={k: int(v) for k, v in att.items()},
        breakdowns=tuple(bds),
        min_customers=_num(source, small, "small_cell.min_customers", 1, 10**6, integer=True),
        min_expected=_num(source, small, "small_cell.min_expected", 0, 1000),
        spend_cap_percentile=_num(source, doc, "spend_cap_percentile", 50, 100),
        resamples=_num(source, boot, "bootstrap.resamples", 100, 100_000, integer=True),
        seed=_num(source, boot, "bootstrap.seed", 0, 2**63 - 1, integer=True),
        power=_num(source, doc, "power", 0.5, 0.99),
        srm_alpha=_num(source, doc, "srm_alpha", 1e-9, 0.1),
        meaningful={"came_back": _num(source, meaningful, "meaningful.came_back", 0, 1),
                    "spend": _num(source, meaningful, "meaningful.spend", 0, 1e9)},
        reached_outcomes=tuple(reached),
        margin_rate=_num(source, doc, "margin_rate", 0, 1),
        let_go_after_contacts=_num(source, doc, "let_go_after_contacts", 1, 20, integer=True),
        raw=copy.deepcopy(doc),
    )


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def load_settings(overrides: dict[str, Any] | None = None, *, path: str | Path | None = None,
                  override_source: str = "campaign definition: evaluation") -> EvaluationSettings:
    """The bundled settings (or ``path``), with ``overrides`` merged in; validated."""
    p = Path(path) if path else SETTINGS_PATH
    base = read_yaml(p, EvaluationConfigError)
    if not overrides:
        return parse_settings(base, str(p))
    if not isinstance(overrides, dict):
        _fail(override_source, "(top)", "expected a mapping")
    unknown = sorted(set(overrides) - TOP_KEYS)
    if unknown:
        _fail(override_source, unknown[0], f"unknown key; allowed keys are {sorted(TOP_KEYS)}")
    return parse_settings(_merge(base, overrides), f"{p} + {override_source}")
