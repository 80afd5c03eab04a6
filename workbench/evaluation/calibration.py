"""Calibration of the round evaluation: A/A rounds and rounds with a planted effect, through the public path.

A verdict is only worth reading if a campaign that does nothing is called
significant at most ``alpha`` of the time, and if its intervals cover an
effect that is really there. This module checks both the way a user's rounds
are made: a scored store (``base_db``) is copied, a round is planned and saved
by the campaign stage (:func:`workbench.campaigns.rounds.create_round`) from a
playbook whose channels, holdout share and budget are set per round, the months
after it are simulated with a known effect
(:func:`workbench.evaluation.simulate.simulate_round`, :func:`null_effect` for
an A/A round), and the round is evaluated by
:func:`workbench.evaluation.evaluate.evaluate_round`. Nothing is hand-made, so
an asymmetry between the arms anywhere on that path shows up as a false
positive rate above alpha.

:func:`run_calibration` returns one row per round (every verdict's call at any
look, the primary's estimate and interval, the planted truth);
:func:`summarise_calibration` turns them into false-positive rates with their
binomial (Clopper-Pearson) 95% intervals, coverage and power. The benchmark
``benchmarks/bench_calibration.py`` runs hundreds of rounds; the test suite a
seeded few dozen.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RoundSpec", "VERDICTS", "run_calibration", "summarise_calibration", "calibration_specs"]

#: The verdicts the report can make, with how a round's tables say "significant" for each.
VERDICTS = ("return_rate", "adjusted_headline", "spend", "did", "offer_match", "engagement")
#: Rows whose planted truth is known in closed form (coverage is measured for these).
COVERED = ("return_rate", "adjusted_headline", "did", "engagement")


@dataclass(frozen=True)
class RoundSpec:
    """One calibration round: which channel(s) the playbook uses, the holdout share, seeds and the effect."""

    channel: str                       # phone / sms / email / wechat / mixed (the shipped playbook's rules)
    holdout_share: float
    seed: int
    planted: bool = False
    effect: dict[str, float] = field(default_factory=dict)
    stages: tuple[str, ...] = ()       # narrow the round to these stages (smaller rounds); () = the playbook's
    base: str = "default"              # which base store (name in the ``bases`` mapping)


def _playbook_file(folder: Path, playbook: str, channel: str) -> Path:
    """The shipped playbook with its channel rules set to one channel (or kept, for 'mixed') and no budget cap."""
    import yaml

    from workbench.campaigns.playbook import PLAYBOOKS_DIR
    from workbench.reports.files import atomic_path

    path = folder / f"{playbook}_{channel}.yaml"
    if not path.exists():
        doc = yaml.safe_load((PLAYBOOKS_DIR / f"{playbook}.yaml").read_text(encoding="utf-8"))
        if channel != "mixed":
            doc["channels"] = [{"use": [channel]}]
        doc["budget"] = {"round_cap": 10 ** 11}
        with atomic_path(path) as tmp:
            tmp.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _any(frame: pd.DataFrame, col: str) -> bool:
    return bool(frame[col].fillna(False).astype(bool).any()) if len(frame) and col in frame.columns else False


def _round_row(ev, spec: RoundSpec, effect: dict[str, float], horizon: int) -> dict[str, Any]:
    """What one evaluated round says: each verdict's call at any look, and the last month's estimates."""
    rates, amounts, did = ev.rates, ev.amounts, ev.did
    last = int(rates["month"].max())
    cb = rates[rates["outcome"] == "came_back"]
    sp = amounts[amounts["outcome"] == "spend"]
    spend_sig = sp[sp["significant"].astype(bool) & ((sp["boot_lo"] > 0) | (sp["boot_hi"] < 0))]
    did_cb = did[did["outcome"] == "came_back"]
    en = rates[rates["outcome"] == "engaged"]
    om = rates[rates["outcome"] == "offer_match"]
    row: dict[str, Any] = {
        "channel": spec.channel, "holdout_share": spec.holdout_share, "seed": spec.seed, "planted": spec.planted,
        "n_treat": int(cb["n_treat"].iloc[0]), "n_hold": int(cb["n_hold"].iloc[0]),
        "return_rate": _any(cb, "significant"), "adjusted_headline": _any(cb, "adj_significant"),
        "spend": bool(len(spend_sig)), "did": _any(did_cb, "significant"), "offer_match": _any(om, "significant"),
        "engagement": _any(en, "significant"),
        "primary": bool(cb.loc[cb["month"] == last, "adj_significant"].astype(bool).any()),
        "before_after_treated": bool((ev.paired[(ev.paired["arm"] == "treatment") & (ev.paired["outcome"] == "came_back")]
                                     ["p_val"] < ev.data.settings.alpha).any()),
    }
    for m in sorted(rates["month"].unique()):
        row[f"return_rate_month_{m}"] = bool(cb.loc[cb["month"] == m, "significant"].astype(bool).any())
    # planted truth per customer: P(return inside L days) = p * min(L, horizon) / horizon, arm by arm
    out = ev.outcomes[ev.outcomes["month"] == last]
    treat = out["treat"].to_numpy() == 1
    frac = np.minimum(out["window_days"].to_numpy(float), last * ev.data.settings.month_days) / horizon
    frac = np.minimum(frac, 1.0)
    no_need = out["reason"].astype("object").eq("no_need").to_numpy()
    p_ret = np.where(treat, np.where(no_need, effect["no_need_treatment"], effect["treatment"]), effect["holdout"])
    p_eng = np.where(treat, effect["engagement_treatment"], effect["engagement_holdout"])
    truth_rate = float((p_ret * frac)[treat].mean() - (p_ret * frac)[~treat].mean())
    truth_eng = float((p_eng * frac)[treat].mean() - (p_eng * frac)[~treat].mean())
    r = cb[cb["month"] == last].iloc[0]
    e = en[en["month"] == last].iloc[0]
    d = did_cb[did_cb["month"] == last].iloc[0]
    row.update({
        "truth_return": truth_rate, "truth_engagement": truth_eng,
        "return_rate_est": r["diff"], "return_rate_lo": r["diff_lo"], "return_rate_hi": r["diff_hi"],
        "adjusted_headline_est": r["adj_estimate"], "adjusted_headline_lo": r["adj_lo"],
        "adjusted_headline_hi": r["adj_hi"],
        "did_est": d["did"], "did_lo": d["did_lo"], "did_hi": d["did_hi"],
        "engagement_est": e["diff"], "engagement_lo": e["diff_lo"], "engagement_hi": e["diff_hi"],
    })
    return row


def run_calibration(bases: dict[str, str | Path], specs: Iterable[RoundSpec], *, playbook: str = "dealership_winback",
                    round_date: Any = None, settings: Any = None, workdir: str | Path | None = None,
                    horizon_days: int = 90, progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Plan, simulate and evaluate one round per spec on a fresh copy of its scored base store.

    ``bases`` maps a name to a scored store (``workbench.scoring.score_customers`` run as of the day before
    ``round_date``, default the demo as-of date + 1). Returns one row per round (see :func:`_round_row`).
    """
    from workbench.campaigns.rounds import create_round
    from workbench.data.demo import DEMO_AS_OF
    from workbench.evaluation.evaluate import evaluate_round
    from workbench.evaluation.simulate import full_effect, null_effect, simulate_round

    specs = list(specs)
    round_date = pd.Timestamp(round_date).date() if round_date is not None else DEMO_AS_OF + dt.timedelta(days=1)
    rows = []
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        folder = Path(tmp)
        for i, spec in enumerate(specs):
            db = folder / "round.duckdb"
            shutil.copyfile(bases[spec.base], db)
            pb = _playbook_file(folder, playbook, spec.channel)
            plan = create_round(db, pb, round_date, holdout_share=spec.holdout_share, seed=spec.seed,
                                filters={"stages": list(spec.stages)} if spec.stages else None)
            effect = full_effect(spec.effect if spec.planted else null_effect())
            info = simulate_round(db, plan.round["round_id"], seed=spec.seed, effect=effect, horizon_days=horizon_days)
            ev = evaluate_round(db, plan.round["round_id"], as_of=info["data_end"], settings=settings)
            rows.append(_round_row(ev, spec, effect, horizon_days))
            db.unlink()
            if progress:
                progress(i + 1, len(specs))
    return pd.DataFrame(rows)


