"""Campaign playbooks (``campaigns/*.yaml``): load, validate completely, and answer the engine's questions.

A playbook holds what the marketing side decides: which customers a round
targets, the per-reason-family scripts for the 1st, 2nd and 3rd contact (say /
ask / offer, a rational and an emotional variant, zh and en), when a third
contact is allowed, channels by tier / stage / step, time windows, agents per
team, contact gaps and caps, bundle offers with their eligibility, cost and
validity, and the round's budget cap.

It deliberately does not hold the per-stage contact policy (quiet rules): that
is the scoring stage's data (``workbench/scoring/industries/<industry>.yaml``,
read with :func:`workbench.scoring.stages.contact_policy`) and is attached to
the loaded playbook as :attr:`Playbook.stage_policy`.

Every key is checked on load; an error names the file and the dotted key.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.configcheck import ConfigChecker, shown
from workbench.errors import ConfigError
from workbench.paths import PROJECT_ROOT
from workbench.scoring.config import ALL_STAGES, CHANNELS, ScoringConfigError, load_industry
from workbench.scoring.stages import contact_policy
from workbench.surveys.taxonomy import REASON_CODES, load_reason_taxonomy
from workbench.yamlfiles import bundled_names, read_config

PLAYBOOKS_DIR = PROJECT_ROOT / "campaigns"
COLOURS = ("rational", "emotional")
LANGUAGES = ("zh", "en")
#: Contact outcomes recorded by the call team (code -> zh, en label).
OUTCOMES: dict[str, tuple[str, str]] = {
    "reached": ("已接通", "Reached"),
    "not_reached": ("未接通", "Not reached"),
    "wrong_number": ("号码错误", "Wrong number"),
    "refused": ("拒绝", "Refused"),
    "interested": ("有兴趣", "Interested"),
    "booked": ("已预约到店", "Booked a visit"),
    "do_not_contact": ("勿再联系", "Do not contact"),
}
BUNDLE_KINDS = ("full_plan", "favourite")
PRICE_SENSITIVE = ("any", "only", "never")
PLACEHOLDERS = frozenset({"name", "agent", "bundle", "valid_until", "store"})
#: Offer text when a step offers a bundle but none fits the customer (playbook key ``no_bundle_offer``).
NO_BUNDLE_OFFER = {"zh": "暂无合适套餐：请记录客户的需求，下次联系时再配。",
                   "en": "No fitting package yet: note what the customer needs for the next contact."}
#: Stage policy contact modes under which nobody is contacted by a campaign.
SILENT_MODES = frozenset({"none"})


class PlaybookError(ConfigError):
    """The playbook is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Step:
    number: int
    say: dict[str, Text]          # colour -> text
    ask: dict[str, Text]          # colour -> text (same text for both colours when not split)
    offer: dict[str, Text]
    bundle: bool


@dataclass(frozen=True)
class FamilyScript:
    family: str
    max_steps: int
    third_allowed: bool
    third_only_after: tuple[str, ...]
    third_tiers: tuple[int, ...] | None
    steps: dict[int, Step]


@dataclass(frozen=True)
class ChannelRule:
    tiers: tuple[int, ...] | None
    stages: tuple[str, ...] | None
    steps: tuple[int, ...] | None
    use: tuple[str, ...]

    def matches(self, tier: int, stage: str, step: int) -> bool:
        return ((self.tiers is None or tier in self.tiers) and (self.stages is None or stage in self.stages)
                and (self.steps is None or step in self.steps))


@dataclass(frozen=True)
class Bundle:
    id: str
    label: Text
    kind: str
    categories: tuple[str, ...]
    cost: float
    valid_days: int
    tiers: tuple[int, ...] | None
    stages: tuple[str, ...]
    requires_any: tuple[str, ...]     # the customer must have bought one of these before
    price_sensitive: str              # any / only / never
    max_per_round: int | None


