"""Per-industry scoring configuration: load a YAML file and refuse anything malformed, naming the key.

Every threshold and weight the scores use lives in ``industries/<name>.yaml``
so a manager can read and change them without touching code. The file is
checked completely on load: an unknown indicator, weights that do not sum to 1
or thresholds out of order stop the run with a message naming the file and the
key, instead of producing quietly wrong scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.configcheck import ConfigChecker, shown
from workbench.errors import ConfigError
from workbench.yamlfiles import bundled_names, read_config

INDUSTRIES_DIR = Path(__file__).with_name("industries")

#: The churn indicators the workbench can compute (see ``churn.indicator_values``).
INDICATORS = ("overdue", "frequency_drop", "spend_drop", "engagement_drop", "complaints")
#: Lifecycle stages in order of days since the last purchase; ``never`` = no purchase yet.
STAGES = ("active", "silent", "sleeping", "lost")
ALL_STAGES = (*STAGES, "never")
#: Engagement kinds that carry non-spend value (article 000); ``referral_bought`` = a referred friend who bought.
ENGAGEMENT_KINDS = ("referral_bought", "event_attended", "survey_answered", "forum_post",
                    "answered_question", "suggestion")
TIER_COMPONENTS = ("recency", "frequency", "monetary", "engagement")
#: How a stage may be contacted (``none``: not at all) and through which channels.
CONTACT_MODES = ("keep_in_touch", "light_touch", "limited", "reactivation_only", "welcome", "none")
CHANNELS = ("phone", "sms", "wechat", "email", "letter", "visit")
_WEIGHT_TOLERANCE = 1e-6


class ScoringConfigError(ConfigError):
    """The industry configuration is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Indicator:
    """One weighted indicator: its raw value is mapped linearly from ``low`` (0) to ``high`` (1)."""

    name: str
    weight: float
    low: float
    high: float


@dataclass(frozen=True)
class IndexConfig:
    """A weighted index over indicators (the churn index, or the lighter early warning)."""

    indicators: tuple[Indicator, ...]
    threshold: float                      # index value (0-100) at or above which a customer is flagged
    stages: tuple[str, ...] = ()          # stages the index applies to (early warning only)


@dataclass(frozen=True)
class IndustryConfig:
    name: str
    source: str
    label_en: str
    label_zh: str
    default_interval_days: float
    stage_limits: dict[str, float]        # active/silent/sleeping -> upper bound in days (inclusive)
    contact_policy: dict[str, dict[str, Any]]
    churn: IndexConfig
    early_warning: IndexConfig
    tier_count: int
    tier_shares: tuple[float, ...]
    tier_weights: dict[str, float]
    necessary_share: float
    recent_share: float
    engagement_points: dict[str, float]
    clv_time_unit_days: float
    clv_horizon_days: float
    clv_fit_sample: int
    clv_min_customers: int
    clv_seed: int
    winback_floor: float
    winback_stages: tuple[str, ...]
    raw: dict[str, Any] = field(repr=False, default_factory=dict)


def available_industries() -> list[str]:
    """Names of the bundled industry configurations."""
    return bundled_names(INDUSTRIES_DIR)


def load_industry(industry: str | Path) -> IndustryConfig:
    """Load a bundled industry by name (``clinic``) or any YAML file by path, validated."""
    doc, source = read_config(industry, INDUSTRIES_DIR, ScoringConfigError, "industry")
    return parse_industry(doc, source)


def _weights_sum_to_one(ck: ConfigChecker, weights: dict[str, float], key: str) -> None:
    total = sum(weights.values())
    if abs(total - 1.0) > _WEIGHT_TOLERANCE:
        ck.fail(key, f"weights must sum to 1, they sum to {total:g} ({', '.join(f'{k}={v:g}' for k, v in weights.items())})")


