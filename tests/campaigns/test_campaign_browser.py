"""The manager's notebook in a real browser: JupyterLab on 127.0.0.1 driven by Playwright with the system
Chromium; choose values in the widgets, click export, check the workbook written.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and Python's ``playwright`` (no browser download: the
system Chromium is given as ``executable_path``). Skips with the reason when either is missing.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from workbench.runner.notebooks import NOTEBOOKS_DIR, kernel_name

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(store, tmp_path):
    """A JupyterLab server on 127.0.0.1 (free port, token) serving a folder with the campaign notebook,
    its parameters pointing at a private store; stopped by its own PID afterwards."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium): browser test not run")
    pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed: browser test not run")
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    root = tmp_path / "lab"
    root.mkdir()
    out = tmp_path / "exports"
    nb = load_notebook_node(str(NOTEBOOKS_DIR / "campaign.ipynb"))
    nb = parameterize_notebook(nb, {"db": str(store), "output_dir": str(out), "round_date": "2026-11-02"})
    nb.metadata["kernelspec"] = {"name": kernel_name(), "display_name": "workbench", "language": "python"}
    nbformat.write(nb, root / "campaign.ipynb")
    config = tmp_path / "jupyter_config"
    (config / "labconfig").mkdir(parents=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "PYTHONPATH": str(NOTEBOOKS_DIR.parent)}
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
         "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}/lab/tree/campaign.ipynb?token={token}", "out": out, "store": store}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_manager_picks_values_and_exports_in_the_browser(lab):
    from playwright.sync_api import sync_playwright

    from workbench.campaigns.rounds import list_rounds, read_round

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(lab["url"])
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=90_000)
            page.wait_for_selector(".jp-NotebookPanel", timeout=60_000)
            page.wait_for_function(
                "() => { const w = window.jupyterapp.shell.currentWidget;"
                " return w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
                " && w.sessionContext.session.kernel.status === 'idle'; }", timeout=120_000)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_selector(".wb-export", timeout=120_000)
            page.wait_for_selector(".wb-counts table", timeout=60_000)
            before = page.inner_text(".wb-counts")
            page.select_option(".wb-stages select", value=None, label=["流失期 lost"])
            page.wait_for_function("(b) => document.querySelector('.wb-counts').innerText !== b", arg=before,
                                   timeout=60_000)
            after_stage = page.inner_text(".wb-counts")
            page.select_option(".wb-tiers select", label=["5"])
            page.wait_for_function("(b) => document.querySelector('.wb-counts').innerText !== b", arg=after_stage,
                                   timeout=60_000)
            page.click(".wb-export button, button.wb-export")
            page.wait_for_selector(".wb-export-path", timeout=120_000)
            shown = page.inner_text(".wb-export-path")
        finally:
            browser.close()
    path = Path(shown)
    assert path.exists() and path.parent == lab["out"]
    rounds = list_rounds(lab["store"])
    a = read_round(lab["store"], rounds["round_id"].iloc[0])
    assert set(a["stage"]) == {"lost"} and set(a["tier"]) == {5}
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    ids = {r[2] for r in wb["_rows"].iter_rows(min_row=2, values_only=True)}
    assert ids == set(a.loc[a["arm"] == "treatment", "customer_id"])
