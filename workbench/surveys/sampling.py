"""Whom to ask: sample sizes, stratified random samples with reserves, and design weights.

Textbook formulas (Cochran 1977; Lohr, *Sampling*), written out so they can be
checked: the share of customers giving a reason is estimated within a margin
of error at a confidence level, corrected for a finite population and divided
by the expected response rate; a difference between two segments (young vs
older) needs Cohen's arcsine effect size at a chosen power, as in statsmodels'
``NormalIndPower``. The sample itself is drawn per stratum with a recorded
seed, with ranked reserves to replace non-respondents in the same stratum and
the design weight N_h / n_h for the analysis.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

ALLOCATIONS = ("proportional", "neyman")
SAMPLE_COLUMNS = ["customer_id", "stratum", "role", "reserve_rank", "draw_order", "design_weight",
                  "stratum_population", "stratum_sample", "seed"]


def _ceil(x: float) -> int:
    """Round up, ignoring floating-point dust (384.00000000001 -> 384)."""
    return int(math.ceil(x - 1e-9))


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(norm.ppf(1 - (1 - confidence) / 2))


def _check_rate(response_rate: float) -> None:
    if not 0 < response_rate <= 1:
        raise ValueError(f"response_rate must be in (0, 1], got {response_rate}")


@dataclass(frozen=True)
class ShareSampleSize:
    """Completes needed to estimate a share, and customers to contact to get them."""

    completes: int
    contacts: int
    n_infinite: float
    n_corrected: float
    margin: float
    confidence: float
    p: float
    population: int | None
    response_rate: float
    capped: bool

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])


def sample_size_share(margin: float = 0.05, confidence: float = 0.95, p: float = 0.5,
                      population: int | None = None, response_rate: float = 1.0) -> ShareSampleSize:
    """Sample size to estimate a proportion ``p`` within ``±margin`` at ``confidence``.

    n0 = z^2 p (1-p) / e^2; with a finite population N, n = n0 / (1 + (n0 - 1) / N);
    completes = ceil(n); contacts = ceil(completes / response_rate), at most N
    (``capped`` says the whole population would have to be asked).
    e.g. ±5 % at 95 %, p = 0.5: 385 completes; N = 2,000: 323, so 1,077 contacts at a 30 % response rate.
    """
    if not 0 < margin < 1:
        raise ValueError(f"margin must be between 0 and 1 (a share, 0.05 = ±5 points), got {margin}")
    if not 0 < p < 1:
        raise ValueError(f"p must be between 0 and 1, got {p}")
    _check_rate(response_rate)
    n0 = _z(confidence) ** 2 * p * (1 - p) / margin ** 2
    n = n0 if not population else n0 / (1 + (n0 - 1) / population)
    completes = _ceil(n)
    contacts = _ceil(completes / response_rate)
    capped = bool(population) and contacts > population
    if capped:
        contacts = int(population)
    return ShareSampleSize(completes, contacts, n0, n, margin, confidence, p, population, response_rate, capped)


@dataclass(frozen=True)
class TwoGroupSampleSize:
    """Completes per group to detect p1 vs p2, and contacts per group at the response rate."""

    n1: int
    n2: int
    contacts1: int
    contacts2: int
    effect_size: float
    p1: float
    p2: float
    alpha: float
    power: float
    ratio: float
    alternative: str
    response_rate: float

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])


def proportion_effect_size(p1: float, p2: float) -> float:
    """Cohen's h = 2 asin(sqrt p1) - 2 asin(sqrt p2) (statsmodels' ``proportion_effectsize``)."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def sample_size_two_proportions(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8,
                                ratio: float = 1.0, alternative: str = "two-sided",
                                response_rate: float = 1.0) -> TwoGroupSampleSize:
    """Completes per segment to detect a difference between two shares (e.g. young 45 % vs older 25 %).

    Normal approximation on Cohen's h: n1 = ((z_{1-a} + z_{power}) / |h|)^2 (1 + 1/ratio), n2 = ratio n1,
    with z_{1-a/2} for a two-sided test. Matches ``NormalIndPower().solve_power`` up to the far tail it adds.
    """
    for name, v in (("p1", p1), ("p2", p2)):
        if not 0 < v < 1:
            raise ValueError(f"{name} must be between 0 and 1, got {v}")
    if p1 == p2:
        raise ValueError("p1 and p2 are equal: there is no difference to detect")
    if alternative not in ("two-sided", "larger", "smaller"):
        raise ValueError(f"alternative must be 'two-sided', 'larger' or 'smaller', got {alternative!r}")
    if not 0 < power < 1 or not 0 < alpha < 1 or ratio <= 0:
        raise ValueError("alpha and power must be between 0 and 1, ratio positive")
    _check_rate(response_rate)
    h = proportion_effect_size(p1, p2)
    z_a = norm.ppf(1 - alpha / 2) if alternative == "two-sided" else norm.ppf(1 - alpha)
    n1 = ((z_a + norm.ppf(power)) / abs(h)) ** 2 * (1 + 1 / ratio)
    n1c, n2c = _ceil(n1), _ceil(n1 * ratio)
    return TwoGroupSampleSize(n1c, n2c, _ceil(n1c / response_rate), _ceil(n2c / response_rate), h, p1, p2,
                              alpha, power, ratio, alternative, response_rate)


