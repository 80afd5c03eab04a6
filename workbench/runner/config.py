"""Pipeline configuration: one YAML file per campaign saying which notebooks run each month, and when.

A step is one entry: a notebook (or, for demo simulations, a Python hook) with
its parameters and the condition under which it applies. The file is validated
on load; every problem is reported at once as ``<file>: <key path>: <why>``.
Unknown keys are refused, so a typo never passes silently. The format is
documented in ``docs/runner.md``.
"""

from __future__ import annotations

import copy
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.configcheck import shown
from workbench.errors import ConfigError
from workbench.paths import PROJECT_ROOT
from workbench.yamlfiles import YamlFileError, parse_yaml_file

CONFIG_DIR = PROJECT_ROOT / "config" / "pipelines"

TOP_KEYS = {"campaign", "business", "description", "db", "store_db", "drop_folder", "timeout", "variables",
            "steps", "extends"}
STEP_KEYS = {"name", "notebook", "hook", "description", "parameters", "when", "needs", "scope", "timeout"}
SCOPES = ("store", "group")
#: Placeholders the runner fills in; ``variables`` add more.
BUILTIN_PLACEHOLDERS = ("month", "month_compact", "month_start", "month_end", "next_month_start", "as_of", "campaign", "business", "store", "db",
                        "drop_folder", "run_dir", "outputs", "project")
NAME_RE = re.compile(r"^[^\W][\w.-]*$")  # letters (any script), digits, _ . - ; no separators, no leading dot


