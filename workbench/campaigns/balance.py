"""Are the treatment and holdout arms alike before the round? Standardized mean differences and t-tests.

The holdout is random within tier x stage strata, so the arms should differ on
pre-period spend and visits only by chance. The usual check (Austin 2009):
|standardized mean difference| < 0.1, plus Welch's t-test (scipy). The
engine redraws the holdout (with the next seed, recorded) when a draw misses
the SMD limit: re-randomisation (Morgan & Rubin 2012).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

#: Pre-period covariates from the scores: all-time and last-365-days spend and visits.
COVARIATES = ("spend", "visits", "spend_365", "visits_365")


def smd(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / sqrt((var a + var b) / 2) with sample variances; 0 when both are constant and equal."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    diff = a.mean() - b.mean()
    sd = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    if sd == 0:
        return 0.0 if diff == 0 else float("inf")
    return float(diff / sd)


def balance_table(frame: pd.DataFrame, arm: str = "arm", covariates: tuple[str, ...] = COVARIATES,
                  treated: str = "treatment", control: str = "holdout") -> pd.DataFrame:
    """One row per covariate: n and mean per arm, smd, Welch t and p_val (scipy.stats.ttest_ind)."""
    rows = []
    t_mask = frame[arm] == treated
    c_mask = frame[arm] == control
    for cov in covariates:
        if cov not in frame.columns:
            continue
        x = pd.to_numeric(frame.loc[t_mask, cov], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(frame.loc[c_mask, cov], errors="coerce").to_numpy(dtype=float)
        d = smd(x, y)
        if len(x) > 1 and len(y) > 1 and (np.nanvar(x) > 0 or np.nanvar(y) > 0):
            res = stats.ttest_ind(x, y, equal_var=False, nan_policy="omit")
            t, p = float(res.statistic), float(res.pvalue)
        else:
            t, p = float("nan"), float("nan")
        rows.append({"covariate": cov, "n_treatment": int(len(x)), "n_holdout": int(len(y)),
                     "mean_treatment": float(np.nanmean(x)) if len(x) else float("nan"),
                     "mean_holdout": float(np.nanmean(y)) if len(y) else float("nan"),
                     "smd": d, "t": t, "p_val": p})
    return pd.DataFrame(rows, columns=["covariate", "n_treatment", "n_holdout", "mean_treatment", "mean_holdout",
                                       "smd", "t", "p_val"])


def max_abs_smd(frame: pd.DataFrame, arm: np.ndarray, covariates: tuple[str, ...] = COVARIATES) -> float:
    """Largest |SMD| over the covariates for a boolean holdout mask ``arm`` (fast path for re-randomisation)."""
    worst = 0.0
    for cov in covariates:
        if cov not in frame.columns:
            continue
        v = pd.to_numeric(frame[cov], errors="coerce").to_numpy(dtype=float)
        d = smd(v[~arm], v[arm])
        if np.isnan(d):
            continue
        worst = max(worst, abs(d))
    return worst
