"""A printable questionnaire (HTML) for face-to-face interviews, in the chosen language with the other beside it."""

from __future__ import annotations

import html
from pathlib import Path

from workbench.reports.files import atomic_path
from workbench.surveys.template import Survey, label, skip_hint

_CSS = """
body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",Arial,sans-serif;max-width:46em;margin:2em auto;color:#111}
h1{font-size:1.4em;margin-bottom:.2em} .sub{color:#555;font-size:.9em}
.box{border:1px solid #999;padding:.6em .8em;margin:.8em 0;border-radius:4px}
.q{page-break-inside:avoid;margin:1.1em 0;padding-top:.4em;border-top:1px solid #ddd}
.qt{font-weight:bold} .alt{color:#666;font-size:.85em} .skip{color:#a33;font-size:.85em;font-style:italic}
.hint{color:#356;font-size:.85em} ul{list-style:none;padding-left:1em;margin:.3em 0} li{margin:.15em 0}
.line{border-bottom:1px solid #333;height:1.6em;margin:.3em 0} .fill{display:inline-block;border-bottom:1px solid #333;width:10em}
.note{background:#f4f4f4;padding:.5em .7em} table.f td{padding:.2em .8em .2em 0}
@media print{body{margin:0;max-width:none}.noprint{display:none}}
"""


def _t(text: dict[str, str] | None, lang: str) -> str:
    return html.escape(label(text, lang))


def render_questionnaire(survey: Survey, language: str = "zh", *, survey_id: str | None = None) -> str:
    """The questionnaire as a standalone HTML page (all template text escaped)."""
    other = next((g for g in survey.languages if g != language), language)
    zh = language == "zh"
    out = [f"<!DOCTYPE html><html lang=\"{html.escape(language)}\"><head><meta charset=\"utf-8\">",
           f"<title>{_t(survey.title, language)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{_t(survey.title, language)}</h1><div class=\"sub\">{_t(survey.title, other)} · "
           f"{html.escape(survey_id or survey.id)} · v{html.escape(survey.version)}</div>",
           "<table class=\"f\"><tr><td>" + ("个案编号" if zh else "Case ID") + "：<span class=\"fill\"></span></td><td>"
           + ("访问员" if zh else "Interviewer") + "：<span class=\"fill\"></span></td></tr><tr><td>"
           + ("日期" if zh else "Date") + "：<span class=\"fill\"></span></td><td>"
           + ("地点" if zh else "Place") + "：<span class=\"fill\"></span></td></tr></table>"]
    if survey.fieldwork or survey.incentive:
        out.append("<div class=\"box\"><b>" + ("访问员须知" if zh else "Interviewer notes") + "</b><br>"
                   + _t(survey.fieldwork, language) + "<br><b>" + ("礼品" if zh else "Incentive") + "：</b>"
                   + _t(survey.incentive, language) + "</div>")
    if survey.intro:
        out.append("<div class=\"note\"><b>" + ("开场（朗读）" if zh else "Read aloud") + "：</b>"
                   + _t(survey.intro, language) + "</div>")
    for number, q in enumerate(survey.questions, 1):
        out.append(f"<div class=\"q\" id=\"{html.escape(q.name)}\">")
        skip = skip_hint(survey, q, language)
        if skip:
            out.append(f"<div class=\"skip\">→ {html.escape(skip)}</div>")
        if q.type == "note":
            out.append(f"<div class=\"note\">{_t(q.label, language)}</div></div>")
            continue
        req = " *" if q.required else ""
        out.append(f"<div class=\"qt\">Q{number}. {_t(q.label, language)}{req}</div>"
                   f"<div class=\"alt\">{_t(q.label, other)}</div>")
        if q.hint:
            out.append(f"<div class=\"hint\">{_t(q.hint, language)}</div>")
        box = "☐" if q.type == "multiple_choice" else ("___" if q.type == "ranking" else "○")
        if q.type == "multiple_choice":
            n = q.max_choices
            out.append("<div class=\"hint\">" + (f"可多选{f'，最多 {n} 项' if n else ''}" if zh
                                                 else f"Tick all that apply{f', at most {n}' if n else ''}") + "</div>")
        if q.type == "ranking":
            out.append("<div class=\"hint\">" + ("请填写名次 1、2、3…" if zh else "Write the rank 1, 2, 3 …") + "</div>")
        if q.randomize:
            out.append("<div class=\"hint\">" + ("选项请轮换顺序朗读" if zh else "Rotate the order when reading options")
                       + "</div>")
        if q.type in ("single_choice", "multiple_choice", "ranking", "yes_no", "rating"):
            items = "".join(
                f"<li>{box} {_t(c.label, language)} <span class=\"alt\">{_t(c.label, other)}</span>"
                + ("  <span class=\"fill\"></span>" if c.other else "") + "</li>" for c in q.answers)
            out.append(f"<ul>{items}</ul>")
        elif q.type == "number":
            rng = f" ({q.min:g}–{q.max:g})" if q.min is not None and q.max is not None else ""
            out.append(f"<div><span class=\"fill\"></span>{html.escape(rng)}</div>")
        else:
            out.append("<div class=\"line\"></div><div class=\"line\"></div>")
        out.append("</div>")
    if survey.closing:
        out.append("<div class=\"note\"><b>" + ("结束语（朗读）" if zh else "Closing (read aloud)") + "：</b>"
                   + _t(survey.closing, language) + "</div>")
    out.append("</body></html>")
    return "\n".join(out)


def write_questionnaire(survey: Survey, path: str | Path, language: str = "zh", *,
                        survey_id: str | None = None) -> Path:
    """Write the printable questionnaire to ``path`` (UTF-8 HTML, atomically)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(render_questionnaire(survey, language, survey_id=survey_id), encoding="utf-8")
    return path
