"""Charts of a round evaluation for staff (bilingual labels): return rate by arm, forest plot, trend lines.

Each function draws on an ``Axes`` it is given (or a new one) and returns it.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

ARM_COLOURS = {"treatment": "#2a9d8f", "holdout": "#bbbbbb"}


def _ax(ax, size=(7, 4)):
    return ax if ax is not None else plt.subplots(figsize=size)[1]


def return_rate_by_arm(rates: pd.DataFrame, ax=None, outcome: str = "came_back"):
    """Return rate of treated and holdout per month with Wilson intervals."""
    ax = _ax(ax)
    r = rates[rates["outcome"] == outcome].sort_values("month")
    x = np.arange(len(r))
    w = 0.38
    for k, (arm, col) in enumerate((("treatment", "treat"), ("holdout", "hold"))):
        rate = r[f"rate_{col}"].to_numpy() * 100
        err = np.vstack([rate - r[f"rate_{col}_lo"].to_numpy() * 100, r[f"rate_{col}_hi"].to_numpy() * 100 - rate])
        err = np.clip(err, 0, None)  # Wilson limits at a 0% or 100% rate can miss the rate by rounding
        label = "Contacted / 联系组" if arm == "treatment" else "Holdout / 对照组"
        ax.bar(x + (k - 0.5) * w, rate, w, yerr=err, capsize=4, color=ARM_COLOURS[arm], label=label)
        for xi, v in zip(x + (k - 0.5) * w, rate):
            ax.text(xi, v / 2, f"{v:.1f}%", ha="center", va="center", fontsize=8)
    ax.set_xticks(x, [f"Month {m} / 第{m}月" for m in r["month"]])
    ax.set_ylabel("Came back (%) / 回店率")
    ax.set_title("Return rate by arm, 95% CI / 各组回店率")
    ax.legend(frameon=False)
    return ax


def forest_plot(breakdowns: pd.DataFrame, month: int, ax=None, max_rows: int = 40):
    """Difference in return rate (treated - holdout) with CI per segment; hollow = small cell, * = significant."""
    b = breakdowns[(breakdowns["month"] == month) & breakdowns["diff"].notna()].copy()
    b = b.sort_values(["breakdown", "cell"]).head(max_rows)
    ax = _ax(ax, (7, max(3, 0.28 * len(b) + 1)))
    y = np.arange(len(b))[::-1]
    d = b["diff"].to_numpy() * 100
    lo, hi = b["diff_lo"].to_numpy() * 100, b["diff_hi"].to_numpy() * 100
    ax.hlines(y, lo, hi, color="#555555", lw=1.2)
    small = b["small_cell"].to_numpy(bool)
    ax.scatter(d[~small], y[~small], color="#264653", zorder=3, label="cell / 分组")
    ax.scatter(d[small], y[small], facecolors="none", edgecolors="#e76f51", zorder=3, label="small cell / 样本小")
    labels = [f"{bd}: {c}" + (" *" if s else "") for bd, c, s in zip(b["breakdown"], b["cell"], b["significant"])]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("Difference in return rate, points / 回店率差异（百分点）")
    ax.set_title(f"Lift by segment, month {month} (* significant after correction) / 分组效果")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


def trend_lines(trend: pd.DataFrame, ax=None):
    """Treated and holdout return rate per round, with incremental returns on a second axis."""
    ax = _ax(ax)
    if trend.empty:
        ax.set_axis_off()
        return ax
    x = pd.to_datetime(trend["round_date"])
    ax.plot(x, trend["treated_rate"] * 100, "o-", color=ARM_COLOURS["treatment"], label="Contacted / 联系组")
    ax.plot(x, trend["holdout_rate"] * 100, "o--", color="#888888", label="Holdout / 对照组")
    ax.set_ylabel("Came back (%) / 回店率")
    ax2 = ax.twinx()
    ax2.bar(x, trend["incremental_returns"], width=8, alpha=0.3, color="#e9c46a", label="Incremental returns / 增量回店")
    ax2.set_ylabel("Incremental returns / 增量回店人数")
    ax.set_title("Rounds over time / 各轮趋势")
    lines = ax.get_legend_handles_labels()
    bars = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + bars[0], lines[1] + bars[1], frameon=False, fontsize=8)
    return ax


def lost_trend(lost: pd.DataFrame, ax=None):
    """Newly lost and returned per calendar month, with the net change of the lost population."""
    ax = _ax(ax)
    if lost.empty:
        ax.set_axis_off()
        return ax
    x = np.arange(len(lost))
    ax.bar(x - 0.2, lost["newly_lost"], 0.4, color="#e76f51", label="Newly lost / 新流失")
    ax.bar(x + 0.2, lost["returned"], 0.4, color="#2a9d8f", label="Lost who returned / 流失后回店")
    ax.plot(x, lost["net_change"], "k.-", label="Net change / 流失净变化")
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(x, lost["month"], rotation=45, ha="right")
    ax.set_title("Lost population by month / 每月流失变化")
    ax.legend(frameon=False, fontsize=8)
    return ax
