"""Hostile demo data for the xlsx export tests: every free-text field a person or a source system fills in
is replaced by text a spreadsheet might run or link (``=HYPERLINK(...)``, ``+1+2``, ``@SUM(...)``, a DDE
payload, a URL), emoji, and very long text.

Used by ``test_xlsx_exports.py``; the two pipeline hooks run inside the real monthly pipeline (the config
names them as ``tests.robustness.hostile_data:...``), so the hostile text travels the same way real data
does: export files -> import -> scoring -> surveys -> fieldwork -> analysis -> campaign -> evaluation.
Categorical columns are mapped value by value (one hostile text per original value), so strata, segments,
categories and bundles keep their shape and the pipeline's logic still has something to find.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.data.demo import DemoData, generate, write_demo_files

#: Text a spreadsheet may turn into a formula, a DDE call or a link; emoji; text longer than a screen.
LONG = "长" + "0123456789abcdef" * 312 + "尾"  # 4,994 characters, CJK at both ends
PAYLOADS: tuple[str, ...] = (
    '=HYPERLINK("http://evil","x")',
    "+1+2",
    "-2+3",
    "@SUM(1,2)",
    "=cmd|' /C calc'!A0",
    "http://example.com/x",
    "王伟😀",
    LONG,
)
#: Longer than an xlsx cell can hold (32,767 characters): the workbench must cut it visibly, not silently.
OVERLONG = "超" + "x" * 39_998 + "长"
XLSX_CELL_LIMIT = 32_767


def hostile_value(i: int) -> str:
    """The i-th hostile text: the payloads in turn, numbered after the first round so values stay distinct."""
    p = PAYLOADS[i % len(PAYLOADS)]
    return p if i < len(PAYLOADS) else f"{p} {i}"


def _map_values(values: Iterable[Any]) -> dict[Any, str]:
    """One hostile text per distinct original value (sorted, so the mapping is deterministic)."""
    distinct = sorted({v for v in values if v is not None and v == v}, key=str)
    return {v: hostile_value(i) for i, v in enumerate(distinct)}


def _cycle(n: int, offset: int = 0) -> list[str]:
    return [PAYLOADS[(i + offset) % len(PAYLOADS)] for i in range(n)]


#: Categorical text columns mapped value by value; free-text columns get the payloads in turn.
CATEGORICAL = {"customers": ("age_band", "region", "occupation", "family_status", "preferred_time",
                             "vehicle_model", "product_model"),
               "transactions": ("category",)}
FREE_TEXT = {"customers": ("name", "plate_number", "other_brands"), "events": ("detail",)}


def hostilise(data: DemoData, keep: Iterable[str] = ()) -> tuple[DemoData, dict[str, dict[Any, str]]]:
    """A copy of ``data`` with hostile text in every free-text and categorical text column (ids, dates,
    numbers and enums untouched, so the planted effects survive) except the columns in ``keep``; returns it
    and the value mappings used."""
    c, t, e = data.customers.copy(), data.transactions.copy(), data.events.copy()
    maps: dict[str, dict[Any, str]] = {}
    stores = _map_values(pd.concat([c["store"], t["store"], e["store"]]))
    maps["store"] = stores
    for frame in (c, t, e):
        frame["store"] = frame["store"].map(stores)
    for table, frame in (("customers", c), ("transactions", t)):
        for col in CATEGORICAL[table]:
            if col in frame.columns and col not in keep:
                maps[col] = _map_values(frame[col])
                frame[col] = frame[col].map(maps[col])
    c["name"] = _cycle(len(c))
    c["plate_number"] = _cycle(len(c), 3)
    c["other_brands"] = _cycle(len(c), 5)
    e["detail"] = _cycle(len(e), 1)
    # one customer's name and one event's detail are longer than an xlsx cell holds
    c.loc[c.index[-1], "name"] = OVERLONG
    if len(e):
        e.loc[e.index[-1], "detail"] = OVERLONG
    return DemoData(data.business, data.as_of, c, t, e, data.truth), maps


#: Columns kept as they are, per business: the phone brand's playbook targets and its survey samples
#: customers by their age band labels ('<25', '25-29'), which a hostile relabelling would empty.
KEEP = {"dealership": (), "phone_brand": ("age_band",)}


def hostile_demo(business: str, customers: int | None = None, seed: int = 0) -> tuple[DemoData, dict]:
    """The seeded demo data of ``business`` with hostile text (see :func:`hostilise`)."""
    return hostilise(generate(business, customers, seed=seed), KEEP[business])


def write_hostile_inputs(business_dir: Path, business: str, log: Callable[[str], None], *, folder: str | Path,
                         customers: int | None = None, seed: int = 0) -> dict:
    """Pipeline hook (replaces the demo's ``write_demo_inputs``): the hostile demo's export files."""
    data, _ = hostile_demo(business, customers, seed)
    files = write_demo_files(data, Path(folder))
    log(f"{business}: hostile export files for {len(data.customers):,} customers written")
    return files


def simulate_hostile_answers(business_dir: Path, business: str, log: Callable[[str], None], **kwargs: Any) -> Path:
    """Pipeline hook (replaces the demo's ``simulate_survey_answers``): the same simulated fieldwork, with
    every free-text answer (open questions and "other, please say") replaced by hostile text."""
    import workbench.analysis.simulate as sim
    from workbench.runner.demo import simulate_survey_answers

    original = sim.simulate_fieldwork

    def hostile_fieldwork(survey, *args, **kw):
        fw = original(survey, *args, **kw)
        free = {q.name for q in survey.questions if q.type == "free_text"}
        k = 0
        for answers in fw.answers.values():
            for key in sorted(answers):
                if key in free or key.endswith("_other"):
                    answers[key] = PAYLOADS[k % len(PAYLOADS)]
                    k += 1
        return fw

    sim.simulate_fieldwork = hostile_fieldwork
    try:
        return simulate_survey_answers(business_dir, business, log, **kwargs)
    finally:
        sim.simulate_fieldwork = original


#: Interviewer names for the survey design step (two share their first 31 characters: sheet-name clash).
INTERVIEWERS = ['=HYPERLINK("http://evil","x")', "=cmd|' /C calc'!A0", "@SUM(1,2)", "-2+3", LONG, LONG + "2"]


def hostile_playbook(name: str, maps: dict[str, dict[Any, str]], target: Path) -> Path:
    """Write a copy of the bundled playbook ``name`` whose label, agents, store names, categories, bundle
    labels and scripts carry hostile text (categories and stores renamed as in the data)."""
    from workbench.campaigns.playbook import PLAYBOOKS_DIR

    doc = yaml.safe_load((PLAYBOOKS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    doc["label"] = {"zh": PAYLOADS[0], "en": PAYLOADS[4]}
    k = 0
    for team in doc["agents"]:
        doc["agents"][team] = [PAYLOADS[(k + i) % len(PAYLOADS)] for i in range(3)]
        k += 3
    cats = maps.get("category", {})
    if "categories" in doc:
        doc["categories"] = [cats.get(c, c) for c in doc["categories"]]
    for i, bundle in enumerate(doc.get("bundles", {}).values()):
        bundle["label"] = {"zh": PAYLOADS[i % len(PAYLOADS)], "en": PAYLOADS[(i + 1) % len(PAYLOADS)]}
        bundle["categories"] = [cats.get(c, c) for c in bundle["categories"]]
    doc["store_names"] = {code: {"zh": PAYLOADS[i % len(PAYLOADS)], "en": PAYLOADS[(i + 2) % len(PAYLOADS)]}
                          for i, code in enumerate(maps.get("store", {}).values())}
    for family in doc.get("scripts", {}).values():
        for step in family.get("steps", {}).values():
            for variant in step.get("say", {}).values():
                variant["zh"] = PAYLOADS[4] + variant["zh"]
                variant["en"] = PAYLOADS[0] + variant["en"]
            step["ask"] = {"zh": "@SUM(1,2) " + step["ask"]["zh"], "en": "+1+2 " + step["ask"]["en"]}
    # a campaign of its own: its round draws every customer afresh, so the round's evaluation covers them all
    # (a second round of the bundled campaign would evaluate only customers new to it)
    doc["playbook"] = f"{doc['playbook']}_hostile"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=100_000), encoding="utf-8")
    return target


def all_hostile_texts(maps: dict[str, dict[Any, str]]) -> set[str]:
    """Every hostile text the data, playbook and hooks may carry (for 'no formula contains it')."""
    out = set(PAYLOADS) | {OVERLONG} | set(INTERVIEWERS)
    for m in maps.values():
        out |= set(m.values())
    return out


HOOKS = {"demo_data": "tests.robustness.hostile_data:write_hostile_inputs",
         "survey_answers": "tests.robustness.hostile_data:simulate_hostile_answers"}


def hostile_config(business: str, folder: Path) -> Path:
    """The business's demo pipeline config with the hostile hooks and interviewers, written into ``folder``."""
    from workbench.runner.config import read_raw
    from workbench.runner.demo import DEMO_CONFIGS

    raw = read_raw(DEMO_CONFIGS[business])
    names = {s["name"] for s in raw["steps"]}
    assert set(HOOKS) <= names and "survey_design" in names, f"demo pipeline steps changed: {sorted(names)}"
    for step in raw["steps"]:
        if step["name"] in HOOKS:
            step["hook"] = HOOKS[step["name"]]
        elif step["name"] == "survey_design":
            step["parameters"]["interviewers"] = INTERVIEWERS
    path = Path(folder) / f"hostile_{business}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_hostile_month(config: str, outputs_root: str, customers: int, seed: int = 0) -> tuple[str, str, str]:
    """Run the demo month from a hostile config (in a worker process); returns status, message, month folder."""
    from workbench.runner.demo import DEMO_MONTH
    from workbench.runner.pipeline import run_month

    outcome = run_month(config, DEMO_MONTH, settings={"variables.customers": customers, "variables.seed": seed},
                        outputs_root=outputs_root, log=lambda message: None, progress=False)
    return outcome.status, outcome.message, str(outcome.month_dir)
