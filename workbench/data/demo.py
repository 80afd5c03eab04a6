"""Seeded demo data for two businesses from the domain digest, with planted effects to recover.

``dealership``: a car dealership's after-sales customers (default 20,000),
several years of service visits with necessary spend (maintenance, repair,
tyres, brakes) and discretionary spend (detailing, accessories, car wash,
extended warranty), engagement events, and customers drifting away.

``phone_brand``: a phone brand whose young customers left over the last half
year (the young-customer attrition study of article 002).

Planted effects (what later stages must find; ``truth`` holds them per customer):

1. Segments (dealership). ``loyal`` keep their own service rhythm to the as-of
   date. ``drifting`` (10% of established customers) start slipping at
   ``drift_start``, 6-15 months before the as-of date: their gaps between
   visits grow 2.5-fold, their discretionary spend stops, their engagement
   events fall by 75%, and half of them file a complaint within 30 days of
   ``drift_start``. ``lost`` (18%) stop visiting at ``drift_start``, 13-48
   months before the as-of date. ``one_time`` (12%) bought once. ``new``
   customers' first purchase is within 180 days of the as-of date.
2. Reasons. Every drifting, lost or young_left customer has a
   ``planted_reason`` from the reason taxonomy. Dealership: customers under 30
   name ``price`` (35%) and ``waiting_time`` (25%) far more than older ones,
   who name ``service_attitude``, ``quality`` and ``not_fixed_first_time``
   most (see ``DEALER_REASONS``).
3. Phone brand. 45% of customers under 30 (segment ``young_left``) stopped
   buying 4-8 months before the as-of date; their top reason is
   ``style_outdated`` (45%), then ``price`` (20%). Older lost customers name
   ``price`` and ``quality`` most and ``style_outdated`` rarely (5%).
4. Campaign response (used by the round simulation of the evaluation stage):
   ``CAMPAIGN_EFFECT`` gives the 3-month return probability for holdout and
   treated customers per reason family; ``no_need`` customers do not respond.

Everything is vectorised NumPy so the same generator writes 1,000,000
customers and ~10,000,000 transactions for the benchmarks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_AS_OF = dt.date(2026, 10, 31)
BUSINESSES = ("dealership", "phone_brand")

DEALER_REASONS = {
    "young": {"price": .35, "waiting_time": .25, "service_attitude": .08, "quality": .07,
              "competitor_nearby": .10, "only_contact_to_sell": .05, "distance_moved": .05, "no_need": .05},
    "older": {"service_attitude": .25, "quality": .18, "not_fixed_first_time": .15, "price": .10,
              "waiting_time": .08, "unkept_promise": .08, "competitor_nearby": .06, "distance_moved": .05,
              "no_need": .05},
}
PHONE_REASONS = {
    "young": {"style_outdated": .45, "price": .20, "competitor_nearby": .10, "few_attractive_offers": .10,
              "quality": .05, "other": .10},
    "older": {"price": .30, "quality": .25, "service_attitude": .15, "no_need": .20, "style_outdated": .05,
              "other": .05},
}
#: 3-month return probability by arm (planted for the evaluation stage).
CAMPAIGN_EFFECT = {"holdout": 0.10, "treatment": 0.18, "no_need_treatment": 0.10}

_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁")
_GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华文玉兰红建国志海斌宇浩凯鑫雪琳晨欣")
_REGIONS = ["天河区", "越秀区", "海珠区", "番禺区", "白云区", "黄埔区", "荔湾区", "花都区"]
_OCCUPATIONS = ["企业职员", "公务员", "教师", "医生", "个体经营", "工程师", "销售", "学生", "退休", "自由职业"]
_FAMILY = ["单身", "已婚无子女", "已婚有子女", "三代同堂"]
_TIMES = ["工作日上午", "工作日下午", "工作日晚上", "周末"]
_CHANNELS = ["phone", "sms", "wechat", "email", "letter", "visit"]
_CHANNEL_P = [.35, .15, .35, .07, .03, .05]


@dataclass
class DemoData:
    """One business's demo tables plus the planted truth per customer."""

    business: str
    as_of: dt.date
    customers: pd.DataFrame
    transactions: pd.DataFrame
    events: pd.DataFrame
    truth: pd.DataFrame


