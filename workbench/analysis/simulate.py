"""Seeded simulation of fieldwork on a designed survey, from the demo data's planted truth.

Fills the call team's interview workbook as callers would (status dropdown labels, answer labels in the
slots, call dates), or writes a KoboToolbox / ODK Central style export, so the demo and the tests exercise
the same import path as real files. Answers follow each customer's ``truth.planted_reason`` with
realistic noise: some pick another reason, ratings of the aspect behind their reason are lower, some
leave optional questions blank, some mention their reason in free text; cases are refused, not reached or
asked to be called back, and reserves are called in rank order to replace lost main cases.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.analysis.answers import answer_columns
from workbench.analysis.validate import visibility
from workbench.reports.fill import set_cell
from workbench.surveys.phone_workbook import CHOICES_SHEET, COLUMNS_SHEET, STATUS
from workbench.surveys.template import Question, Survey

#: Outcome of one call attempt sequence: completed / refused / not_reached / call_back.
DISPOSITION_P = {"completed": 0.55, "refused": 0.15, "not_reached": 0.22, "call_back": 0.08}
#: Words in question or choice names that point at the aspect behind a reason (ratings go down with it).
ASPECTS = {"style_outdated": ("style", "colour", "design"), "price": ("price", "value", "cheap"),
           "quality": ("quality", "work", "fixed"), "service_attitude": ("staff", "attitude", "friendl"),
           "waiting_time": ("wait", "speed", "slow"), "service_speed": ("speed", "slow", "fast"),
           "few_attractive_offers": ("offer", "package", "model"), "competitor_nearby": ("competitor", "nearby")}
#: What people say in their own words (zh), per reason; coded back by the keyword dictionary.
SAYINGS = {"style_outdated": ["款式太老气了，颜色也单调", "外观设计太保守，不够时尚", "颜色太少，款式过时"],
           "price": ["价格太贵了", "同样配置别家便宜不少", "性价比不高"],
           "quality": ["质量不太好，用了半年就卡", "老是出故障"],
           "service_attitude": ["售后服务态度很差", "店员爱理不理"],
           "competitor_nearby": ["朋友都用别的牌子", "附近新开了一家店"],
           "few_attractive_offers": ["可选的机型太少", "没有吸引我的套餐"],
           "no_need": ["暂时不需要"], "other": ["说不上来", "没什么特别的原因"]}
NOISE = 0.15       # share of respondents naming a reason other than their planted one
OPTIONAL_SKIP = 0.12


@dataclass
class Fieldwork:
    """Simulated fieldwork: one row per case called (case_id, customer_id, interviewer, status, attempts,
    call_date) and the answers of every case that has some (case_id -> {answer column: code text})."""

    cases: pd.DataFrame
    answers: dict[str, dict[str, str]]


def _related(reason: str | None, name: str) -> bool:
    return bool(reason) and any(w in name for w in ASPECTS.get(str(reason), ()))


def _answer(q: Question, reason: str | None, rng: np.random.Generator, birth_year: int | None) -> str:
    if q.type == "rating":
        scale = q.scale or 5
        if _related(reason, q.name):
            p = np.linspace(1.0, 0.1, scale)
        else:
            p = np.exp(-0.5 * ((np.arange(1, scale + 1) - 0.65 * scale - 0.5) / (0.25 * scale)) ** 2)
        return str(int(rng.choice(np.arange(1, scale + 1), p=p / p.sum())))
    if q.type == "yes_no":
        return str(rng.choice(["yes", "no"]))
    if q.type == "number":
        if "birth" in q.name and birth_year:
            v = birth_year + int(rng.choice([0, 0, 0, 0, 1, -1]))
        else:
            lo, hi = (q.min if q.min is not None else 0), (q.max if q.max is not None else 100)
            v = rng.uniform(lo, hi) if not q.integer else rng.integers(int(lo), int(hi) + 1)
        if q.min is not None:
            v = max(v, q.min)
        if q.max is not None:
            v = min(v, q.max)
        return str(int(v)) if q.integer else f"{v:.1f}"
    if q.type == "free_text":
        pool = SAYINGS.get(str(reason), SAYINGS["other"]) if reason and rng.random() < 0.8 else SAYINGS["other"]
        return str(rng.choice(pool))
    names = [c.name for c in q.choices]
    if q.type == "ranking":
        order = list(rng.permutation(names))
        lead = [n for n in order if _related(reason, n)]
        return " ".join(lead + [n for n in order if n not in lead] if rng.random() < 0.7 else order)
    with_reason = [c.name for c in q.choices if c.reason and c.reason == reason]
    scored = [c for c in q.choices if c.score is not None]
    if q.type == "single_choice":
        if q.reason_question or with_reason:
            if with_reason and rng.random() > NOISE:
                return str(rng.choice(with_reason))
            if not with_reason and q.reason_question and rng.random() > NOISE:
                other = q.other_choice
                return other.name if other is not None else str(rng.choice(names))
            return str(rng.choice(names))
        if scored:
            low = _related(reason, q.name) or (reason is not None and q.name == "overall" and rng.random() < 0.5)
            p = np.array([.40, .40, .15, .05] if low else [.05, .20, .45, .30])[: len(scored)]
            return str(rng.choice([c.name for c in scored], p=p / p.sum()))
        # e.g. "which brand now": those who left mostly moved on; keep the first option for stayers
        if reason and rng.random() < 0.9:
            return str(rng.choice(names[1:]))
        return str(rng.choice(names))
    # multiple choice
    k = q.max_choices or min(len(names), 3)
    picks = []
    related = [n for n in names if _related(reason, n)] + with_reason
    if related and rng.random() > NOISE:
        picks.append(str(rng.choice(related)))
    extra = int(rng.integers(0 if picks else 1, k - len(picks) + 1)) if k > len(picks) else 0
    for n in rng.permutation(names)[:extra]:
        if n not in picks:
            picks.append(str(n))
    return " ".join(picks[:k])


def simulate_answers(survey: Survey, reason: str | None, rng: np.random.Generator,
                     birth_year: int | None = None) -> dict[str, str]:
    """One completed interview's answers (codes), respecting skip logic and required questions."""
    out: dict[str, str] = {}
    cols = answer_columns(survey)
    for q in survey.questions:
        if not q.asks:
            continue
        row = pd.DataFrame([{c: out.get(c, "") for c in cols}])
        if not bool(visibility(survey, row)[q.name].iloc[0]):
            continue
        if not q.required and rng.random() < OPTIONAL_SKIP:
            continue
        out[q.name] = _answer(q, reason, rng, birth_year)
        other = q.other_choice
        if other is not None and other.name in out[q.name].split():
            out[f"{q.name}_other"] = str(rng.choice(SAYINGS.get(str(reason), SAYINGS["other"])))
    return out