def _parse_index(ck: ConfigChecker, doc: Any, key: str, with_stages: bool) -> IndexConfig:
    allowed = {"indicators", "threshold"} | ({"stages"} if with_stages else set())
    doc = ck.mapping(doc, key, allowed, {"indicators", "threshold"})
    inds = ck.mapping(doc["indicators"], f"{key}.indicators")
    if not inds:
        ck.fail(f"{key}.indicators", "no indicators")
    parsed = []
    for name, spec in inds.items():
        ikey = f"{key}.indicators.{name}"
        if name not in INDICATORS:
            ck.fail(ikey, f"unknown indicator {shown(name)}; known indicators are {list(INDICATORS)}")
        spec = ck.mapping(spec, ikey, {"weight", "low", "high"}, {"weight", "low", "high"})
        weight = ck.number(spec["weight"], f"{ikey}.weight", 0.0, 1.0)
        low = ck.number(spec["low"], f"{ikey}.low")
        high = ck.number(spec["high"], f"{ikey}.high")
        if not low < high:
            ck.fail(f"{ikey}.high", f"thresholds out of order: low ({low:g}) must be below high ({high:g})")
        parsed.append(Indicator(name, weight, low, high))
    _weights_sum_to_one(ck, {i.name: i.weight for i in parsed}, f"{key}.indicators")
    threshold = ck.number(doc["threshold"], f"{key}.threshold", 0.0, 100.0)
    stages: tuple[str, ...] = ()
    if with_stages:
        raw = doc.get("stages", ["active", "silent"])
        if not isinstance(raw, list) or not raw:
            ck.fail(f"{key}.stages", "expected a non-empty list of stages")
        for s in raw:
            if s not in STAGES:
                ck.fail(f"{key}.stages", f"unknown stage {shown(s)}; stages are {list(STAGES)}")
        stages = tuple(raw)
    return IndexConfig(tuple(parsed), threshold, stages)


def _parse_policy(ck: ConfigChecker, doc: Any, key: str) -> dict[str, Any]:
    """One stage's contact policy: how (mode, channels, offer, team), how often, and what it means (zh, en)."""
    p = ck.mapping(doc, key, {"contact", "max_contacts_per_month", "channels", "offer", "handled_by", "en", "zh"},
                   {"contact", "max_contacts_per_month", "en", "zh"})
    if not isinstance(p["contact"], str) or p["contact"] not in CONTACT_MODES:
        ck.fail(f"{key}.contact", f"unknown contact mode {shown(p['contact'])}; modes are {list(CONTACT_MODES)}")
    ck.number(p["max_contacts_per_month"], f"{key}.max_contacts_per_month", 0, 31)
    channels = p.get("channels", [])
    if not isinstance(channels, list) or any(not isinstance(c, str) or c not in CHANNELS for c in channels):
        ck.fail(f"{key}.channels", f"expected a list drawn from {list(CHANNELS)}, got {shown(channels)}")
    for name in ("offer", "handled_by"):  # optional: none = no offer / the customer service team
        if p.get(name) is not None:
            ck.plain_text(p[name], f"{key}.{name}")
    return {**p, "en": ck.plain_text(p["en"], f"{key}.en"), "zh": ck.plain_text(p["zh"], f"{key}.zh")}


def default_tier_shares(k: int) -> tuple[float, ...]:
    """Pyramid shares for ``k`` tiers, top tier smallest: proportional to 1, 2, ..., k."""
    total = k * (k + 1) / 2
    return tuple(i / total for i in range(1, k + 1))