def _age_band(age: np.ndarray) -> np.ndarray:
    bins = np.array([0, 25, 30, 40, 50, 60, 200])
    labels = np.array(["<25", "25-29", "30-39", "40-49", "50-59", "60+"])
    return labels[np.digitize(age, bins[1:-1])]


def _pick_reasons(rng: np.random.Generator, young: np.ndarray, table: dict) -> np.ndarray:
    out = np.empty(len(young), dtype=object)
    for group, mask in (("young", young), ("older", ~young)):
        codes = list(table[group])
        p = np.array(list(table[group].values()))
        out[mask] = rng.choice(codes, size=int(mask.sum()), p=p / p.sum())
    return out


def _renewal_days(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, mean_gap: np.ndarray,
                  slow_from: np.ndarray, slow_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """Visit days (as day numbers) per customer from a gamma renewal process, vectorised.

    Gaps after ``slow_from`` are stretched by ``slow_factor``. Returns
    (customer index, day) for every visit in [start, end].
    """
    span = np.maximum(end - start, 0)
    max_k = (span / (mean_gap * 0.45)).astype(np.int64) + 2
    idx = np.repeat(np.arange(len(start)), max_k)
    gaps = rng.gamma(4.0, 1.0, size=len(idx)) * (mean_gap[idx] / 4.0)
    first = np.r_[0, np.cumsum(max_k)[:-1]]
    gaps[first] = 0.0  # the first visit is the first purchase
    # Stretch gaps after the slow-down point: apply on a provisional timeline.
    csum = np.cumsum(gaps)
    offset = np.repeat(csum[first], max_k)
    day = start[idx] + (csum - offset)
    slowed = day > slow_from[idx]
    gaps = np.where(slowed, gaps * slow_factor, gaps)
    csum = np.cumsum(gaps)
    offset = np.repeat(csum[first], max_k)
    day = start[idx] + (csum - offset)
    keep = day <= end[idx]
    return idx[keep], np.floor(day[keep]).astype(np.int64)


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    s = rng.choice(_SURNAMES, n)
    g1 = rng.choice(_GIVEN, n)
    g2 = np.where(rng.random(n) < .6, rng.choice(_GIVEN, n), "")
    return np.char.add(np.char.add(s.astype(str), g1.astype(str)), g2.astype(str))


def generate(business: str = "dealership", n_customers: int | None = None, seed: int = 0,
             as_of: dt.date = DEMO_AS_OF) -> DemoData:
    """Generate one business's customers, transactions, events and planted truth (deterministic per seed)."""
    if business not in BUSINESSES:
        raise ValueError(f"business must be one of {BUSINESSES}, got {business!r}")
    n = int(n_customers or (20_000 if business == "dealership" else 8_000))
    rng = np.random.default_rng([seed, BUSINESSES.index(business)])
    dealer = business == "dealership"
    prefix = "D" if dealer else "P"
    ids = np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    asof_day = (as_of - dt.date(1970, 1, 1)).days

    # --- who they are
    age = np.clip(rng.normal(42 if dealer else 33, 12 if dealer else 10, n), 18, 75).astype(int)
    if not dealer:  # the brand's base is young-heavy before the exodus
        age = np.where(rng.random(n) < .4, rng.integers(18, 30, n), age)
    young = age < 30
    history_years = 8 if dealer else 5
    first = asof_day - rng.integers(30, 365 * history_years, n)
    mean_gap = rng.lognormal(np.log(130 if dealer else 150), 0.35, n)

    segment = np.full(n, "loyal", dtype=object)
    new = first > asof_day - 180
    u = rng.random(n)
    segment[~new & (u < .10)] = "drifting"
    segment[~new & (u >= .10) & (u < .28)] = "lost"
    segment[~new & (u >= .28) & (u < .40)] = "one_time"
    segment[new] = "new"
    drift_start = np.full(n, np.nan)
    if dealer:
        d = segment == "drifting"
        drift_start[d] = asof_day - rng.integers(180, 456, d.sum())
    else:
        yl = young & ~new & (rng.random(n) < .45)
        segment[yl] = "young_left"
        drift_start[yl] = asof_day - rng.integers(120, 243, yl.sum())
        segment[(segment == "drifting")] = "loyal"  # the brand's story is the young exodus
    lost = segment == "lost"
    drift_start[lost] = asof_day - rng.integers(395, 1460, lost.sum())
    # Slipping needs a rhythm to slip from: at least a year of history before the drift.
    too_young = np.isin(segment, ["drifting", "lost", "young_left"]) & (drift_start < first + 365)
    segment[too_young] = "loyal"
    drift_start[too_young] = np.nan
    end = np.full(n, float(asof_day))
    stop = np.isin(segment, ["lost", "young_left"])
    end[stop] = drift_start[stop]
    slow_from = np.where(segment == "drifting", drift_start, np.inf)
    cust_idx, day = _renewal_days(rng, first.astype(float), end, mean_gap, slow_from, 2.5)
    # The young who left bought one last time as they went (4-8 months ago): the half-year story.
    yl_idx = np.flatnonzero(segment == "young_left")
    cust_idx = np.r_[cust_idx, yl_idx]
    day = np.r_[day, np.floor(drift_start[yl_idx]).astype(np.int64)]
    one = segment == "one_time"
    keep = ~one[cust_idx] | (day == first[cust_idx])
    cust_idx, day = cust_idx[keep], day[keep]

    # --- what they spent: one necessary line per visit, sometimes a discretionary line
    nv = len(cust_idx)
    likes_extras = rng.beta(2, 3, n)
    if dealer:
        nec_cats = np.array(["maintenance", "repair", "tyres", "brakes"])
        nec_p = [.62, .2, .1, .08]
        nec_amt = rng.lognormal(np.log(1150), 0.55, nv)
        disc_cats = np.array(["detailing", "accessories", "car_wash", "extended_warranty"])
        disc_p = [.35, .3, .25, .1]
        disc_amt = rng.lognormal(np.log(380), 0.8, nv)
    else:
        nec_cats = np.array(["handset", "repair", "battery"])
        nec_p = [.55, .3, .15]
        nec_amt = np.where(rng.random(nv) < .55, rng.lognormal(np.log(3200), .35, nv), rng.lognormal(np.log(300), .5, nv))
        disc_cats = np.array(["case", "earbuds", "charger", "care_plan"])
        disc_p = [.35, .3, .2, .15]
        disc_amt = rng.lognormal(np.log(180), 0.7, nv)
    nec_cat = rng.choice(nec_cats, nv, p=nec_p)
    drifting_now = (segment[cust_idx] == "drifting") & (day > drift_start[cust_idx])
    has_disc = (rng.random(nv) < likes_extras[cust_idx]) & ~drifting_now
    stores = np.array(["TH01", "PY02", "BY03"] if dealer else ["SZ01", "GZ02"])
    home_store = rng.choice(stores, n, p=[.45, .35, .2] if dealer else [.6, .4])
    rows_c = np.r_[cust_idx, cust_idx[has_disc]]
    rows_d = np.r_[day, day[has_disc]]
    amount = np.round(np.r_[nec_amt, disc_amt[has_disc]], 2)
    category = np.r_[nec_cat, rng.choice(disc_cats, int(has_disc.sum()), p=disc_p)]
    spend_type = np.r_[np.full(nv, "necessary"), np.full(int(has_disc.sum()), "discretionary")]
    order = np.lexsort((rows_d, rows_c))
    tx = pd.DataFrame({
        "transaction_id": np.char.add(f"{prefix}T", np.char.zfill(np.arange(1, len(order) + 1).astype(str), 8)),
        "customer_id": ids[rows_c[order]],
        "date": pd.to_datetime(rows_d[order], unit="D"),
        "amount": amount[order],
        "category": category[order],
        "spend_type": spend_type[order],
        "store": home_store[rows_c[order]],
    })

    # --- engagement events
    ev_rates = {"referral": .08, "event_attended": .35, "survey_answered": .25, "forum_post": .06,
                "answered_question": .04, "suggestion": .05}
    years_active = (end - first) / 365.25
    ev_parts = []
    for kind, rate in ev_rates.items():
        k = rng.poisson(rate * years_active * (1 + likes_extras))
        ci = np.repeat(np.arange(n), k)
        d = first[ci] + rng.random(len(ci)) * (end[ci] - first[ci])
        damp = (segment[ci] == "drifting") & (d > drift_start[ci]) & (rng.random(len(ci)) < .75)
        ev_parts.append((ci[~damp], d[~damp], np.full((~damp).sum(), kind)))
    # complaints: background rate, plus half the drifting complain near their drift start
    k = rng.poisson(.03 * years_active)
    ci = np.repeat(np.arange(n), k)
    ev_parts.append((ci, first[ci] + rng.random(len(ci)) * (end[ci] - first[ci]), np.full(len(ci), "complaint")))
    comp = np.flatnonzero((segment == "drifting") & (rng.random(n) < .5))
    ev_parts.append((comp, drift_start[comp] + rng.integers(0, 30, len(comp)), np.full(len(comp), "complaint")))
    e_ci = np.concatenate([p[0] for p in ev_parts]).astype(np.int64)
    e_day = np.floor(np.concatenate([p[1] for p in ev_parts])).astype(np.int64)
    e_kind = np.concatenate([p[2] for p in ev_parts])
    keep = e_day <= asof_day
    e_ci, e_day, e_kind = e_ci[keep], e_day[keep], e_kind[keep]
    order = np.lexsort((e_day, e_ci))
    e_ci, e_day, e_kind = e_ci[order], e_day[order], e_kind[order]
    referred = np.where(e_kind == "referral", ids[rng.integers(0, n, len(e_ci))], None)
    events = pd.DataFrame({
        "event_id": np.char.add(f"{prefix}E", np.char.zfill(np.arange(1, len(e_ci) + 1).astype(str), 8)),
        "customer_id": ids[e_ci],
        "date": pd.to_datetime(e_day, unit="D"),
        "kind": e_kind,
        "referred_customer_id": referred,
        "store": home_store[e_ci],
    })

    # --- customer master data
    birth_year = as_of.year - age
    customers = pd.DataFrame({
        "customer_id": ids,
        "name": _names(rng, n),
        "phone": np.char.add(rng.choice(["138", "139", "137", "186", "158", "135"], n),
                             np.char.zfill(rng.integers(0, 10**8, n).astype(str), 8)),
        "wechat_id": np.char.add("wx_", np.char.zfill(rng.integers(0, 10**7, n).astype(str), 7)),
        "gender": rng.choice(["M", "F"], n, p=[.62, .38] if dealer else [.5, .5]),
        "birth_year": birth_year,
        "age_band": _age_band(age),
        "region": rng.choice(_REGIONS, n),
        "occupation": rng.choice(_OCCUPATIONS, n),
        "family_status": rng.choice(_FAMILY, n),
        "first_purchase_date": pd.to_datetime(first, unit="D"),
        "preferred_channel": rng.choice(_CHANNELS, n, p=_CHANNEL_P),
        "preferred_time": rng.choice(_TIMES, n),
        "colour": rng.choice(["rational", "emotional"], n),
        "store": home_store,
        "do_not_contact": rng.random(n) < .02,
    })
    if dealer:
        customers["years_driving"] = np.clip(age - 18 - rng.integers(0, 10, n), 0, None)
        customers["vehicle_model"] = rng.choice(["轩逸", "天籁", "奇骏", "逍客", "楼兰"], n)
        customers["plate_number"] = np.char.add("粤A", np.char.zfill(rng.integers(0, 10**5, n).astype(str), 5))
        customers["monthly_mileage"] = np.round(rng.lognormal(np.log(1200), .4, n))
    else:
        customers["product_model"] = rng.choice(["X10", "X10 Pro", "Note 8", "Lite 5"], n)
    customers["has_children"] = np.isin(customers["family_status"], ["已婚有子女", "三代同堂"])

    reasons = _pick_reasons(rng, young, DEALER_REASONS if dealer else PHONE_REASONS)
    has_reason = np.isin(segment, ["drifting", "lost", "young_left"])
    truth = pd.DataFrame({
        "customer_id": ids,
        "segment": segment.astype(str),
        "drift_start": pd.to_datetime(np.where(np.isnan(drift_start), np.nan, drift_start), unit="D"),
        "planted_reason": pd.array(np.where(has_reason, reasons, None), dtype="string"),
        "age_band": customers["age_band"],
    })
    return DemoData(business, as_of, customers, tx, events, truth)


# --- files as a business would export them ------------------------------------------------

#: How each demo table is written: (format, encoding, header language). Mixed on purpose, so the
#: demo exercises the importer the way real exports do.
FILE_LAYOUT = {
    "dealership": {"customers": ("xlsx", None, "zh"), "transactions": ("csv", "utf-8-sig", "zh"),
                   "events": ("csv", "utf-8", "en")},
    "phone_brand": {"customers": ("csv", "gb18030", "zh"), "transactions": ("csv", "utf-8", "en"),
                    "events": ("xlsx", None, "en")},
}


def _zh_header(table: str, column: str) -> str:
    from workbench.data.schema import load_schema

    col = load_schema()[table].columns[column]
    return next((a for a in col.aliases if any("\u4e00" <= ch <= "\u9fff" for ch in a)), column)


def write_demo_files(data: DemoData, out_dir: str | Path) -> dict[str, Path]:
    """Write a business's tables as CSV/XLSX exports (some GB18030, some with Chinese headers)."""
    from workbench.reports.files import atomic_path, excel_workbook, write_frame

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for table, (fmt, encoding, lang) in FILE_LAYOUT[data.business].items():
        frame = getattr(data, table).copy()
        for col in frame.columns:
            if frame[col].dtype.kind == "M":
                frame[col] = frame[col].dt.strftime("%Y-%m-%d")
        if lang == "zh":
            frame.columns = [_zh_header(table, c) for c in frame.columns]
        path = out / f"{data.business}_{table}.{fmt}"
        if fmt == "xlsx":
            with excel_workbook(path) as wb:
                write_frame(wb, table, frame)
        else:
            with atomic_path(path) as tmp:
                frame.to_csv(tmp, index=False, encoding=encoding)
        written[table] = path
    return written


def build_demo_db(db_path: str | Path, business: str = "dealership", n_customers: int | None = None,
                  seed: int = 0, files_dir: str | Path | None = None, as_of: dt.date = DEMO_AS_OF) -> DemoData:
    """Generate a business's demo data, write its export files and import them into ``db_path``."""
    import tempfile

    from workbench.data.importer import import_files

    data = generate(business, n_customers, seed=seed, as_of=as_of)
    with tempfile.TemporaryDirectory() as tmp:
        files = write_demo_files(data, files_dir or tmp)
        for table in ("customers", "transactions", "events"):
            import_files(table, [files[table]], db_path)
    return data