def _reasons_for_all(truth: pd.DataFrame, rng: np.random.Generator) -> dict[str, str | None]:
    """The planted reason per customer; customers without one (sleeping by chance, one-time buyers) get a
    reason drawn from the planted reasons of their age group (under 30 / 30+), as they too left for
    something."""
    t = truth.assign(customer_id=truth["customer_id"].astype(str),
                     young=truth["age_band"].astype(str).isin(["<25", "25-29"]))
    out = dict(zip(t["customer_id"], t["planted_reason"].astype(object).where(t["planted_reason"].notna(), None)))
    for young, grp in t.groupby("young"):
        pool = grp["planted_reason"].dropna().astype(str).to_numpy()
        if not len(pool):
            pool = t["planted_reason"].dropna().astype(str).to_numpy()
        missing = grp.loc[grp["planted_reason"].isna(), "customer_id"].to_numpy()
        if len(pool) and len(missing):
            draws = rng.choice(pool, size=len(missing))
            out.update(dict(zip(missing, draws)))
    return out


def simulate_fieldwork(survey: Survey, sample: pd.DataFrame, truth: pd.DataFrame | None = None, *, seed: int = 0,
                       customers: pd.DataFrame | None = None, start: dt.date = dt.date(2026, 11, 2),
                       disposition_p: dict[str, float] | None = None) -> Fieldwork:
    """Call the sample: main cases first, then reserves of a stratum in rank order for each main case lost.

    ``sample``: survey_sample rows (case_id, customer_id, stratum, role, reserve_rank, interviewer).
    ``truth``: customer_id, planted_reason (the demo's truth); customers without one answer at random.
    """
    rng = np.random.default_rng(seed)
    p = disposition_p or DISPOSITION_P
    statuses, probs = list(p), np.array(list(p.values()), dtype=float)
    reasons = {} if truth is None else _reasons_for_all(truth, rng)
    born = {} if customers is None else dict(zip(customers["customer_id"].astype(str), customers["birth_year"]))
    interviewers = sorted(sample["interviewer"].astype(str).unique())
    skill = {name: rng.normal(0, 0.08) for name in interviewers}   # interviewers differ a little
    rows, answers = [], {}
    smp = sample.assign(customer_id=sample["customer_id"].astype(str)).sort_values(
        ["stratum", "role", "reserve_rank", "case_id"], na_position="first", kind="stable")

    def call(rec) -> str:
        pr = probs.copy()
        pr[statuses.index("completed")] = max(0.05, pr[statuses.index("completed")] + skill[str(rec.interviewer)])
        status = str(rng.choice(statuses, p=pr / pr.sum()))
        attempts = 3 if status == "not_reached" else int(rng.integers(1, 3))
        rows.append({"case_id": rec.case_id, "customer_id": rec.customer_id, "interviewer": str(rec.interviewer),
                     "status": status, "attempts": attempts,
                     "call_date": start + dt.timedelta(days=int(rng.integers(0, 21)))})
        if status == "completed":
            by = born.get(rec.customer_id)
            answers[rec.case_id] = simulate_answers(survey, reasons.get(rec.customer_id), rng,
                                                    int(by) if by is not None and by == by else None)
        return status

    for _, grp in smp.groupby("stratum", sort=True):
        main = grp[grp["role"] == "main"]
        reserves = list(grp[grp["role"] != "main"].itertuples(index=False))
        lost = sum(call(rec) in ("refused", "not_reached") for rec in main.itertuples(index=False))
        for rec in reserves[:lost]:
            call(rec)
    return Fieldwork(pd.DataFrame(rows, columns=["case_id", "customer_id", "interviewer", "status", "attempts",
                                                 "call_date"]), answers)


