"""The analysis workbook: a summary sheet, one sheet per table, and native Excel charts (reason ranking
with CI error bars, response rates by stratum; the cross-tab sheet is colour-scaled as a heatmap)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from workbench.analysis.analyse import Analysis
from workbench.reports.files import cell_text, excel_workbook, write_frame

SHEETS = {  # table -> sheet name (≤ 31 characters)
    "response_rates": "response_rates", "rates_by_stratum": "rates_by_stratum",
    "rates_by_interviewer": "rates_by_interviewer", "reason_ranking": "reason_ranking",
    "family_ranking": "family_ranking", "main_reason_ranking": "main_reason_ranking",
    "reasons_by_focus": "reasons_by_group", "focus_reason_tests": "group_tests", "segment_tests": "segment_tests",
    "crosstabs": "crosstabs", "ratings": "ratings", "reliability": "reliability", "satisfaction": "satisfaction",
    "key_drivers": "key_drivers", "text_coded": "text_coded", "text_uncoded": "text_uncoded",
}


def _clean(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == bool or str(out[c].dtype) == "boolean":
            out[c] = out[c].astype(object)
    return out


def write_analysis_workbook(analysis: Analysis, path: str | Path) -> Path:
    """Write every table of ``analysis`` to ``path`` (xlsx), with a summary sheet and native charts."""
    path = Path(path)
    t = analysis.tables
    with excel_workbook(path) as wb:
        ws = wb.add_worksheet("summary")
        bold = wb.add_format({"bold": True})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        pct = wb.add_format({"num_format": "0.0%"})
        ws.set_column(0, 0, 34)
        ws.set_column(1, 1, 100)
        rows = [("survey / 问卷", analysis.survey_id),
                ("title / 标题", f"{analysis.fielded.survey.title['zh']} / {analysis.fielded.survey.title['en']}"),
                ("conclusion / 结论 (en)", analysis.conclusion), ("结论 (zh)", analysis.conclusion_zh),
                ("weighted / 加权", "yes / 是" if analysis.params["weighted"] else "no / 否"),
                ("alpha / 显著性水平", str(analysis.params["alpha"])),
                ("correction / 多重检验校正", analysis.params["correction"]),
                ("completed interviews / 完成访问", str(analysis.params["completed"])),
                ("respondents to reason questions / 回答原因题", str(analysis.params["reason_respondents"]))]
        for i, (k, v) in enumerate(rows):
            ws.write_string(i, 0, k, bold)
            ws.write_string(i, 1, cell_text(v), wrap)
        r = len(rows) + 1
        rr = t["response_rates"]
        if len(rr):
            for j, k in enumerate(("RR1", "COOP1", "REF1", "CON1")):
                ws.write_string(r + j, 0, k, bold)
                ws.write_number(r + j, 1, float(rr[k].iloc[0]), pct)
        sheets = {}
        for name, sheet in SHEETS.items():
            df = t.get(name)
            if df is None or df.empty:
                continue
            df = _clean(df)
            if name == "reason_ranking":
                w = analysis.params["weighted"]
                s, lo, hi = ("weighted_share", "weighted_ci_low", "weighted_ci_high") if w else ("share", "ci_low", "ci_high")
                df = df.assign(chart_share=df[s], err_minus=df[s] - df[lo], err_plus=df[hi] - df[s])
            sheets[name] = (write_frame(wb, sheet, df), df, sheet)
        if "reason_ranking" in sheets:
            _, df, sheet = sheets["reason_ranking"]
            n = len(df)
            cols = list(df.columns)
            letter = lambda c: chr(65 + cols.index(c)) if cols.index(c) < 26 else "A" + chr(65 + cols.index(c) - 26)
            ch = wb.add_chart({"type": "bar"})
            ch.add_series({"name": "share naming the reason / 提及占比",
                           "categories": [sheet, 1, cols.index("label_zh"), n, cols.index("label_zh")],
                           "values": [sheet, 1, cols.index("chart_share"), n, cols.index("chart_share")],
                           "y_error_bars": {"type": "custom",
                                            "plus_values": f"='{sheet}'!${letter('err_plus')}$2:${letter('err_plus')}${n + 1}",
                                            "minus_values": f"='{sheet}'!${letter('err_minus')}$2:${letter('err_minus')}${n + 1}"}})
            ch.set_title({"name": "Reason ranking (95% CI) / 流失原因排序"})
            ch.set_x_axis({"num_format": "0%"})
            ch.set_y_axis({"reverse": True})
            ch.set_legend({"none": True})
            ws.insert_chart(r + 6, 0, ch, {"x_scale": 1.6, "y_scale": 1.4})
        if "rates_by_stratum" in sheets:
            _, df, sheet = sheets["rates_by_stratum"]
            n = len(df)
            cols = list(df.columns)
            ch = wb.add_chart({"type": "column"})
            for k in ("RR1", "COOP1"):
                ch.add_series({"name": k, "categories": [sheet, 1, cols.index("stratum"), n, cols.index("stratum")],
                               "values": [sheet, 1, cols.index(k), n, cols.index(k)]})
            ch.set_title({"name": "Response rates by stratum / 各分层应答率"})
            ch.set_y_axis({"num_format": "0%", "max": 1})
            ws.insert_chart(r + 30, 0, ch, {"x_scale": 1.6, "y_scale": 1.2})
        if "crosstabs" in sheets:
            sheet_ws, df, _ = sheets["crosstabs"]
            j = list(df.columns).index("row_share")
            sheet_ws.conditional_format(1, j, len(df), j, {"type": "2_color_scale", "min_color": "#FFFFFF",
                                                            "max_color": "#E76F51"})
    return path
