"""Render a contact script (say / ask / offer) for one customer from the playbook, in zh or en.

The script is chosen by the customer's reason family, contact step and colour
(rational / emotional, article 003); placeholders are filled from the
assignment: {name}, {agent}, {bundle}, {valid_until}, {store} (the playbook's ``store_names`` for the
customer's store code, else "our shop"). When a step
offers a bundle but none fits the customer, the playbook's ``no_bundle_offer``
text replaces the offer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from workbench.campaigns.playbook import LANGUAGES, OUTCOMES, Playbook
from workbench.errors import NotFound

SOURCE_LABELS = {"known": ("已知", "known"), "inferred": ("推断", "inferred"), "default": ("默认", "default")}
PART_LABELS = {"say": ("说", "Say"), "ask": ("问", "Ask"), "offer": ("给", "Offer")}


def _lang_index(lang: str) -> int:
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {lang!r}")
    return 0 if lang == "zh" else 1


def _blank(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def bundle_text(playbook: Playbook, bundle: Any, valid_until: Any, lang: str) -> str:
    """'label (valid until 2026-12-31)' in the language, '' for no bundle."""
    if _blank(bundle):
        return ""
    b = playbook.bundles.get(str(bundle))
    label = b.label.get(lang) if b else str(bundle)
    if _blank(valid_until):
        return label
    day = pd.Timestamp(valid_until).date().isoformat()
    return f"{label}（有效期至{day}）" if lang == "zh" else f"{label} (valid until {day})"


def render_script(playbook: Playbook, family: str, step: int, colour: str, lang: str = "zh", *,
                  name: Any = "", agent: Any = "", bundle: Any = None, valid_until: Any = None,
                  store: Any = "") -> dict[str, str]:
    """The say / ask / offer texts for one contact."""
    _lang_index(lang)
    fam = playbook.scripts[family]
    st = fam.steps[min(int(step), max(fam.steps))]
    colour = colour if colour in st.say else "rational"
    shop = None if _blank(store) else playbook.store_names.get(str(store))
    # no name (dropped for an outside call centre): "您好" and "Hello there,", never "Hello ,"
    ctx = {"name": ("" if lang == "zh" else "there") if _blank(name) else str(name),
           "agent": "" if _blank(agent) else str(agent),
           "store": shop.get(lang) if shop else "",
           "bundle": "" if _blank(bundle) else (playbook.bundles[str(bundle)].label.get(lang)
                                               if str(bundle) in playbook.bundles else str(bundle)),
           "valid_until": "" if _blank(valid_until) else pd.Timestamp(valid_until).date().isoformat()}
    if not ctx["store"]:
        ctx["store"] = "我们店" if lang == "zh" else "our shop"
    offer = st.offer[colour].get(lang)
    if st.bundle and _blank(bundle):
        offer = playbook.no_bundle_offer.get(lang)
    return {"say": st.say[colour].get(lang).format_map(ctx), "ask": st.ask[colour].get(lang).format_map(ctx),
            "offer": offer.format_map(ctx)}


def script_text(parts: dict[str, str], lang: str = "zh") -> str:
    """One cell of text: 说：… / 问：… / 给：… on separate lines."""
    i = _lang_index(lang)
    sep = "：" if lang == "zh" else ": "
    return "\n".join(f"{PART_LABELS[k][i]}{sep}{parts[k]}" for k in ("say", "ask", "offer"))


def outcome_label(code: str, lang: str | None = None) -> str:
    """The dropdown label: '已接通 Reached' (both languages, so either team can read it)."""
    zh, en = OUTCOMES[code]
    return f"{zh} {en}" if lang is None else (zh if lang == "zh" else en)


def preview(plan_or_assignments: Any, playbook: Playbook, customer_id: str, lang: str = "zh",
            details: pd.DataFrame | None = None, round_date: dt.date | None = None) -> dict[str, Any]:
    """A sample customer's assignment and rendered script (the notebook's preview)."""
    a = getattr(plan_or_assignments, "assignments", plan_or_assignments)
    d = getattr(plan_or_assignments, "details", details)
    row = a[a["customer_id"].astype(str) == str(customer_id)]
    if not len(row):
        raise NotFound(f"customer {customer_id!r} is not in this round")
    r = row.iloc[0].to_dict()
    info = {}
    if d is not None and len(d):
        m = d[d["customer_id"].astype(str) == str(customer_id)]
        info = m.iloc[0].to_dict() if len(m) else {}
    step = r.get("script_step")
    parts = None if _blank(step) else render_script(
        playbook, r["reason_family"], int(step), r["colour"], lang, name=info.get("name"), agent=r.get("agent"),
        bundle=r.get("bundle"), valid_until=r.get("valid_until"), store=info.get("store"))
    return {**r, "name": info.get("name"), "script": parts}