class PipelineConfigError(ConfigError):
    """A pipeline config file is invalid; the message lists every problem with its key path."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(f"{source}: {p}" for p in problems))


@dataclass
class Step:
    """One pipeline step: a notebook (``notebook``) or a Python function (``hook``, ``module:function``)."""

    name: str
    notebook: str | None = None
    hook: str | None = None
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    when: Any = None            # None = always; a condition name, a list (all hold), {any: [...]}, {not: ...}
    needs: list[str] = field(default_factory=list)
    scope: str = "store"        # 'group' steps run once on the group store before the per-store pipelines
    timeout: int | None = None

    @property
    def kind(self) -> str:
        return "notebook" if self.notebook else "hook"


@dataclass
class PipelineConfig:
    """A validated pipeline config (paths and values still contain ``{placeholders}``)."""

    source: str
    campaign: str
    business: str
    db: str
    steps: list[Step]
    description: str = ""
    store_db: str | None = None
    drop_folder: str | None = None
    timeout: int = 600
    variables: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(name)


def placeholders(text: str) -> list[str]:
    """The ``{name}`` placeholders in ``text`` (``{{`` escapes a brace)."""
    return [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]


def _walk_strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk_strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk_strings(v)


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``extends``: the child's top-level keys win; steps with the same name are updated key by key
    (parameters merged), new steps are appended."""
    out = copy.deepcopy(base)
    for key, value in child.items():
        if key == "extends":
            continue
        if key == "steps" and isinstance(value, list) and isinstance(out.get("steps"), list):
            steps = out["steps"]
            index = {s.get("name"): i for i, s in enumerate(steps) if isinstance(s, dict)}
            for s in value:
                if isinstance(s, dict) and s.get("name") in index:
                    merged = steps[index[s["name"]]]
                    for k, v in s.items():
                        if k == "parameters" and isinstance(v, dict) and isinstance(merged.get(k), dict):
                            merged[k] = {**merged[k], **v}
                        else:
                            merged[k] = v
                else:
                    steps.append(copy.deepcopy(s))
        elif key == "variables" and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_config_path(path: str | Path) -> Path:
    """A config given by path, or by name from ``config/pipelines/`` (``demo`` -> ``demo.yaml``)."""
    p = Path(path)
    if p.exists():
        return p
    for candidate in (CONFIG_DIR / p, CONFIG_DIR / f"{p}.yaml"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"pipeline config {str(path)!r} not found (looked in . and {CONFIG_DIR})")


def read_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The YAML mapping of a config file, with ``extends`` applied."""
    path = resolve_config_path(path).resolve()
    if path in _seen:
        raise PipelineConfigError(str(path), [f"extends: circular ({' -> '.join(p.name for p in _seen)})"])
    try:
        raw = parse_yaml_file(path)
    except YamlFileError as exc:
        raise PipelineConfigError(str(path), [exc.why]) from None
    if not isinstance(raw, dict):
        raise PipelineConfigError(str(path), ["the file must be a mapping of keys (campaign, db, steps, ...)"])
    parent = raw.get("extends")
    if parent is not None:
        if not isinstance(parent, str):
            raise PipelineConfigError(str(path), ["extends: must be the file name of another config"])
        try:
            base_path = path.parent / parent
            base_path = base_path if base_path.exists() else resolve_config_path(parent)
        except OSError:  # FileNotFoundError, or a name too long for the file system
            raise PipelineConfigError(str(path), [f"extends: no config {shown(parent)} next to this file "
                                                  f"or in {CONFIG_DIR}"]) from None
        raw = _merge(read_raw(base_path, _seen + (path,)), raw)
    return raw


def parse_config(raw: dict[str, Any], source: str = "<config>") -> PipelineConfig:
    """Validate a config mapping; raise :class:`PipelineConfigError` listing every problem."""
    if not isinstance(raw, dict):
        raise PipelineConfigError(source, ["the file must be a mapping of keys (campaign, db, steps, ...)"])
    problems: list[str] = []
    raw = {k: v for k, v in raw.items() if k != "extends"}
    for key in sorted(set(raw) - TOP_KEYS, key=str):
        problems.append(f"{key}: unknown key (allowed: {', '.join(sorted(TOP_KEYS - {'extends'}))})")

    def text(key: str, required: bool) -> str | None:
        value = raw.get(key)
        if value is None:
            if required:
                problems.append(f"{key}: missing")
            return None
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key}: must be non-empty text, got {shown(value)}")
            return None
        return value

    campaign = text("campaign", True)
    if campaign and not NAME_RE.match(campaign):
        problems.append(f"campaign: {shown(campaign)} is not a plain folder name (letters, digits, _ . -; "
                        "no '/', '..' or leading dot)")
    business = text("business", True)
    db = text("db", True)
    store_db = text("store_db", False)
    drop_folder = text("drop_folder", False)
    def free_text(where: str, value: Any) -> str:
        """A description: any text, or nothing."""
        if value is not None and not isinstance(value, str):
            problems.append(f"{where}: must be text, got {shown(value)}")
            return ""
        return value or ""

    description = free_text("description", raw.get("description"))
    timeout = raw.get("timeout", 600)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        problems.append(f"timeout: must be a positive whole number of seconds, got {shown(timeout)}")
        timeout = 600
    variables = raw.get("variables") or {}
    if not isinstance(variables, dict):
        problems.append("variables: must be a mapping of name: value")
        variables = {}
    for name in variables:
        if not isinstance(name, str) or not name.isidentifier():
            problems.append(f"variables.{name}: names must be identifiers")
        elif name in BUILTIN_PLACEHOLDERS:
            problems.append(f"variables.{name}: {shown(name)} is filled in by the runner and cannot be redefined")
    known = set(BUILTIN_PLACEHOLDERS) | {k for k in variables if isinstance(k, str)}

    def check_placeholders(where: str, value: Any) -> None:
        for s in _walk_strings(value):
            try:
                names = placeholders(s)
            except ValueError as exc:
                problems.append(f"{where}: bad placeholder in {shown(s)}: {exc}")
                continue
            for n in names:
                if n not in known:
                    problems.append(f"{where}: unknown placeholder {{{n}}} in {shown(s)} "
                                    f"(known: {', '.join(sorted(known))}; write {{{{ for a literal brace)")

    for key in ("db", "store_db", "drop_folder"):
        if raw.get(key) is not None:
            check_placeholders(key, raw[key])
    for name, value in variables.items():
        check_placeholders(f"variables.{name}", value)

    steps: list[Step] = []
    raw_steps = raw.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        problems.append("steps: missing or empty (a list of notebook or hook steps)")
        raw_steps = []
    seen: set[str] = set()
    for i, s in enumerate(raw_steps):
        where = f"steps[{i}]"
        if not isinstance(s, dict):
            problems.append(f"{where}: must be a mapping with name and notebook (or hook)")
            continue
        name = s.get("name")
        if isinstance(name, str):
            where = f"steps[{i}] ({name})"
        for key in sorted(set(s) - STEP_KEYS, key=str):
            problems.append(f"{where}.{key}: unknown key (allowed: {', '.join(sorted(STEP_KEYS))})")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append(f"{where}.name: missing or not a plain name (letters, digits, _ . -)")
            name = f"step{i}"
        elif name in seen:
            problems.append(f"{where}.name: {shown(name)} is used twice")
        seen.add(name)
        notebook, hook = s.get("notebook"), s.get("hook")
        if (notebook is None) == (hook is None):
            problems.append(f"{where}: give exactly one of notebook (an .ipynb in notebooks/) or hook "
                            "(module:function)")
        if notebook is not None and (not isinstance(notebook, str) or not notebook.endswith(".ipynb")):
            problems.append(f"{where}.notebook: must be an .ipynb file name, got {shown(notebook)}")
        if hook is not None and (not isinstance(hook, str) or not re.match(r"^[\w.]+:\w+$", hook)):
            problems.append(f"{where}.hook: must be 'package.module:function', got {shown(hook)}")
        params = s.get("parameters") or {}
        if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
            problems.append(f"{where}.parameters: must be a mapping of parameter name: value")
            params = {}
        check_placeholders(f"{where}.parameters", params)
        when = s.get("when")
        if when is not None:
            from workbench.runner.conditions import condition_problems

            problems += [f"{where}.when: {p}" for p in condition_problems(when)]
        needs = s.get("needs") or []
        if isinstance(needs, str):
            needs = [needs]
        if not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
            problems.append(f"{where}.needs: must be a list of step names")
            needs = []
        scope = s.get("scope", "store")
        if scope not in SCOPES:
            problems.append(f"{where}.scope: must be one of {list(SCOPES)}, got {shown(scope)}")
            scope = "store"
        step_timeout = s.get("timeout")
        if step_timeout is not None and (isinstance(step_timeout, bool) or not isinstance(step_timeout, int)
                                         or step_timeout <= 0):
            problems.append(f"{where}.timeout: must be a positive whole number of seconds")
            step_timeout = None
        steps.append(Step(name=name, notebook=notebook if isinstance(notebook, str) else None,
                          hook=hook if isinstance(hook, str) and notebook is None else None,
                          description=free_text(f"{where}.description", s.get("description")),
                          parameters=dict(params), when=when,
                          needs=list(needs), scope=scope, timeout=step_timeout))
    names = {s.name for s in steps}
    for i, s in enumerate(steps):
        for n in s.needs:
            if n not in names:
                problems.append(f"steps[{i}] ({s.name}).needs: no step named {shown(n)}")
            elif n == s.name:
                problems.append(f"steps[{i}] ({s.name}).needs: a step cannot need itself")
    if not problems:
        try:
            steps = order_steps(steps)
        except ValueError as exc:
            problems.append(f"steps: {exc}")
        by_name = {s.name: s for s in steps}
        for s in steps:
            for n in s.needs:
                if s.scope == "group" and by_name[n].scope == "store":
                    problems.append(f"steps ({s.name}).needs: a group step cannot need the per-store step {shown(n)}")
    if problems:
        raise PipelineConfigError(source, problems)
    return PipelineConfig(source=source, campaign=campaign, business=business, db=db, steps=steps,
                          description=str(description), store_db=store_db, drop_folder=drop_folder,
                          timeout=timeout, variables=dict(variables), raw=raw)


def order_steps(steps: list[Step]) -> list[Step]:
    """Dependency order: each step after the steps it ``needs``; otherwise the order of the file."""
    done: list[Step] = []
    placed: set[str] = set()
    pending = list(steps)
    while pending:
        for s in pending:
            if all(n in placed for n in s.needs):
                done.append(s)
                placed.add(s.name)
                pending.remove(s)
                break
        else:
            raise ValueError(f"circular needs among {', '.join(s.name for s in pending)}")
    return done


def apply_overrides(raw: dict[str, Any], settings: dict[str, Any] | None = None,
                    params: dict[str, Any] | None = None, source: str = "<config>") -> dict[str, Any]:
    """Command-line overrides: ``settings`` for top-level keys or ``variables.<name>``, ``params`` as
    ``<step>.<parameter>``. Unknown keys or steps are refused."""
    out = copy.deepcopy(raw)
    problems: list[str] = []
    for key, value in (settings or {}).items():
        if key.startswith("variables."):
            out.setdefault("variables", {})
            out["variables"] = {**(out["variables"] or {}), key.split(".", 1)[1]: value}
        elif key in TOP_KEYS - {"steps", "extends", "variables"}:
            out[key] = value
        else:
            problems.append(f"--set {key}: not a setting (use one of {sorted(TOP_KEYS - {'steps', 'extends'})} "
                            "or variables.<name>)")
    steps = out.get("steps") if isinstance(out.get("steps"), list) else []
    for key, value in (params or {}).items():
        step_name, _, param = key.partition(".")
        match = [s for s in steps if isinstance(s, dict) and s.get("name") == step_name]
        if not param or not match:
            problems.append(f"--param {key}: expected <step>.<parameter> with a step of this config "
                            f"({', '.join(str(s.get('name')) for s in steps if isinstance(s, dict))})")
            continue
        match[0]["parameters"] = {**(match[0].get("parameters") or {}), param: value}
    if problems:
        raise PipelineConfigError(source, problems)
    return out


def load_config(path: str | Path, settings: dict[str, Any] | None = None,
                params: dict[str, Any] | None = None) -> PipelineConfig:
    """Read, override and validate a pipeline config file."""
    resolved = resolve_config_path(path)
    source = _display(resolved)
    raw = apply_overrides(read_raw(resolved), settings, params, source)
    return parse_config(raw, source)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