@dataclass(frozen=True)
class Playbook:
    id: str
    version: str
    source: str
    label: Text
    industry: str
    currency: str
    target_stages: tuple[str, ...]
    target_query: str | None
    value_floor: float
    holdout_share: float
    holdout_seed: int
    holdout_max_smd: float
    holdout_max_redraws: int
    holdout_release_after_rounds: int | None
    min_gap_days: int
    max_contacts_per_month: float
    max_steps: int
    repeat_not_reached: int
    channel_cost: dict[str, float]
    channels: tuple[ChannelRule, ...]
    time_default: Text
    time_preferred: dict[str, Text]
    time_by_channel: dict[str, Text]
    agents: dict[str, tuple[str, ...]]
    round_cap: float | None
    segment_by: tuple[str, ...]
    min_known: int
    price_sensitive_reasons: tuple[str, ...]
    default_reason: dict[str, str]
    categories: tuple[str, ...]
    bundles: dict[str, Bundle]
    scripts: dict[str, FamilyScript]
    no_bundle_offer: Text
    store_names: dict[str, Text]
    stage_policy: dict[str, dict[str, Any]] = field(repr=False)
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    # --- rules the engine asks about -------------------------------------------------------

    def gap_days(self, stage: str) -> int:
        """Minimum days between two contacts in ``stage``: the playbook's gap, or more when the stage
        policy allows fewer than one contact a month (0.5 a month = every 60 days)."""
        per_month = float(self.stage_policy[stage]["max_contacts_per_month"])
        policy_gap = math.ceil(30 / per_month) if per_month > 0 else 10 ** 6
        return max(self.min_gap_days, policy_gap)

    def monthly_cap(self, stage: str) -> int:
        """Contacts allowed per customer in any 30 days: the lower of the playbook's and the stage's cap
        (a fractional stage cap such as 0.5 allows one, spaced by :meth:`gap_days`)."""
        per_month = float(self.stage_policy[stage]["max_contacts_per_month"])
        cap = min(self.max_contacts_per_month, per_month)
        return 0 if cap <= 0 else max(1, math.floor(cap))

    def stage_is_quiet(self, stage: str) -> bool:
        """True when the stage policy forbids campaign contact altogether."""
        p = self.stage_policy[stage]
        return p["contact"] in SILENT_MODES or float(p["max_contacts_per_month"]) <= 0

    def stage_allows_offers(self, stage: str) -> bool:
        """Bundles are offered only where the stage policy has an offer (``offer: none`` = no sales push)."""
        return str(self.stage_policy[stage].get("offer") or "none") != "none"

    def team(self, stage: str) -> str:
        return str(self.stage_policy[stage].get("handled_by") or "customer_service")

    def stage_channels(self, stage: str) -> tuple[str, ...]:
        return tuple(self.stage_policy[stage].get("channels") or CHANNELS)

    def family_steps(self, family: str) -> int:
        return min(self.max_steps, self.scripts[family].max_steps)


def available_playbooks() -> list[str]:
    """Names of the playbooks shipped in ``campaigns/``."""
    return bundled_names(PLAYBOOKS_DIR)


def load_playbook(playbook: str | Path) -> Playbook:
    """Load a shipped playbook by name (``dealership_winback``) or any YAML file by path, validated."""
    doc, source = read_config(playbook, PLAYBOOKS_DIR, PlaybookError, "playbook")
    return parse_playbook(doc, source)


class _Check(ConfigChecker):
    """The shared key checker plus playbook texts and tier lists."""

    def text(self, value: Any, key: str, placeholders: bool = False) -> Text:
        doc = self.mapping(value, key, set(LANGUAGES), set(LANGUAGES))
        out = {}
        for lang in LANGUAGES:
            where = f"{key}.{lang}"
            t = self.plain_text(doc[lang], where)
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(t) if f is not None}
            except ValueError as exc:
                self.fail(where, f"{exc} (write {{{{ and }}}} for a literal brace)")
            if names and not placeholders:
                self.fail(where, f"placeholders {sorted(names)} are not allowed here")
            bad = sorted(n for n in names if n not in PLACEHOLDERS)
            if bad:
                self.fail(where, f"unknown placeholder {{{bad[0]}}}; allowed: {sorted(PLACEHOLDERS)}")
            try:  # what render_script does with it: {name!z} or {name:>>>} only break here
                t.format_map({n: "x" for n in PLACEHOLDERS})
            except (ValueError, KeyError, IndexError, AttributeError) as exc:
                self.fail(where, f"the placeholders cannot be filled in: {exc!r}")
            out[lang] = t
        return Text(**out)

    def tiers(self, value: Any, key: str) -> tuple[int, ...]:
        if not isinstance(value, list) or not value or any(isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= 5
                                                           for t in value):
            self.fail(key, f"expected a non-empty list of tiers 1-5, got {shown(value)}")
        return tuple(value)


def _colour_text(ck: _Check, value: Any, key: str, require_split: bool) -> dict[str, Text]:
    """Either {zh, en} (same for both colours) or {rational: {zh, en}, emotional: {zh, en}}."""
    if isinstance(value, dict) and set(value) & set(COLOURS):
        ck.mapping(value, key, set(COLOURS), set(COLOURS))
        return {c: ck.text(value[c], f"{key}.{c}", placeholders=True) for c in COLOURS}
    if require_split:
        ck.fail(key, "needs a 'rational' and an 'emotional' variant (article 003: customer colour)")
    t = ck.text(value, key, placeholders=True)
    return {c: t for c in COLOURS}


