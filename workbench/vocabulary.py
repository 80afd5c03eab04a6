"""The bilingual words staff see for the workbench's codes, defined once: (Chinese, English) per code.

Every sheet, chart and widget labels stages and channels from here, so a stage reads the same in the
scoring chart, the call workbook and the manager's panel.
"""

from __future__ import annotations

__all__ = ["STAGE_LABELS", "CHANNEL_LABELS", "LANGUAGE_INDEX", "label"]

#: Lifecycle stages (``workbench.scoring.config.ALL_STAGES``): (zh, en).
STAGE_LABELS: dict[str, tuple[str, str]] = {
    "active": ("活跃期", "Active"),
    "silent": ("沉默期", "Silent"),
    "sleeping": ("睡眠期", "Sleeping"),
    "lost": ("流失期", "Lost"),
    "never": ("未消费", "Never bought"),
}
#: Contact channels (``workbench.scoring.config.CHANNELS``): (zh, en).
CHANNEL_LABELS: dict[str, tuple[str, str]] = {
    "phone": ("电话", "phone"), "sms": ("短信", "SMS"), "wechat": ("微信", "WeChat"),
    "email": ("电子邮件", "e-mail"), "letter": ("信件", "letter"), "visit": ("拜访", "visit"),
}
#: Position of a language in the (zh, en) pairs.
LANGUAGE_INDEX = {"zh": 0, "en": 1}


def label(labels: dict[str, tuple[str, str]], code: object, lang: str = "zh") -> str:
    """The word for ``code`` in ``lang`` ('zh' or 'en'); a missing code is '', an unknown one shown as it is."""
    if lang not in LANGUAGE_INDEX:
        raise ValueError(f"language must be one of {tuple(LANGUAGE_INDEX)}, got {lang!r}")
    if code is None or str(code) in ("<NA>", "NaT", "nan"):  # None, pd.NA, pd.NaT, NaN
        return ""
    pair = labels.get(str(code))
    return pair[LANGUAGE_INDEX[lang]] if pair else str(code)