def parse_industry(doc: Any, source: str = "<config>") -> IndustryConfig:
    """Check a loaded industry document completely and build the configuration."""
    ck = ConfigChecker(source, ScoringConfigError)
    top = {"industry", "label_en", "label_zh", "default_interval_days", "stages", "contact_policy",
           "churn_index", "early_warning", "tiers", "clv", "winback"}
    doc = ck.mapping(doc, "", top, top - {"label_en", "label_zh"})
    name = ck.plain_text(doc["industry"], "industry")
    labels = {k: ck.plain_text(doc[k], k) if k in doc else name for k in ("label_en", "label_zh")}

    interval = ck.number(doc["default_interval_days"], "default_interval_days", 1.0)

    stages = ck.mapping(doc["stages"], "stages", set(STAGES[:-1]), set(STAGES[:-1]))
    limits = {s: ck.number(stages[s], f"stages.{s}", 1.0) for s in STAGES[:-1]}
    for before, after in zip(STAGES[:-2], STAGES[1:-1]):
        if not limits[before] < limits[after]:
            ck.fail(f"stages.{after}", f"thresholds out of order: {after} ({limits[after]:g} days) must be "
                                       f"above {before} ({limits[before]:g} days)")

    policy = ck.mapping(doc["contact_policy"], "contact_policy", set(ALL_STAGES), set(ALL_STAGES))
    contact = {s: _parse_policy(ck, policy[s], f"contact_policy.{s}") for s in ALL_STAGES}

    churn = _parse_index(ck, doc["churn_index"], "churn_index", with_stages=False)
    early = _parse_index(ck, doc["early_warning"], "early_warning", with_stages=True)
    if len(early.indicators) >= len(churn.indicators):
        ck.fail("early_warning.indicators", f"the early warning must use fewer indicators than the churn index "
                                            f"({len(early.indicators)} vs {len(churn.indicators)}; article 000)")

    tiers = ck.mapping(doc["tiers"], "tiers", {"count", "shares", "weights", "necessary_share", "recent_share",
                                               "engagement_points"},
                       {"count", "weights", "necessary_share", "recent_share", "engagement_points"})
    count = tiers["count"]
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= 5:
        ck.fail("tiers.count", f"expected a whole number from 2 to 5 (article 000: at most 5 tiers), got {shown(count)}")
    if "shares" in tiers:
        shares = tiers["shares"]
        if not isinstance(shares, list) or len(shares) != count:
            ck.fail("tiers.shares", f"expected a list of {count} shares (one per tier, top tier first)")
        shares = tuple(ck.number(v, f"tiers.shares[{i}]", 0.0, 1.0) for i, v in enumerate(shares))
        if abs(sum(shares) - 1) > _WEIGHT_TOLERANCE:
            ck.fail("tiers.shares", f"shares must sum to 1, they sum to {sum(shares):g}")
        if any(s <= 0 for s in shares):
            ck.fail("tiers.shares", "every tier needs a share above 0")
    else:
        shares = default_tier_shares(count)
    weights = ck.mapping(tiers["weights"], "tiers.weights", set(TIER_COMPONENTS), set(TIER_COMPONENTS))
    tw = {k: ck.number(weights[k], f"tiers.weights.{k}", 0.0, 1.0) for k in TIER_COMPONENTS}
    _weights_sum_to_one(ck, tw, "tiers.weights")
    nec = ck.number(tiers["necessary_share"], "tiers.necessary_share", 0.0, 1.0)
    rec = ck.number(tiers["recent_share"], "tiers.recent_share", 0.0, 1.0)
    pts = ck.mapping(tiers["engagement_points"], "tiers.engagement_points", set(ENGAGEMENT_KINDS), set(ENGAGEMENT_KINDS))
    points = {k: ck.number(pts[k], f"tiers.engagement_points.{k}", 0.0) for k in ENGAGEMENT_KINDS}

    clv = ck.mapping(doc["clv"], "clv", {"time_unit_days", "horizon_days", "fit_sample", "min_customers", "seed"},
                     {"time_unit_days", "horizon_days", "fit_sample", "min_customers"})
    unit = ck.number(clv["time_unit_days"], "clv.time_unit_days", 1.0, 366.0)
    horizon = ck.number(clv["horizon_days"], "clv.horizon_days", 1.0)
    fit_sample = int(ck.number(clv["fit_sample"], "clv.fit_sample", 100))
    min_customers = int(ck.number(clv["min_customers"], "clv.min_customers", 10))
    seed = int(ck.number(clv.get("seed", 0), "clv.seed", 0))

    wb = ck.mapping(doc["winback"], "winback", {"floor", "stages"}, {"floor"})
    floor = ck.number(wb["floor"], "winback.floor", 0.0)
    wstages = wb.get("stages", ["sleeping", "lost"])
    if not isinstance(wstages, list) or not wstages or any(s not in STAGES for s in wstages):
        ck.fail("winback.stages", f"expected a non-empty list drawn from {list(STAGES)}, got {shown(wstages)}")

    return IndustryConfig(
        name=name, source=source, label_en=labels["label_en"], label_zh=labels["label_zh"], default_interval_days=interval,
        stage_limits=limits, contact_policy=contact, churn=churn, early_warning=early,
        tier_count=count, tier_shares=shares, tier_weights=tw, necessary_share=nec, recent_share=rec,
        engagement_points=points, clv_time_unit_days=unit, clv_horizon_days=horizon,
        clv_fit_sample=fit_sample, clv_min_customers=min_customers, clv_seed=seed,
        winback_floor=floor, winback_stages=tuple(wstages), raw=doc)