def fill_phone_workbook(workbook: str | Path, target: str | Path, fieldwork: Fieldwork) -> Path:
    """Fill an exported interview workbook the way callers do (openpyxl: dropdown labels, one answer per
    slot, call dates), save it as ``target``."""
    import openpyxl

    wb = openpyxl.load_workbook(workbook)
    layout = pd.DataFrame(list(wb[COLUMNS_SHEET].iter_rows(min_row=2, values_only=True)),
                          columns=[c.value for c in wb[COLUMNS_SHEET][1]])
    choices = pd.DataFrame(list(wb[CHOICES_SHEET].iter_rows(min_row=2, values_only=True)),
                           columns=[c.value for c in wb[CHOICES_SHEET][1]])
    to_label = {(str(r.question), str(r.code)): str(r.label) for r in choices.itertuples(index=False)}
    by_key = {str(r.key): r for r in layout.itertuples(index=False)}
    cases = fieldwork.cases.set_index("case_id")
    for ws in wb.worksheets:
        if ws.sheet_state != "visible" or ws.title.startswith(("说明", "话术")):
            continue
        header = [c.value for c in ws[1]]
        pos = {by_key[h].key if h in by_key else None: j + 1 for j, h in enumerate(header) if h}
        pos = {str(layout.loc[layout["header"] == h, "key"].iloc[0]): j + 1 for j, h in enumerate(header)
               if h in set(layout["header"])}
        for row in range(2, ws.max_row + 1):
            case = ws.cell(row, pos["case_id"]).value
            if case is None or case not in cases.index:
                continue
            c = cases.loc[case]
            set_cell(ws, row, pos["status"], to_label[("status", c["status"])])
            set_cell(ws, row, pos["attempts"], int(c["attempts"]))
            set_cell(ws, row, pos["call_date"], dt.datetime.combine(c["call_date"], dt.time()))
            for q, text in fieldwork.answers.get(case, {}).items():
                spec = by_key.get(q)
                if spec is not None and spec.kind == "other_text" or (spec is not None and spec.type in ("number", "free_text")):
                    value: object = text
                    if spec.type == "number":
                        value = float(text) if "." in text else int(text)
                    set_cell(ws, row, pos[q], value)
                elif spec is not None:
                    set_cell(ws, row, pos[q], to_label[(q, text)])
                else:   # multiple choice / ranking: one label per slot
                    for k, code in enumerate(text.split(), 1):
                        set_cell(ws, row, pos[f"{q}__{k}"], to_label[(q, code)])
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


