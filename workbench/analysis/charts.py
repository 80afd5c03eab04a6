"""Charts of the response analysis for staff (zh/en labels): reason ranking with CI bars, a segment ×
reason heatmap, response rates by stratum. Each draws on the Axes it is given (or a new one) and returns it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from workbench.scoring.charts import use_cjk_font

__all__ = ["use_cjk_font", "reason_ranking_chart", "crosstab_heatmap", "response_rates_chart"]


def _ax(ax, size=(7, 4)):
    return ax if ax is not None else plt.subplots(figsize=size)[1]


def reason_ranking_chart(ranking: pd.DataFrame, weighted: bool = True, top: int = 12, ax=None):
    """Horizontal bars of the share naming each reason with its Wilson CI (weighted or not)."""
    ax = _ax(ax)
    s, lo, hi = ("weighted_share", "weighted_ci_low", "weighted_ci_high") if weighted else ("share", "ci_low", "ci_high")
    d = ranking.sort_values(s, ascending=False).head(top).iloc[::-1]
    if d.empty:
        ax.set_title("No reasons yet / 尚无原因数据")
        return ax
    y = np.arange(len(d))
    ax.barh(y, d[s] * 100, color="#2a9d8f",
            xerr=np.vstack([(d[s] - d[lo]) * 100, (d[hi] - d[s]) * 100]), capsize=3, ecolor="#444444")
    names = d["label_zh"].fillna(d.iloc[:, 0].astype(str)) + " / " + d["label_en"].fillna("")
    ax.set_yticks(y, names)
    ax.set_xlabel("% of respondents naming it / 提及该原因的受访者占比 (95% CI)")
    ax.set_title(("Weighted " if weighted else "") + "reason ranking / 流失原因排序" + ("（加权）" if weighted else ""))
    return ax


def crosstab_heatmap(crosstabs: pd.DataFrame, segment: str, weighted: bool = False, ax=None):
    """Row shares of each main reason within each value of ``segment`` (from the ``crosstabs`` table)."""
    ax = _ax(ax, (8, 3.5))
    d = crosstabs[crosstabs["segment"] == segment]
    col = "weighted_row_share" if weighted else "row_share"
    if d.empty:
        ax.set_title(f"No data for {segment}")
        return ax
    m = d.pivot(index="segment_value", columns="outcome", values=col).fillna(0)
    im = ax.imshow(m.to_numpy() * 100, cmap="YlOrRd", aspect="auto", vmin=0)
    ax.set_xticks(np.arange(m.shape[1]), m.columns, rotation=40, ha="right")
    ax.set_yticks(np.arange(m.shape[0]), m.index)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{100 * m.iat[i, j]:.0f}", ha="center", va="center", fontsize=8)
    plt.colorbar(im, ax=ax, label="% of segment / 占该细分的比例")
    ax.set_title(f"Main reason by {segment} / 按 {segment} 的主要原因")
    return ax


def response_rates_chart(rates: pd.DataFrame, by: str = "stratum", ax=None):
    """RR1 and COOP1 per stratum (or interviewer) as grouped bars."""
    ax = _ax(ax, (8, 3.5))
    d = rates.sort_values(by)
    x = np.arange(len(d))
    ax.bar(x - 0.2, d["RR1"] * 100, width=0.4, label="RR1 response rate / 应答率", color="#264653")
    ax.bar(x + 0.2, d["COOP1"] * 100, width=0.4, label="COOP1 cooperation / 合作率", color="#e9c46a")
    ax.set_xticks(x, d[by].astype(str), rotation=30, ha="right")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title(f"Response rates by {by} / 按{'分层' if by == 'stratum' else '访问员'}的应答率")
    return ax