def _parse_scripts(ck: _Check, doc: Any, families: list[str], max_steps: int) -> dict[str, FamilyScript]:
    doc = ck.mapping(doc, "scripts", set(families), set(families))
    out = {}
    for fam in families:
        key = f"scripts.{fam}"
        f = ck.mapping(doc[fam], key, {"max_steps", "third_contact", "steps"}, {"max_steps", "third_contact", "steps"})
        n = ck.whole(f["max_steps"], f"{key}.max_steps", 1, 3)
        third = ck.mapping(f["third_contact"], f"{key}.third_contact", {"allowed", "only_after", "tiers"}, {"allowed"})
        ck.flag(third["allowed"], f"{key}.third_contact.allowed")
        only_after = ck.choices(third.get("only_after", ["interested", "booked"]), f"{key}.third_contact.only_after",
                                tuple(OUTCOMES), "outcome")
        if "do_not_contact" in only_after or "refused" in only_after:
            ck.fail(f"{key}.third_contact.only_after", "a refusal or a do-not-contact can never lead to another contact")
        tiers = ck.tiers(third["tiers"], f"{key}.third_contact.tiers") if "tiers" in third else None
        if third["allowed"] and n < 3:
            ck.fail(f"{key}.third_contact.allowed", f"a third contact is allowed but max_steps is {n}")
        steps_doc = ck.mapping(f["steps"], f"{key}.steps")
        want = set(range(1, n + 1))
        have = set(steps_doc)
        if have != want:
            ck.fail(f"{key}.steps", f"expected steps {sorted(want)} (max_steps {n}), got {sorted(have, key=str)}")
        steps = {}
        for s in sorted(want):
            skey = f"{key}.steps.{s}"
            st = ck.mapping(steps_doc[s], skey, {"say", "ask", "offer", "bundle"}, {"say", "ask", "offer", "bundle"})
            ck.flag(st["bundle"], f"{skey}.bundle")
            offer = _colour_text(ck, st["offer"], f"{skey}.offer", require_split=False)
            if st["bundle"] and any("{bundle}" not in getattr(offer[c], lang) for c in COLOURS for lang in LANGUAGES):
                ck.fail(f"{skey}.offer", "bundle: true but the offer text does not name {bundle}")
            if not st["bundle"] and any(p in getattr(offer[c], lang) for c in COLOURS for lang in LANGUAGES
                                        for p in ("{bundle}", "{valid_until}")):
                ck.fail(f"{skey}.offer", "the offer names {bundle} but bundle is false")
            steps[s] = Step(s, _colour_text(ck, st["say"], f"{skey}.say", require_split=True),
                            _colour_text(ck, st["ask"], f"{skey}.ask", require_split=False), offer, st["bundle"])
        out[fam] = FamilyScript(fam, min(n, max_steps), bool(third["allowed"]), only_after, tiers, steps)
    return out


def _parse_bundles(ck: _Check, doc: Any, categories: tuple[str, ...]) -> dict[str, Bundle]:
    doc = ck.mapping(doc, "bundles")
    if not doc:
        ck.fail("bundles", "no bundles")
    out = {}
    for bid, b in doc.items():
        key = f"bundles.{bid}"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(bid)):
            ck.fail(key, "bundle ids are lower-case letters, digits and underscores")
        b = ck.mapping(b, key, {"label", "kind", "categories", "cost", "valid_days", "eligible", "max_per_round"},
                       {"label", "kind", "categories", "cost", "valid_days", "eligible"})
        if b["kind"] not in BUNDLE_KINDS:
            ck.fail(f"{key}.kind", f"unknown kind {shown(b['kind'])}; kinds are {list(BUNDLE_KINDS)}")
        cats = ck.choices(b["categories"], f"{key}.categories", categories, "category")
        if set(cats) == set(categories) and len(categories) > 2:
            ck.fail(f"{key}.categories", "a bundle covering every category is a blanket discount (article 000); "
                                         "fit it to what customers buy")
        el = ck.mapping(b["eligible"], f"{key}.eligible", {"tiers", "stages", "requires_any", "price_sensitive"},
                        {"stages"})
        ps = el.get("price_sensitive", "any")
        if ps not in PRICE_SENSITIVE:
            ck.fail(f"{key}.eligible.price_sensitive", f"expected one of {list(PRICE_SENSITIVE)}, got {shown(ps)}")
        cap = b.get("max_per_round")
        out[str(bid)] = Bundle(
            id=str(bid), label=ck.text(b["label"], f"{key}.label"), kind=b["kind"], categories=cats,
            cost=ck.number(b["cost"], f"{key}.cost", 0), valid_days=ck.whole(b["valid_days"], f"{key}.valid_days", 1, 366),
            tiers=ck.tiers(el["tiers"], f"{key}.eligible.tiers") if "tiers" in el else None,
            stages=ck.choices(el["stages"], f"{key}.eligible.stages", ALL_STAGES, "stage"),
            requires_any=ck.choices(el.get("requires_any", list(cats)), f"{key}.eligible.requires_any", categories,
                                    "category"),
            price_sensitive=ps,
            max_per_round=None if cap is None else ck.whole(cap, f"{key}.max_per_round", 1))
    return out