def export_rows(survey: Survey, survey_id: str, fieldwork: Fieldwork, sample: pd.DataFrame, *, style: str = "kobo",
                group: str = "", option_columns: bool = True, seed: int = 0) -> pd.DataFrame:
    """The completed interviews as a Kobo (``/`` paths, ``_uuid`` ...) or ODK Central (``-`` paths, ``KEY``
    ...) export of XML values: select-multiple as space-separated names plus, if ``option_columns``, one
    0/1 column per option."""
    if style not in ("kobo", "odk"):
        raise ValueError("style must be 'kobo' or 'odk'")
    rng = np.random.default_rng(seed)
    sep = "/" if style == "kobo" else "-"
    pre = f"{group}{sep}" if group else ""
    strata = dict(zip(sample["case_id"], sample["stratum"]))
    done = fieldwork.cases[fieldwork.cases["status"] == "completed"]
    out = []
    for k, c in enumerate(done.itertuples(index=False)):
        t0 = dt.datetime.combine(c.call_date, dt.time(9)) + dt.timedelta(minutes=int(rng.integers(0, 600)))
        t1 = t0 + dt.timedelta(minutes=int(rng.integers(3, 12)))
        rec: dict[str, object] = {"start": t0.isoformat(), "end": t1.isoformat(), "survey_id": survey_id,
                                  "case_id": c.case_id, "customer_ref": c.customer_id, "stratum": strata.get(c.case_id, "")}
        ans = fieldwork.answers.get(c.case_id, {})
        for q in survey.questions:
            if not q.asks:
                continue
            rec[pre + q.name] = ans.get(q.name, "")
            if q.type == "multiple_choice" and option_columns:
                picked = set(ans.get(q.name, "").split())
                for ch in q.choices:
                    rec[f"{pre}{q.name}{sep}{ch.name}"] = ("1" if ch.name in picked else "0") if q.name in ans else ""
            if q.other_choice is not None:
                rec[f"{pre}{q.name}_other"] = ans.get(f"{q.name}_other", "")
        key = str(uuid.UUID(int=int(rng.integers(0, 2**62)) << 64 | int(rng.integers(0, 2**62)), version=4))
        if style == "kobo":
            rec.update({"_id": 100000 + k, "_uuid": key, "_submission_time": t1.isoformat(),
                        "_validation_status": "", "_notes": "", "_status": "submitted_via_web",
                        "_submitted_by": c.interviewer, "__version__": "vAbc123", "_tags": "", "_index": k + 1})
        else:
            rec = {"SubmissionDate": t1.isoformat() + ".000Z", **rec,
                   "meta-instanceID": f"uuid:{key}", "KEY": f"uuid:{key}", "SubmitterID": 5,
                   "SubmitterName": c.interviewer, "AttachmentsPresent": 0, "AttachmentsExpected": 0,
                   "Status": "", "ReviewState": "", "DeviceID": "", "Edits": 0, "FormVersion": "2026.1"}
        out.append(rec)
    return pd.DataFrame(out)


def write_export(frame: pd.DataFrame, target: str | Path, *, encoding: str = "utf-8") -> Path:
    """Write an export frame as csv (``encoding``) or xlsx (by suffix), text as text."""
    from workbench.reports.files import atomic_path, excel_workbook, write_frame

    target = Path(target)
    if target.suffix.lower() == ".xlsx":
        with excel_workbook(target) as wb:
            write_frame(wb, "data", frame.astype(str).replace({"nan": ""}), freeze=False, autofilter=False)
    else:
        with atomic_path(target) as tmp:
            frame.to_csv(tmp, index=False, encoding=encoding)
    return target


def demo_truth(db: str | Path, business: str, seed: int = 0) -> pd.DataFrame:
    """The planted truth of a demo store, regenerated from its seed (checked against the stored customers)."""
    from workbench.data.demo import generate
    from workbench.data.store import read_table

    customers = read_table("customers", db, columns=["customer_id", "birth_year"])
    data = generate(business, len(customers), seed=seed)
    mine = data.customers[["customer_id", "birth_year"]].astype({"birth_year": "int64"}).sort_values("customer_id")
    theirs = customers.astype({"birth_year": "int64", "customer_id": str}).sort_values("customer_id")
    if not np.array_equal(mine.to_numpy(), theirs.to_numpy()):
        raise ValueError(f"{db}: the customers are not the {business} demo with seed {seed}; no planted truth")
    return data.truth