# --------------------------------------------------------------------------- allocation


def allocate(sizes: pd.Series, n: int, method: str = "proportional", sd: pd.Series | Mapping | None = None,
             cost: pd.Series | Mapping | None = None, min_per_stratum: int = 1) -> pd.Series:
    """Split ``n`` over strata of sizes ``N_h`` (index = stratum): whole numbers summing to ``n``, none above N_h.

    ``proportional``: n_h ∝ N_h. ``neyman`` (optimal): n_h ∝ N_h S_h / sqrt(c_h), with ``sd`` the
    stratum standard deviations S_h (for a share P_h, sqrt(P_h (1 - P_h))) and optional costs c_h.
    Every stratum gets at least ``min_per_stratum`` (if ``n`` allows), rounding by largest remainder.
    """
    if method not in ALLOCATIONS:
        raise ValueError(f"allocation must be one of {ALLOCATIONS}, got {method!r}")
    sizes = pd.Series(sizes, dtype="float64")
    if (sizes < 0).any() or sizes.isna().any():
        raise ValueError("stratum sizes must be non-negative numbers")
    total = int(sizes.sum())
    n = int(min(n, total))
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    weight = sizes.copy()
    if method == "neyman":
        if sd is None:
            raise ValueError("neyman allocation needs the stratum standard deviations (sd)")
        s = pd.Series(sd, dtype="float64").reindex(sizes.index)
        if s.isna().any():
            raise ValueError(f"sd is missing for stratum/strata {list(s.index[s.isna()])}")
        c = pd.Series(1.0, index=sizes.index) if cost is None else pd.Series(cost, dtype="float64").reindex(sizes.index)
        if c.isna().any() or (c <= 0).any():
            raise ValueError("cost must be positive for every stratum")
        weight = sizes * s / np.sqrt(c)
        if weight.sum() == 0:
            weight = sizes.copy()
    low = np.minimum(min_per_stratum, sizes)
    if low.sum() > n:
        low = pd.Series(0.0, index=sizes.index)
    target = pd.Series(0.0, index=sizes.index)
    free = pd.Series(True, index=sizes.index)
    for _ in range(2 * len(sizes) + 1):  # continuous allocation, clamped to [low, N_h]
        rest = n - target[~free].sum()
        w = weight[free]
        share = w / w.sum() * rest if w.sum() > 0 else sizes[free] / max(sizes[free].sum(), 1) * rest
        up = share > sizes[free] + 1e-9
        down = share < low[free] - 1e-9
        if up.any():  # fix the strata that cannot hold their share first: that frees units for the rest
            idx = share.index[up]
            target[idx], free[idx] = sizes[idx], False
        elif down.any():
            idx = share.index[down]
            target[idx], free[idx] = low[idx], False
        else:
            target[free] = share
            break
    base = np.floor(target + 1e-9).clip(upper=sizes)
    left = int(round(n - base.sum()))
    order = (target - base).sort_values(ascending=False, kind="stable").index
    for h in order:
        if left <= 0:
            break
        if base[h] < sizes[h]:
            base[h] += 1
            left -= 1
    for h in sizes.sort_values(ascending=False, kind="stable").index:  # any remaining unit (after clamping)
        while left > 0 and base[h] < sizes[h]:
            base[h] += 1
            left -= 1
    return base.astype(int).rename("n_h")


