"""The manager's panel in-process (set values, click the button) and the notebook through papermill."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from workbench.campaigns.rounds import list_rounds, read_round
from workbench.campaigns.widgets import CampaignPanel
from workbench.runner.notebooks import run_notebook

ROUND = "2026-11-02"


def _counts(panel):
    c = panel.counts_frame().set_index("group")["customers"]
    return int(c.get("treatment", 0)), int(c.get("holdout", 0))


def test_panel_counts_follow_the_choices_and_export_click_writes_the_workbook(store, tmp_path):
    panel = CampaignPanel(store, tmp_path / "out", playbook="dealership_winback", round_date=ROUND)
    t_all, h_all = _counts(panel)
    assert t_all > 0 and h_all > 0
    assert "Planned cost" in panel.counts.value and "Budget" in panel.counts.value
    # narrowing tiers and stages shrinks the round; the counts widget follows
    panel.stages.value = ("lost",)
    t_lost, h_lost = _counts(panel)
    assert 0 < t_lost < t_all and (panel.plan.assignments["stage"] == "lost").all()
    panel.tiers.value = (5,)
    assert (panel.plan.assignments["tier"] == 5).all()
    panel.reasons.value = ("other",)
    assert set(panel.plan.assignments["reason"]) == {"other"}
    # a smaller budget funds fewer customers, within the budget
    panel.budget.value = 300.0
    t_small, _ = _counts(panel)
    assert t_small < t_lost and panel.plan.round["planned_cost"] <= 300
    # preview of the sample customer shows the script in the panel's language
    assert panel.sample.value in set(panel.plan.assignments["customer_id"])
    assert "说" in panel.preview.value and panel.sample.value in panel.preview.value
    panel.holdout.value = 0.3
    assert panel.plan.round["holdout_share"] == 0.3
    panel.budget.value = 0.0  # 0 = no budget of its own: the playbook's cap
    panel.export_button.click()
    assert panel.last_export is not None and panel.last_export.exists(), panel.status.value
    assert "Exported" in panel.status.value
    rounds = list_rounds(store)
    assert len(rounds) == 1
    rid = rounds["round_id"].iloc[0]
    stored = read_round(store, rid)
    assert set(stored["stage"]) == {"lost"} and set(stored["tier"]) == {5}
    wb = openpyxl.load_workbook(panel.last_export, read_only=True)
    ids = {r[2] for r in wb["_rows"].iter_rows(min_row=2, values_only=True)}
    assert ids == set(stored.loc[stored["arm"] == "treatment", "customer_id"])
    # clicking again re-plans the same, unstarted round instead of adding a second one
    panel.export_button.click()
    assert len(list_rounds(store)) == 1


def test_panel_switching_playbook_resets_stages(store, tmp_path):
    panel = CampaignPanel(store, tmp_path, playbook="dealership_winback", round_date=ROUND, stages=["lost"])
    panel.playbook.value = "phone_young_winback"
    assert panel.stages.value == ("active", "silent", "sleeping", "lost")
    panel.round_date.value = None
    assert panel.plan is None and "Pick a round date" in panel.counts.value
    panel.round_date.value = dt.date(2026, 11, 2)
    assert panel.plan is not None


def test_panel_accepts_a_playbook_file_given_by_path(store, tmp_path):
    from workbench.campaigns.playbook import PLAYBOOKS_DIR

    own = tmp_path / "my_playbook.yaml"
    own.write_bytes((PLAYBOOKS_DIR / "dealership_winback.yaml").read_bytes())
    panel = CampaignPanel(store, tmp_path, playbook=str(own), round_date=ROUND)
    assert panel.playbook.value == str(own) and "dealership_winback" in panel.playbook.options
    assert panel.plan is not None and (panel.plan.assignments["arm"] == "treatment").any()


@pytest.mark.slow
def test_campaign_notebook_runs_headless_and_exports(store, tmp_path):
    out = tmp_path / "nb"
    run_notebook("campaign.ipynb", tmp_path / "campaign_run.ipynb",
                 {"db": str(store), "output_dir": str(out), "round_date": ROUND, "stages": ["sleeping", "lost"],
                  "budget": 20000.0, "export": True}, timeout=300)
    files = list(out.glob("*_calls_zh.xlsx"))
    assert len(files) == 1
    a = read_round(store, list_rounds(store)["round_id"].iloc[0])
    assert set(a["stage"]) <= {"sleeping", "lost"}
    t = a[a["arm"] == "treatment"]
    assert (t["contact_cost"].sum() + t["bundle_cost"].fillna(0).sum()) <= 20000
    assert pd.notna(a["seed"]).all()
