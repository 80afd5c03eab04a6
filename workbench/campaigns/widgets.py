"""The marketing manager's campaign panel (ipywidgets), used by ``notebooks/campaign.ipynb``.

Pick the playbook, round date, tiers, stages, reasons, budget and holdout share;
the panel re-plans the round in memory on every change (nothing is written) and
shows the counts per arm, the planned cost against the budget and the script a
sample customer would hear. The export button saves the round in the store and
writes the call-team workbook. :meth:`CampaignPanel.export` is the same action
without a click, for batch runs (papermill never fires widget callbacks).

Every control carries a CSS class (``wb-playbook``, ``wb-date``, ``wb-tiers``,
``wb-stages``, ``wb-reasons``, ``wb-budget``, ``wb-holdout``, ``wb-sample``,
``wb-export``, ``wb-status``) so a browser test can find it.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from workbench.campaigns.assign import RoundPlan, plan_round
from workbench.campaigns.playbook import Playbook, available_playbooks, load_playbook
from workbench.campaigns.rounds import load_inputs, save_round
from workbench.campaigns.scripts import PART_LABELS, preview
from workbench.campaigns.workbook import write_round_workbook
from workbench.privacy import contact_privacy
from workbench.scoring.config import ALL_STAGES
from workbench.surveys.taxonomy import load_reason_taxonomy
from workbench.vocabulary import STAGE_LABELS

ARM_LABELS = {"treatment": "联系组 Treatment", "holdout": "对照组 Holdout"}


class CampaignPanel:
    """Widgets plus the logic behind them; ``panel.widget`` is what the notebook displays."""

    def __init__(self, db: str | Path | None, output_dir: str | Path, *, playbook: str | None = None,
                 round_date: Any = None, tiers: list[int] | None = None, stages: list[str] | None = None,
                 reasons: list[str] | None = None, budget: float | None = None, holdout_share: float | None = None,
                 language: str = "zh", privacy: str | None = "masked"):
        self.db = db
        self.output_dir = Path(output_dir)
        self.language = language
        self.privacy = contact_privacy(privacy)
        self._inputs_key: tuple | None = None
        self._inputs = None
        self.plan: RoundPlan | None = None
        self.last_export: Path | None = None
        names = available_playbooks()
        name = str(playbook or names[0])
        pb = load_playbook(name)
        if name not in names:  # a playbook file given by path: offer it beside the bundled ones
            names = [name, *names]
        tax = load_reason_taxonomy()
        self.playbook = w.Dropdown(options=names, value=name, description="方案 Playbook")
        self.round_date = w.DatePicker(value=pd.Timestamp(round_date).date() if round_date else dt.date.today(),
                                       description="日期 Date")
        self.tiers = w.SelectMultiple(options=[1, 2, 3, 4, 5], value=tuple(tiers or (1, 2, 3, 4, 5)),
                                      description="层级 Tiers", rows=5)
        self.stages = w.SelectMultiple(options=[(f"{STAGE_LABELS[s][0]} {s}", s) for s in ALL_STAGES],
                                       value=tuple(stages or pb.target_stages), description="阶段 Stages", rows=5)
        self.reasons = w.SelectMultiple(options=[(f"{r.label_zh} {r.code}", r.code) for r in tax.itertuples()],
                                        value=tuple(reasons or ()), description="原因 Reasons", rows=6)
        self.budget = w.FloatText(value=float(budget if budget is not None else (pb.round_cap or 0.0)),
                                  description="预算 Budget")
        self.holdout = w.FloatSlider(value=float(holdout_share if holdout_share is not None else pb.holdout_share),
                                     min=0.0, max=0.5, step=0.01, description="对照 Holdout")
        self.counts = w.HTML()
        self.sample = w.Dropdown(options=[], description="样例 Sample")
        self.preview = w.HTML()
        self.export_button = w.Button(description="导出呼叫工作簿 Export", button_style="primary",
                                      layout=w.Layout(width="auto"))
        self.status = w.HTML()
        for widget, cls in ((self.playbook, "wb-playbook"), (self.round_date, "wb-date"), (self.tiers, "wb-tiers"),
                            (self.stages, "wb-stages"), (self.reasons, "wb-reasons"), (self.budget, "wb-budget"),
                            (self.holdout, "wb-holdout"), (self.sample, "wb-sample"), (self.counts, "wb-counts"),
                            (self.preview, "wb-preview"), (self.export_button, "wb-export"), (self.status, "wb-status")):
            widget.add_class(cls)
        for widget in (self.playbook, self.round_date, self.tiers, self.stages, self.reasons, self.budget, self.holdout):
            widget.observe(self._changed, names="value")
        self.sample.observe(lambda _c: self._show_preview(), names="value")
        self.export_button.on_click(lambda _b: self._export_clicked())
        self.widget = w.VBox([
            w.HBox([self.playbook, self.round_date]),
            w.HBox([self.tiers, self.stages, self.reasons]),
            w.HBox([self.budget, self.holdout]),
            self.counts, self.sample, self.preview, self.export_button, self.status])
        self.refresh()

    # --- state -------------------------------------------------------------------------------

    @property
    def playbook_obj(self) -> Playbook:
        return load_playbook(self.playbook.value)

    def filters(self) -> dict[str, list]:
        return {"tiers": [int(t) for t in self.tiers.value], "stages": list(self.stages.value),
                "reasons": list(self.reasons.value)}

    def _load(self, pb: Playbook, day: dt.date):
        key = (pb.id, day)
        if key != self._inputs_key:
            rid = f"{pb.id}-{day:%Y%m%d}"
            self._inputs = load_inputs(self.db, pb, day, exclude_round=rid)
            self._inputs_key = key
        return self._inputs

    def refresh(self) -> RoundPlan | None:
        """Re-plan in memory and update the counts, the budget line and the sample preview."""
        day = self.round_date.value
        if day is None:
            self.counts.value = "<b>请选择日期 Pick a round date</b>"
            self.plan = None
            return None
        pb = self.playbook_obj
        try:
            inputs = self._load(pb, day)
            self.plan = plan_round(inputs, pb, day, budget=self.budget.value or None, filters=self.filters(),
                                   holdout_share=self.holdout.value)
        except Exception as exc:  # noqa: BLE001 - shown to the manager, not swallowed silently
            self.plan = None
            self.counts.value = f"<b style='color:#b00'>{html.escape(str(exc))}</b>"
            return None
        self.counts.value = self._counts_html(self.plan)
        treated = self.plan.assignments.loc[self.plan.assignments["arm"] == "treatment", "customer_id"].tolist()
        keep = self.sample.value if self.sample.value in treated else (treated[0] if treated else None)
        self.sample.options = treated[:200]
        self.sample.value = keep if keep in treated[:200] else (treated[0] if treated else None)
        self._show_preview()
        return self.plan

    def _changed(self, _change: dict) -> None:
        if _change.get("owner") is self.playbook:
            pb = self.playbook_obj
            self.stages.value = tuple(pb.target_stages)
            self.holdout.value = pb.holdout_share
            if pb.round_cap:
                self.budget.value = pb.round_cap
        self.refresh()

    def counts_frame(self) -> pd.DataFrame:
        """Customers and planned cost per arm (excluded split by reason) for the current choices."""
        return self.plan.counts() if self.plan is not None else pd.DataFrame(columns=["group", "customers",
                                                                                       "planned_cost"])

    def _counts_html(self, plan: RoundPlan) -> str:
        c = plan.counts()
        rows = "".join(f"<tr><td>{html.escape(ARM_LABELS.get(g, g))}</td><td style='text-align:right'>{n:,}</td>"
                       f"<td style='text-align:right'>{cost:,.0f}</td></tr>"
                       for g, n, cost in c.itertuples(index=False))
        budget = plan.round["budget"]
        spent = plan.round["planned_cost"]
        line = (f"计划费用 Planned cost {spent:,.0f} / 预算 Budget {budget:,.0f}" if budget is not None
                else f"计划费用 Planned cost {spent:,.0f}（无预算上限 no budget cap）")
        return (f"<table class='wb-counts-table'><tr><th>组 Group</th><th>客户 Customers</th><th>费用 Cost</th></tr>"
                f"{rows}</table><p>{line}; seed {plan.round['seed']}</p>")

    def _show_preview(self) -> None:
        if self.plan is None or not self.sample.value:
            self.preview.value = "<i>无样例客户 No sample customer</i>"
            return
        p = preview(self.plan, self.plan.playbook, self.sample.value, self.language)
        parts = p["script"] or {}
        i = 0 if self.language == "zh" else 1
        body = "<br>".join(f"<b>{PART_LABELS[k][i]}</b>: {html.escape(v)}" for k, v in parts.items())
        self.preview.value = (f"<div><b>{html.escape(str(p.get('name') or ''))}</b> {html.escape(p['customer_id'])} — "
                              f"{html.escape(str(p['stage']))}, {html.escape(str(p['reason']))} "
                              f"({html.escape(str(p['reason_source']))}), step {p['script_step']}, "
                              f"{html.escape(str(p['channel']))}, {html.escape(str(p['agent']))}<br>{body}</div>")

    # --- export ------------------------------------------------------------------------------

    def export(self) -> Path:
        """Save the current round in the store (re-planning it, replacing an unstarted round of the same date)
        and write its call-team workbook to ``output_dir``; returns the workbook path."""
        plan = self.refresh()
        if plan is None:
            raise ValueError(f"no round to export: {self.counts.value}")
        rid = save_round(self.db, plan, replace=True)
        self._inputs_key = None  # the store changed
        path = write_round_workbook(self.db, rid, self.output_dir / f"{rid}_calls_{self.language}.xlsx",
                                    language=self.language, privacy=self.privacy, playbook=plan.playbook)
        self.last_export = path
        self.status.value = f"<b>已导出 Exported</b>: <code class='wb-export-path'>{html.escape(str(path))}</code>"
        return path

    def _export_clicked(self) -> None:
        try:
            self.export()
        except Exception as exc:  # noqa: BLE001 - shown in the panel
            self.status.value = f"<b style='color:#b00'>{html.escape(str(exc))}</b>"
