"""Evaluation settings: the bundled ``settings.yaml``, overridden per campaign, validated with errors naming the key.

A campaign's playbook definition may carry an ``evaluation:`` mapping with
any of the keys below (for example its own ``attribution_days``); anything it
leaves out comes from ``workbench/evaluation/settings.yaml``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.configcheck import ConfigChecker, shown
from workbench.errors import ConfigError
from workbench.evaluation.stats import SPENDING
from workbench.stats import CORRECTIONS
from workbench.scoring.config import CHANNELS
from workbench.yamlfiles import read_yaml

SETTINGS_PATH = Path(__file__).with_name("settings.yaml")
BREAKDOWN_COLUMNS = ("tier", "stage", "reason", "reason_source", "channel", "script_step", "agent", "bundle")


class EvaluationConfigError(ConfigError):
    """The evaluation settings are invalid; the message names the source and the key."""


@dataclass(frozen=True)
class EvaluationSettings:
    source: str
    month_days: int
    months: tuple[int, ...]
    alpha: float
    correction: str
    sequential: str
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
    margin_rate: float | None
    let_go_after_contacts: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def window_days(self, channel: Any) -> int:
        """Attribution window of a channel (the default for unknown or missing channels)."""
        return self.attribution_days.get(str(channel), self.attribution_days["default"])


TOP_KEYS = {"month_days", "months", "alpha", "correction", "attribution_days", "breakdowns", "small_cell",
            "spend_cap_percentile", "bootstrap", "power", "srm_alpha", "meaningful", "reached_outcomes",
            "margin_rate", "let_go_after_contacts", "sequential"}


def parse_settings(doc: Any, source: str = "<settings>") -> EvaluationSettings:
    """Validate a full settings mapping (every key present, no unknown keys)."""
    ck = ConfigChecker(source, EvaluationConfigError)
    doc = ck.mapping(doc, "", TOP_KEYS, TOP_KEYS)
    months = doc["months"]
    if not isinstance(months, list) or not months or not all(isinstance(m, int) and not isinstance(m, bool) and 1 <= m <= 12 for m in months):
        ck.fail("months", f"expected a list of month numbers 1..12, got {shown(months)}")
    if not isinstance(doc["correction"], str) or doc["correction"] not in CORRECTIONS:
        ck.fail("correction", f"must be one of {list(CORRECTIONS)}, got {shown(doc['correction'])}")
    if not isinstance(doc["sequential"], str) or doc["sequential"] not in SPENDING:
        ck.fail("sequential", f"must be one of {list(SPENDING)}, got {shown(doc['sequential'])}")
    att = ck.mapping(doc["attribution_days"], "attribution_days")
    if "default" not in att:
        ck.fail("attribution_days", "expected a mapping with a 'default' entry")
    for ch, days in att.items():
        if ch != "default" and ch not in CHANNELS:
            ck.fail(f"attribution_days.{ch}", f"unknown channel; channels are {list(CHANNELS)}")
        ck.whole(days, f"attribution_days.{ch}", 1, 366)
    bds = doc["breakdowns"]
    if not isinstance(bds, list) or not all(isinstance(b, str) and b in BREAKDOWN_COLUMNS for b in bds):
        ck.fail("breakdowns", f"expected a list drawn from {list(BREAKDOWN_COLUMNS)}, got {shown(bds)}")
    small = ck.mapping(doc["small_cell"], "small_cell", {"min_customers", "min_expected"}, {"min_customers", "min_expected"})
    boot = ck.mapping(doc["bootstrap"], "bootstrap", {"resamples", "seed"}, {"resamples", "seed"})
    meaningful = ck.mapping(doc["meaningful"], "meaningful", {"came_back", "spend"}, {"came_back", "spend"})
    reached = doc["reached_outcomes"]
    if not isinstance(reached, list) or not all(isinstance(r, str) for r in reached):
        ck.fail("reached_outcomes", f"expected a list of outcome codes, got {shown(reached)}")
    return EvaluationSettings(
        source=source,
        month_days=ck.whole(doc["month_days"], "month_days", 7, 31),
        months=tuple(sorted(set(months))),
        alpha=ck.number(doc["alpha"], "alpha", 1e-6, 0.5),
        correction=doc["correction"],
        sequential=doc["sequential"],
        attribution_days={str(k): int(v) for k, v in att.items()},
        breakdowns=tuple(bds),
        min_customers=ck.whole(small["min_customers"], "small_cell.min_customers", 1, 10**6),
        min_expected=ck.number(small["min_expected"], "small_cell.min_expected", 0, 1000),
        spend_cap_percentile=ck.number(doc["spend_cap_percentile"], "spend_cap_percentile", 50, 100),
        resamples=ck.whole(boot["resamples"], "bootstrap.resamples", 100, 100_000),
        seed=ck.whole(boot["seed"], "bootstrap.seed", 0, 2**63 - 1),
        power=ck.number(doc["power"], "power", 0.5, 0.99),
        srm_alpha=ck.number(doc["srm_alpha"], "srm_alpha", 1e-9, 0.1),
        meaningful={"came_back": ck.number(meaningful["came_back"], "meaningful.came_back", 0, 1),
                    "spend": ck.number(meaningful["spend"], "meaningful.spend", 0, 1e9)},
        reached_outcomes=tuple(reached),
        margin_rate=None if doc["margin_rate"] is None else ck.number(doc["margin_rate"], "margin_rate", 0, 1),
        let_go_after_contacts=ck.whole(doc["let_go_after_contacts"], "let_go_after_contacts", 1, 20),
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
    settings = parse_settings(base, str(p))
    if not overrides:
        return settings
    ConfigChecker(override_source, EvaluationConfigError).mapping(overrides, "", TOP_KEYS)
    return parse_settings(_merge(base, overrides), f"{p} + {override_source}")