def _clopper_pearson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, n, alpha=alpha, method="beta")
    return float(lo), float(hi)


def summarise_calibration(rows: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per verdict: false-positive rate on the null rounds with its Clopper-Pearson 95% interval (``ok`` when
    the interval contains alpha or lies below it), coverage of the 95% intervals and power on planted rounds."""
    null, planted = rows[~rows["planted"]], rows[rows["planted"]]
    out = []
    for verdict in (*VERDICTS, "primary"):
        k, n = int(null[verdict].sum()), len(null)
        lo, hi = _clopper_pearson(k, n) if n else (np.nan, np.nan)
        rec = {"verdict": verdict, "null_rounds": n, "false_positives": k, "fpr": k / n if n else np.nan,
               "fpr_lo": lo, "fpr_hi": hi, "ok": bool(n and lo <= alpha)}
        if verdict in COVERED and len(planted):
            truth = planted["truth_engagement" if verdict == "engagement" else "truth_return"]
            inside = (planted[f"{verdict}_lo"] <= truth) & (truth <= planted[f"{verdict}_hi"])
            rec.update({"planted_rounds": len(planted), "coverage": float(inside.mean())})
        if len(planted):
            rec["power"] = float(planted[verdict].mean())
        out.append(rec)
    return pd.DataFrame(out)


def calibration_specs(n_null: int, n_planted: int, *, bases: dict[str, int] | None = None, seed: int = 0,
                      channels: tuple[str, ...] = ("phone", "sms", "email", "wechat", "mixed"),
                      shares: tuple[float, float] = (0.1, 0.5), effect: dict[str, float] | None = None
                      ) -> list[RoundSpec]:
    """Seeded round specs spread over channels, holdout shares, base stores (sizes) and stage filters.

    ``bases`` maps a base name to a weight (how often it is drawn). ``effect`` is the planted effect
    (default: the demo's, a 10% vs 18% return and 5% vs 8% engagement).
    """
    rng = np.random.default_rng([seed, 13])
    names = list(bases or {"default": 1})
    weights = np.array([float((bases or {"default": 1})[b]) for b in names])
    stage_sets = [(), ("lost",), ("silent", "sleeping")]
    specs = []
    for i in range(n_null + n_planted):
        specs.append(RoundSpec(channel=str(channels[i % len(channels)]),
                               holdout_share=round(float(rng.uniform(*shares)), 3),
                               seed=int(rng.integers(1, 2 ** 31)), planted=i >= n_null,
                               effect=dict(effect or {}) if i >= n_null else {},
                               stages=stage_sets[int(rng.integers(len(stage_sets)))],
                               base=str(rng.choice(names, p=weights / weights.sum()))))
    return specs
