"""Playbooks: the shipped ones load; malformed ones are refused with the file and the key named."""

from __future__ import annotations

import copy

import pytest
import yaml

from workbench.campaigns.playbook import (COLOURS, LANGUAGES, PlaybookError, available_playbooks, load_playbook,
                                          parse_playbook)
from workbench.scoring.stages import contact_policy
from workbench.surveys.taxonomy import load_reason_taxonomy


@pytest.mark.parametrize("name", ["dealership_winback", "phone_young_winback"])
def test_shipped_playbooks_cover_every_family_in_both_colours_and_languages(name):
    assert name in available_playbooks()
    pb = load_playbook(name)
    families = set(load_reason_taxonomy()["family"])
    assert set(pb.scripts) == families
    for fam in pb.scripts.values():
        assert set(fam.steps) == set(range(1, fam.max_steps + 1))
        if fam.third_allowed:
            assert fam.max_steps == 3 and "refused" not in fam.third_only_after
        for step in fam.steps.values():
            for part in (step.say, step.ask, step.offer):
                for colour in COLOURS:
                    for lang in LANGUAGES:
                        assert part[colour].get(lang).strip()
            # the emotional and rational openings really differ (article 003)
            assert step.say["rational"].zh != step.say["emotional"].zh
    # every stage the playbook targets has a team of agents
    for stage in pb.target_stages:
        assert pb.agents[pb.team(stage)]


def test_quiet_rules_come_from_the_scoring_stage_policy():
    pb = load_playbook("phone_young_winback")
    policy = contact_policy("phone_brand").set_index("stage")
    for stage in ("active", "silent", "sleeping", "lost"):
        per_month = policy.at[stage, "max_contacts_per_month"]
        assert pb.gap_days(stage) == max(pb.min_gap_days, -(-30 // per_month))
        assert pb.stage_channels(stage) == tuple(policy.at[stage, "channels"])
        assert pb.team(stage) == policy.at[stage, "handled_by"]
        assert pb.stage_allows_offers(stage) == (policy.at[stage, "offer"] != "none")
    assert pb.gap_days("lost") == 60  # 0.5 contacts a month in phone_brand.yaml


def _raw(name="dealership_winback"):
    return copy.deepcopy(load_playbook(name).raw)


def _set(doc, dotted, value):
    """Set a dotted key; numeric parts address the YAML's integer keys (script steps)."""
    *path, last = [int(k) if k.isdigit() else k for k in dotted.split(".")]
    for k in path:
        doc = doc[k]
    doc[last] = value


BAD = [
    ("holdout.share", 0.9, "holdout.share: 0.9 is above the maximum 0.5"),
    ("contact.channel_cost.fax", 1, "contact.channel_cost.fax: unknown key"),
    ("channels", [{"tiers": [1], "use": ["phone"]}], "the last rule must match everyone"),
    ("bundles.care_plan_2y.categories", ["maintenance", "repair", "tyres", "brakes", "detailing", "accessories",
                                         "car_wash", "extended_warranty"], "blanket discount"),
    ("bundles.care_plan_2y.categories", ["oil"], "bundles.care_plan_2y.categories: unknown category 'oil'"),
    ("bundles.care_plan_2y.eligible.price_sensitive", "maybe", "bundles.care_plan_2y.eligible.price_sensitive"),
    ("scripts.value_offer.steps.1.say", {"zh": "您好", "en": "Hello"}, "scripts.value_offer.steps.1.say: needs a 'rational'"),
    ("scripts.value_offer.steps.2.ask", {"zh": "{coupon}", "en": "x"}, "unknown placeholder {coupon}"),
    ("scripts.value_offer.steps.2.offer", {"zh": "套餐", "en": "package"}, "bundle: true but the offer text does not name {bundle}"),
    ("scripts.trust_transparency.third_contact", {"allowed": True}, "a third contact is allowed but max_steps is 2"),
    ("scripts.service_recovery.third_contact.only_after", ["refused"], "a refusal or a do-not-contact"),
    ("reasons.default_by_stage.lost", "bored", "reasons.default_by_stage.lost: unknown reason 'bored'"),
    ("agents", {"customer_service": ["A"]}, "no agents for team"),
    ("target.stages", ["gone"], "target.stages: unknown stage 'gone'"),
    ("industry", "bakery", "industry: unknown industry 'bakery'"),
]


@pytest.mark.parametrize("key,value,message", BAD, ids=[b[0] + ":" + b[2][:20] for b in BAD])
def test_malformed_playbooks_are_refused_naming_the_key(key, value, message):
    doc = _raw()
    _set(doc, key, value)
    with pytest.raises(PlaybookError) as exc:
        parse_playbook(doc, source="bad.yaml")
    assert str(exc.value).startswith("bad.yaml: ")
    assert message in str(exc.value)


def test_missing_family_and_file_errors(tmp_path):
    doc = _raw()
    del doc["scripts"]["let_go"]
    with pytest.raises(PlaybookError, match=r"bad.yaml: scripts.let_go: missing"):
        parse_playbook(doc, source="bad.yaml")
    path = tmp_path / "broken.yaml"
    path.write_text("playbook: [unclosed", encoding="utf-8")
    with pytest.raises(PlaybookError, match="broken.yaml: not valid YAML"):
        load_playbook(path)
    path.write_text(yaml.safe_dump({**_raw(), "surprise": 1}, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PlaybookError, match=r"broken.yaml: surprise: unknown key"):
        load_playbook(path)
    with pytest.raises(PlaybookError, match="unknown playbook"):
        load_playbook("no_such_playbook")