def parse_playbook(doc: Any, source: str = "<playbook>") -> Playbook:
    """Check a loaded playbook document completely and build the :class:`Playbook`."""
    ck = _Check(source, PlaybookError)
    top = {"playbook", "version", "label", "industry", "currency", "target", "holdout", "contact", "channels",
           "time_windows", "agents", "budget", "reasons", "categories", "bundles", "scripts", "no_bundle_offer", "store_names",
           "evaluation"}
    doc = ck.mapping(doc, "", top, top - {"version", "currency", "budget", "no_bundle_offer", "store_names", "evaluation"})
    if "evaluation" in doc:  # the round's evaluation settings, e.g. attribution windows per channel
        from workbench.evaluation.config import EvaluationConfigError, load_settings

        try:
            load_settings(doc["evaluation"], override_source=f"{source}: evaluation")
        except EvaluationConfigError as exc:
            raise PlaybookError(str(exc)) from None
    pid = doc["playbook"]
    if not isinstance(pid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", pid):
        ck.fail("playbook", "expected an id of lower-case letters, digits and underscores")
    try:
        industry = load_industry(doc["industry"])
    except ScoringConfigError as exc:
        ck.fail("industry", str(exc))
    policy = {r["stage"]: r for r in contact_policy(industry).to_dict("records")}

    t = ck.mapping(doc["target"], "target", {"stages", "query", "value_floor"}, {"stages", "value_floor"})
    stages = ck.choices(t["stages"], "target.stages", ALL_STAGES, "stage")
    query = t.get("query")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        ck.fail("target.query", "expected a pandas query text")
    floor = ck.number(t["value_floor"], "target.value_floor", 0)

    h = ck.mapping(doc["holdout"], "holdout", {"share", "seed", "max_smd", "max_redraws", "release_after_rounds"},
                   {"share", "seed"})
    share = ck.number(h["share"], "holdout.share", 0.0, 0.5)
    seed = ck.whole(h["seed"], "holdout.seed", 0)
    max_smd = ck.number(h.get("max_smd", 0.1), "holdout.max_smd", 0.0)
    redraws = ck.whole(h.get("max_redraws", 50), "holdout.max_redraws", 1, 10_000)
    release = h.get("release_after_rounds")
    release = None if release is None else ck.whole(release, "holdout.release_after_rounds", 1, 120)

    c = ck.mapping(doc["contact"], "contact", {"min_gap_days", "max_contacts_per_month", "max_steps",
                                               "repeat_not_reached", "channel_cost"},
                   {"min_gap_days", "max_contacts_per_month", "max_steps", "channel_cost"})
    gap = ck.whole(c["min_gap_days"], "contact.min_gap_days", 1, 365)
    cap = ck.number(c["max_contacts_per_month"], "contact.max_contacts_per_month", 0.1, 31)
    max_steps = ck.whole(c["max_steps"], "contact.max_steps", 1, 3)
    repeat = ck.whole(c.get("repeat_not_reached", 1), "contact.repeat_not_reached", 0, 5)
    costs = ck.mapping(c["channel_cost"], "contact.channel_cost", set(CHANNELS), set(CHANNELS))
    channel_cost = {ch: ck.number(costs[ch], f"contact.channel_cost.{ch}", 0) for ch in CHANNELS}

    if not isinstance(doc["channels"], list) or not doc["channels"]:
        ck.fail("channels", "expected a non-empty list of rules")
    rules = []
    for i, r in enumerate(doc["channels"]):
        key = f"channels[{i}]"
        r = ck.mapping(r, key, {"tiers", "stages", "steps", "use"}, {"use"})
        rules.append(ChannelRule(
            ck.tiers(r["tiers"], f"{key}.tiers") if "tiers" in r else None,
            ck.choices(r["stages"], f"{key}.stages", ALL_STAGES, "stage") if "stages" in r else None,
            ck.choices(r["steps"], f"{key}.steps", (1, 2, 3), "step") if "steps" in r else None,
            ck.choices(r["use"], f"{key}.use", CHANNELS, "channel")))
    last = rules[-1]
    if last.tiers is not None or last.stages is not None or last.steps is not None:
        ck.fail(f"channels[{len(rules) - 1}]", "the last rule must match everyone (no tiers/stages/steps)")

    tw = ck.mapping(doc["time_windows"], "time_windows", {"default", "preferred", "by_channel"}, {"default"})
    time_default = ck.text(tw["default"], "time_windows.default")
    preferred = {str(k): ck.text(v, f"time_windows.preferred.{k}")
                 for k, v in ck.mapping(tw.get("preferred", {}), "time_windows.preferred").items()}
    by_channel = {str(k): ck.text(v, f"time_windows.by_channel.{k}")
                  for k, v in ck.mapping(tw.get("by_channel", {}), "time_windows.by_channel", set(CHANNELS)).items()}

    a = ck.mapping(doc["agents"], "agents")
    agents = {}
    for team, names in a.items():
        if not isinstance(names, list) or not names or any(not isinstance(n, str) or not n.strip() for n in names):
            ck.fail(f"agents.{team}", "expected a non-empty list of agent names")
        if len(set(names)) != len(names):
            ck.fail(f"agents.{team}", "duplicate agent names")
        agents[str(team)] = tuple(n.strip() for n in names)
    for s in stages:
        team = policy[s].get("handled_by") or "customer_service"
        if team not in agents:
            ck.fail("agents", f"no agents for team {team!r}, which handles stage {shown(s)} "
                              f"(contact_policy.{s}.handled_by in {industry.source})")

    b = ck.mapping(doc.get("budget", {}), "budget", {"round_cap"})
    round_cap = ck.number(b["round_cap"], "budget.round_cap", 0, 999_999_999_999) if b.get("round_cap") is not None else None

    rs = ck.mapping(doc["reasons"], "reasons", {"segment_by", "min_known", "price_sensitive", "default_by_stage"},
                    {"default_by_stage"})
    segment_by = rs.get("segment_by", ["stage"])
    if not isinstance(segment_by, list) or any(not isinstance(x, str) for x in segment_by):
        ck.fail("reasons.segment_by", "expected a list of column names (scores or customers)")
    min_known = ck.whole(rs.get("min_known", 3), "reasons.min_known", 1)
    price_sensitive = ck.choices(rs.get("price_sensitive", ["price"]), "reasons.price_sensitive", REASON_CODES, "reason")
    defaults = ck.mapping(rs["default_by_stage"], "reasons.default_by_stage", set(ALL_STAGES), set(ALL_STAGES))
    for s, code in defaults.items():
        if code not in REASON_CODES:
            ck.fail(f"reasons.default_by_stage.{s}", f"unknown reason {shown(code)}; reasons are {list(REASON_CODES)}")

    cats = doc["categories"]
    if not isinstance(cats, list) or not cats or any(not isinstance(x, str) for x in cats) or len(set(cats)) != len(cats):
        ck.fail("categories", "expected a list of distinct spend categories (transactions.category values)")
    categories = tuple(cats)
    bundles = _parse_bundles(ck, doc["bundles"], categories)
    families = sorted(load_reason_taxonomy()["family"].unique())
    scripts = _parse_scripts(ck, doc["scripts"], families, max_steps)

    return Playbook(
        id=pid, version=str(doc.get("version", "1")), source=source, label=ck.text(doc["label"], "label"),
        industry=industry.name, currency=str(doc.get("currency", "CNY")), target_stages=stages,
        target_query=query, value_floor=floor, holdout_share=share, holdout_seed=seed, holdout_max_smd=max_smd,
        holdout_max_redraws=redraws,
        holdout_release_after_rounds=release, min_gap_days=gap, max_contacts_per_month=cap, max_steps=max_steps,
        repeat_not_reached=repeat, channel_cost=channel_cost, channels=tuple(rules), time_default=time_default,
        time_preferred=preferred, time_by_channel=by_channel, agents=agents, round_cap=round_cap,
        segment_by=tuple(segment_by), min_known=min_known, price_sensitive_reasons=price_sensitive,
        default_reason=dict(defaults), categories=categories, bundles=bundles, scripts=scripts,
        no_bundle_offer=ck.text(doc.get("no_bundle_offer", NO_BUNDLE_OFFER), "no_bundle_offer"),
        store_names={str(k): ck.text(v, f"store_names.{k}")
                     for k, v in ck.mapping(doc.get("store_names", {}), "store_names").items()},
        stage_policy=policy, raw=doc)
