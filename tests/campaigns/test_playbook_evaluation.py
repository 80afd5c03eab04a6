"""A playbook carries its round's evaluation settings (attribution windows per channel), validated on load."""

from __future__ import annotations

import pytest
import yaml

from workbench.campaigns.playbook import PLAYBOOKS_DIR, PlaybookError, load_playbook
from workbench.evaluation.config import load_settings


def test_shipped_playbook_sets_attribution_windows_per_channel():
    pb = load_playbook("dealership_winback")
    settings = load_settings(pb.raw["evaluation"])
    assert settings.attribution_days["wechat"] == 75 and settings.attribution_days["sms"] == 60


@pytest.mark.parametrize("evaluation, key", [({"attribution_days": {"default": -5}}, "attribution_days"),
                                             ({"attribution_window": 30}, "attribution_window")])
def test_bad_evaluation_settings_in_a_playbook_name_the_file_and_key(tmp_path, evaluation, key):
    doc = yaml.safe_load((PLAYBOOKS_DIR / "dealership_winback.yaml").read_text(encoding="utf-8"))
    doc["evaluation"] = evaluation
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(PlaybookError, match=rf"broken\.yaml: evaluation.*{key}"):
        load_playbook(path)