def stratum_labels(frame: pd.DataFrame, strata: Sequence[str]) -> pd.Series:
    """One text label per row naming its stratum: ``tier=1|age_band=25-29`` ('all' without strata)."""
    if not strata:
        return pd.Series("all", index=frame.index, dtype="object")
    missing = [c for c in strata if c not in frame.columns]
    if missing:
        raise KeyError(f"stratum column(s) {missing} not in the frame (columns: {list(frame.columns)})")
    parts = []
    for c in strata:
        col = frame[c]
        text = col.astype("object").where(col.notna(), "unknown").map(
            lambda v: str(int(v)) if isinstance(v, float) and float(v).is_integer() else str(v))
        parts.append(c + "=" + text)
    out = parts[0]
    for p in parts[1:]:
        out = out + "|" + p
    return out.astype("object")


def stratified_sample(frame: pd.DataFrame, strata: Sequence[str], n: int, *, seed: int,
                      allocation: str = "proportional", reserve_share: float = 0.2,
                      sd: pd.Series | Mapping | None = None, sd_column: str | None = None,
                      cost: pd.Series | Mapping | None = None, min_per_stratum: int = 1,
                      id_column: str = "customer_id") -> pd.DataFrame:
    """Draw a stratified random sample of ``n`` customers plus ranked reserves per stratum.

    Returns one row per drawn customer: customer_id, stratum, role (``main`` / ``reserve``),
    reserve_rank (1, 2, ... within the stratum; empty for main), draw_order, design_weight
    (N_h / n_h, also on reserves, who stand in for main cases of their stratum), stratum_population,
    stratum_sample, seed, and the stratum columns. The draw is reproducible from ``seed`` whatever
    the row order of ``frame``. ``sd_column`` gives Neyman allocation the within-stratum standard
    deviation of a column (e.g. ``clv_365``) when ``sd`` is not given.
    """
    if id_column not in frame.columns:
        raise KeyError(f"the frame has no {id_column!r} column")
    if frame[id_column].duplicated().any():
        dup = frame.loc[frame[id_column].duplicated(), id_column].iloc[0]
        raise ValueError(f"{id_column} {dup!r} appears more than once in the frame")
    if not 0 <= reserve_share <= 5:
        raise ValueError(f"reserve_share must be between 0 and 5, got {reserve_share}")
    strata = list(strata)
    work = frame[[id_column, *strata] + ([sd_column] if sd_column and sd_column not in strata else [])].copy()
    work[id_column] = work[id_column].astype(str)
    work["stratum"] = stratum_labels(work, strata)
    work = work.sort_values(["stratum", id_column], kind="stable").reset_index(drop=True)
    sizes = work.groupby("stratum", sort=True).size().astype(float)
    if allocation == "neyman" and sd is None:
        if sd_column is None:
            raise ValueError("neyman allocation needs sd (per stratum) or sd_column")
        sd = work.groupby("stratum")[sd_column].std(ddof=1).fillna(0.0)
    n_h = allocate(sizes, n, allocation, sd=sd, cost=cost, min_per_stratum=min_per_stratum)
    rng = np.random.default_rng(seed)
    pieces = []
    for stratum, rows in work.groupby("stratum", sort=True):
        take = int(n_h[stratum])
        reserves = min(_ceil(reserve_share * take) if take else 0, len(rows) - take)
        order = rng.permutation(len(rows))[: take + reserves]
        drawn = rows.iloc[order].copy()
        drawn["draw_order"] = np.arange(1, len(drawn) + 1)
        drawn["role"] = ["main"] * take + ["reserve"] * reserves
        drawn["reserve_rank"] = pd.array([pd.NA] * take + list(range(1, reserves + 1)), dtype="Int64")
        drawn["stratum_population"] = len(rows)
        drawn["stratum_sample"] = take
        drawn["design_weight"] = len(rows) / take if take else float("nan")
        pieces.append(drawn)
    out = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame(columns=SAMPLE_COLUMNS)
    out = out.rename(columns={id_column: "customer_id"})
    out["seed"] = int(seed)
    out = out[out["stratum_sample"] > 0].reset_index(drop=True)
    extra = [c for c in strata if c not in SAMPLE_COLUMNS]
    out = out[SAMPLE_COLUMNS + extra]
    out.attrs.update({"seed": int(seed), "allocation": allocation, "strata": strata, "n": int(n_h.sum())})
    return out


