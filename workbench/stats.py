"""Statistics shared by every stage: one p-value correction for every family of tests.

Stage modules (``workbench.analysis``, ``workbench.evaluation``) call :func:`adjust` and read
significance as ``p_adj < alpha``, so a correction means the same everywhere.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CORRECTIONS", "adjust"]

#: Corrections accepted for families of tests (``statsmodels.stats.multitest.multipletests`` names, stated:
#: its default is Holm-Sidak); ``none`` leaves the p-values as they are.
CORRECTIONS = ("holm", "fdr_bh", "bonferroni", "none")


def adjust(p_values, method: str = "holm", alpha: float = 0.05) -> np.ndarray:
    """Adjusted p-values for a family of tests (statsmodels ``multipletests`` with ``method`` stated); NaN kept.

    A test of the family is significant when its adjusted p-value is below ``alpha``. statsmodels 0.15's
    Holm branch runs a full ``gc.collect()`` on every call (50 ms on a notebook's heap, called per cell
    and month); ``gc.collect`` is a no-op while ``multipletests`` runs, which changes no number.

    Examples
    --------
    >>> adjust([0.01, 0.04, float("nan"), 0.03], "holm").round(3).tolist()
    [0.03, 0.06, nan, 0.06]
    """
    import gc

    from statsmodels.stats.multitest import multipletests

    if method not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {method!r}")
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), math.nan)
    ok = ~np.isnan(p)
    if ok.any():
        if method == "none":
            out[ok] = p[ok]
        else:
            collect, gc.collect = gc.collect, lambda *_a, **_k: 0
            try:
                out[ok] = multipletests(p[ok], alpha=alpha, method=method)[1]
            finally:
                gc.collect = collect
    return out
