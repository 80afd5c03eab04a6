"""Charts of the scores for staff (bilingual labels): tier pyramid, lifecycle funnel, churn index, at-risk list.

Each function draws on a matplotlib ``Axes`` it is given (or a new one) and
returns it, so the notebook stays a sequence of one-line calls.
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbench.scoring.config import STAGES, IndustryConfig
from workbench.vocabulary import STAGE_LABELS

#: Fonts tried for Chinese labels, in order (Windows, macOS, Linux); DejaVu Sans last for Latin text.
CJK_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", "SimHei",
             "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK JP", "Arial Unicode MS", "DejaVu Sans"]


def use_cjk_font() -> None:
    """Prefer a font with Chinese glyphs where one is installed; never fail where none is."""
    plt.rcParams["font.sans-serif"] = CJK_FONTS + [f for f in plt.rcParams["font.sans-serif"] if f not in CJK_FONTS]
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["axes.unicode_minus"] = False
    warnings.filterwarnings("ignore", message=r"Glyph .* missing from font")
    warnings.filterwarnings("ignore", message=r"findfont: Font family .* not found")


def _ax(ax):
    return ax if ax is not None else plt.subplots(figsize=(7, 4))[1]


def tier_pyramid(scores: pd.DataFrame, ax=None):
    """Customers per value tier as a centred pyramid, tier 1 (most valuable) on top."""
    ax = _ax(ax)
    counts = scores["tier"].value_counts().sort_index()
    tiers = counts.index.to_numpy()
    widths = counts.to_numpy()
    ax.barh(-tiers, widths, left=-widths / 2, color=plt.cm.viridis(np.linspace(0.15, 0.85, len(tiers))))
    for t, w in zip(tiers, widths):
        ax.text(0, -t, f"{w:,}", ha="center", va="center", color="white", fontsize=9)
    ax.set_yticks(-tiers, [f"Tier {t} / 第{t}层" for t in tiers])
    ax.set_xticks([])
    ax.set_title("Value tiers / 价值分层")
    return ax


def lifecycle_funnel(scores: pd.DataFrame, ax=None):
    """Customers per lifecycle stage, active -> lost (customers who never bought shown apart)."""
    ax = _ax(ax)
    order = [*STAGES, "never"]
    counts = scores["stage"].value_counts().reindex(order, fill_value=0)
    colors = ["#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#bbbbbb"]
    y = np.arange(len(order))[::-1]
    ax.barh(y, counts.to_numpy(), left=-counts.to_numpy() / 2, color=colors)
    for yi, c in zip(y, counts.to_numpy()):
        ax.text(0, yi, f"{c:,}", ha="center", va="center", fontsize=9)
    ax.set_yticks(y, [f"{STAGE_LABELS[s][1]} / {STAGE_LABELS[s][0]}" for s in order])
    ax.set_xticks([])
    ax.set_title("Lifecycle stages / 客户生命周期")
    return ax


def churn_distribution(scores: pd.DataFrame, config: IndustryConfig, ax=None):
    """Histogram of the churn index among customers who bought, with the at-risk threshold."""
    ax = _ax(ax)
    values = scores["churn_index"].dropna().to_numpy()
    ax.hist(values, bins=np.linspace(0, 100, 41), color="#457b9d")
    thr = config.churn.threshold
    ax.axvline(thr, color="#e63946", linestyle="--")
    ax.text(thr + 1, ax.get_ylim()[1] * 0.9, f"at risk / 高风险 ≥ {thr:g}", color="#e63946", fontsize=9)
    ax.set_xlabel("Churn index / 流失指数 (0-100)")
    ax.set_ylabel("Customers / 客户数")
    ax.set_title("Churn index distribution / 流失指数分布")
    return ax


def at_risk_table(scores: pd.DataFrame, config: IndustryConfig, n: int = 20) -> pd.DataFrame:
    """The ``n`` most valuable customers at risk (churn index at or above the threshold), most valuable first."""
    risky = scores[(scores["churn_index"] >= config.churn.threshold) & scores["stage"].isin(["active", "silent",
                                                                                           "sleeping"])]
    cols = ["customer_id", "stage", "tier", "churn_index", "churn_reasons", "days_since_last", "spend_365",
            "clv_365", "value_if_won_back"]
    return risky.sort_values(["tier", "churn_index"], ascending=[True, False])[cols].head(n).reset_index(drop=True)


def top_at_risk(scores: pd.DataFrame, config: IndustryConfig, n: int = 15, ax=None):
    """Bar chart of the most valuable at-risk customers' churn index, labelled with their top reason."""
    ax = _ax(ax)
    top = at_risk_table(scores, config, n).iloc[::-1]
    y = np.arange(len(top))
    ax.barh(y, top["churn_index"], color="#e76f51")
    ax.set_yticks(y, [f"{c} (T{t})" for c, t in zip(top["customer_id"], top["tier"])])
    for yi, (v, why) in enumerate(zip(top["churn_index"], top["churn_reasons"])):
        ax.text(v + 1, yi, str(why).split(",")[0], va="center", fontsize=8)
    ax.set_xlim(0, 130)
    ax.set_xlabel("Churn index / 流失指数")
    ax.set_title("Top at-risk customers by value / 高价值高风险客户")
    return ax