def assign_interviewers(sample: pd.DataFrame, interviewers: Sequence[str], *,
                        case_prefix: str = "C") -> pd.DataFrame:
    """Deal the sample out to interviewers and give every case an id.

    Main cases go round-robin over the interviewers stratum by stratum (loads differ by at most one
    and everybody gets a mix of strata); reserves are dealt the same way. ``case_id`` runs
    ``C0001``, ``C0002`` ... in the order interviewer, role, stratum, draw order.
    """
    names = [str(i).strip() for i in interviewers if str(i).strip()]
    if not names:
        raise ValueError("give at least one interviewer")
    if len(set(names)) != len(names):
        raise ValueError(f"interviewer names must be unique, got {names}")
    out = sample.copy()
    out["interviewer"] = ""
    for role in ("main", "reserve"):
        idx = out.index[out["role"] == role]
        ordered = out.loc[idx].sort_values(["stratum", "draw_order"], kind="stable").index
        out.loc[ordered, "interviewer"] = [names[k % len(names)] for k in range(len(ordered))]
    rank = {name: k for k, name in enumerate(names)}
    out["_i"] = out["interviewer"].map(rank)
    out["_r"] = (out["role"] != "main").astype(int)
    out = out.sort_values(["_i", "_r", "stratum", "draw_order"], kind="stable").drop(columns=["_i", "_r"])
    width = max(4, len(str(len(out))))
    out["case_id"] = [f"{case_prefix}{k:0{width}d}" for k in range(1, len(out) + 1)]
    out = out.reset_index(drop=True)
    return out[["case_id", *[c for c in out.columns if c != "case_id"]]]


def sample_makeup(population: pd.DataFrame, sample: pd.DataFrame, strata: Sequence[str]) -> pd.DataFrame:
    """Population vs main sample per stratum: N_h, population share, n_h, sample share, reserves, weight."""
    pop = stratum_labels(population, list(strata)).value_counts().rename("population")
    main = sample[sample["role"] == "main"]
    got = main["stratum"].value_counts().rename("sample")
    res = sample.loc[sample["role"] == "reserve", "stratum"].value_counts().rename("reserves")
    out = pd.concat([pop, got, res], axis=1).fillna(0).astype(int).rename_axis("stratum").reset_index()
    out["population_share"] = out["population"] / out["population"].sum()
    out["sample_share"] = out["sample"] / max(out["sample"].sum(), 1)
    out["design_weight"] = out["population"] / out["sample"].where(out["sample"] > 0)
    return out.sort_values("stratum", kind="stable").reset_index(drop=True)
