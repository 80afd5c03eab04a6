"""The evaluation as an Excel workbook for managers and the call team's leads.

Sheets: ``Summary`` (the round, plain-language verdicts, design checks and a
native chart of the return rate by arm per month), the detailed tables, one
sheet per breakdown (latest month on top, with a native bar chart of the
difference per cell), and the trend across rounds with a line chart. Written
through ``workbench.reports.files`` (formula-proof, atomic).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.evaluation.evaluate import RoundEvaluation
from workbench.reports.files import cell_text, display_width, excel_workbook, write_frame

BREAKDOWN_COLUMNS = ["month", "cell", "n_treat", "n_hold", "rate_treat", "rate_hold", "diff", "diff_lo", "diff_hi",
                     "test", "p_val", "p_adj", "significant", "small_cell", "holdout_basis", "lift", "lift_lo", "lift_hi", "cohen_h",
                     "spend_treat", "spend_hold", "spend_diff", "spend_lo", "spend_hi", "spend_p", "spend_p_adj",
                     "cohen_d", "correction"]
LABELS = {"tier": "By tier", "stage": "By stage", "reason": "By reason", "reason_source": "By reason source",
          "channel": "By channel", "script_step": "By script step", "agent": "By agent", "bundle": "By bundle"}


def _summary_sheet(wb, ev: RoundEvaluation) -> None:
    ws = wb.add_worksheet("Summary")
    title = wb.add_format({"bold": True, "font_size": 14})
    bold = wb.add_format({"bold": True})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    warn = wb.add_format({"text_wrap": True, "valign": "top", "font_color": "#9C0006", "bg_color": "#FFC7CE"})
    pct = wb.add_format({"num_format": "0.0%"})
    ws.set_column(0, 0, 22)
    ws.set_column(1, 1, 110)
    ws.write_string(0, 0, cell_text(f"{ev.label} — evaluation / 挽回效果评估"), title)
    row = 2
    for _, r in ev.summary().iterrows():
        ws.write_string(row, 0, str(r["item"]), bold)
        v = r["value"]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            ws.write_number(row, 1, float(v))
        else:
            ws.write_string(row, 1, cell_text(v))
        row += 1
    row += 1
    ws.write_string(row, 0, "Verdicts / 结论", title)
    row += 1
    for _, v in ev.verdicts.iterrows():
        ws.write_string(row, 0, f"{v['topic']}" + (f" (month {int(v['month'])})" if pd.notna(v["month"]) else ""), bold)
        ws.write_string(row, 1, cell_text(v["text"]), warn if v["level"] == "warning" else wrap)
        ws.set_row(row, 15 * max(1, display_width(v["text"]) // 105 + 1))
        row += 1
    row += 1
    ws.write_string(row, 0, "Checks / 检查", title)
    row += 1
    for _, c in ev.checks.iterrows():
        ws.write_string(row, 0, str(c["check"]), bold)
        detail = cell_text(("PROBLEM: " if c["flag"] else "ok: ") + str(c["detail"]))
        ws.write_string(row, 1, detail, warn if c["flag"] else wrap)
        row += 1
    # chart data: return rate by arm per month
    row += 1
    cb = ev.rates[ev.rates["outcome"] == "came_back"].sort_values("month") if len(ev.rates) else ev.rates
    ws.write_string(row, 0, "Month / 月", bold)
    ws.write_string(row, 1, "Return rate: contacted | holdout (columns C, D) / 回店率", bold)
    ws.write_string(row, 2, "Contacted / 联系组", bold)
    ws.write_string(row, 3, "Holdout / 对照组", bold)
    first = row + 1
    for _, r in cb.iterrows():
        row += 1
        ws.write_string(row, 0, f"Month {int(r['month'])}")
        ws.write_number(row, 2, float(r["rate_treat"]), pct)
        ws.write_number(row, 3, float(r["rate_hold"]), pct)
    if len(cb):
        chart = wb.add_chart({"type": "column"})
        for col, colour in ((2, "#2a9d8f"), (3, "#bbbbbb")):
            chart.add_series({"name": ["Summary", first - 1, col], "categories": ["Summary", first, 0, row, 0],
                              "values": ["Summary", first, col, row, col], "fill": {"color": colour},
                              "data_labels": {"value": True, "num_format": "0.0%"}})
        chart.set_title({"name": "Return rate by arm / 各组回店率"})
        chart.set_y_axis({"num_format": "0%"})
        ws.insert_chart(row + 2, 1, chart, {"x_scale": 1.3, "y_scale": 1.1})
    ws.freeze_panes(1, 0)


def _breakdown_sheet(wb, name: str, frame: pd.DataFrame) -> None:
    f = frame.sort_values(["month", "cell"], ascending=[False, True])[[c for c in BREAKDOWN_COLUMNS if c in frame]]
    ws = write_frame(wb, name, f.reset_index(drop=True))
    latest = f["month"].max()
    k = int((f["month"] == latest).sum())
    if k:
        col = list(f.columns).index("diff")
        chart = wb.add_chart({"type": "bar"})
        chart.add_series({"name": f"Difference in return rate, month {latest} / 回店率差异",
                          "categories": [name, 1, 1, k, 1], "values": [name, 1, col, k, col],
                          "fill": {"color": "#2a9d8f"}, "data_labels": {"value": True, "num_format": "0.0%"}})
        chart.set_x_axis({"num_format": "0%"})
        chart.set_legend({"position": "bottom"})
        chart.set_title({"name": f"{name}: treated - holdout, month {latest}"})
        ws.insert_chart(1, len(f.columns) + 1, chart, {"y_scale": max(1.0, k / 12)})


def write_evaluation_workbook(ev: RoundEvaluation, target: str | Path, trend: pd.DataFrame | None = None,
                              lost: pd.DataFrame | None = None, early_warning: pd.DataFrame | None = None,
                              campaign: pd.DataFrame | None = None) -> Path:
    """Write the evaluation workbook to ``target`` (atomically); returns the path. ``campaign`` is
    :func:`workbench.evaluation.trend.campaign_effect` (the effect across rounds, with its answer on top)."""
    target = Path(target)
    with excel_workbook(target) as wb:
        _summary_sheet(wb, ev)
        write_frame(wb, "Return rates", ev.rates)
        write_frame(wb, "Spend and visits", ev.amounts)
        write_frame(wb, "Spend split", ev.spend_split)
        write_frame(wb, "Before-after", ev.paired)
        write_frame(wb, "Diff-in-diff", ev.did)
        write_frame(wb, "Cost and ROI", ev.roi)
        write_frame(wb, "Contact costs", ev.contact_costs)
        write_frame(wb, "Checks", ev.checks)
        for name, frame in ev.breakdowns.groupby("breakdown", sort=False) if len(ev.breakdowns) else []:
            _breakdown_sheet(wb, LABELS.get(name, f"By {name}")[:31], frame)
        if campaign is not None and len(campaign):
            from workbench.evaluation.trend import campaign_verdict

            en, zh = campaign_verdict(campaign, ev.data.settings.alpha)
            ws = write_frame(wb, "Campaign effect", campaign)
            ws.write_string(len(campaign) + 2, 0, cell_text(zh))
            ws.write_string(len(campaign) + 3, 0, cell_text(en))
        if trend is not None and len(trend):
            ws = write_frame(wb, "Trend", trend)
            n = len(trend)
            cols = list(trend.columns)
            chart = wb.add_chart({"type": "line"})
            for c, colour in (("treated_rate", "#2a9d8f"), ("holdout_rate", "#888888")):
                j = cols.index(c)
                chart.add_series({"name": ["Trend", 0, j], "categories": ["Trend", 1, 0, n, 0],
                                  "values": ["Trend", 1, j, n, j], "line": {"color": colour},
                                  "marker": {"type": "circle"}})
            chart.set_title({"name": "Return rate per round / 各轮回店率"})
            chart.set_y_axis({"num_format": "0%"})
            ws.insert_chart(n + 3, 0, chart)
        if lost is not None and len(lost):
            ws = write_frame(wb, "Lost population", lost)
            n = len(lost)
            cols = list(lost.columns)
            chart = wb.add_chart({"type": "column"})
            for c, colour in (("newly_lost", "#e76f51"), ("returned", "#2a9d8f")):
                j = cols.index(c)
                chart.add_series({"name": ["Lost population", 0, j], "categories": ["Lost population", 1, 0, n, 0],
                                  "values": ["Lost population", 1, j, n, j], "fill": {"color": colour}})
            chart.set_title({"name": "Newly lost vs returned / 新流失与回流"})
            ws.insert_chart(n + 3, 0, chart)
        if early_warning is not None and len(early_warning):
            write_frame(wb, "Early warning", early_warning)
    return target
