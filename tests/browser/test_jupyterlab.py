"""End to end in a real browser: JupyterLab serves labs/, headless Chromium runs lab 00.

Starts JupyterLab on a free localhost port with a random token, its root a temporary copy of
``labs/`` and the offline backend; opens ``00_orientation.ipynb``; runs every cell through the
Run menu; saves a screenshot; and checks that the ``Lab(...)`` repr appears in an output and
that the only traceback (if any) is the ``NotImplementedError`` of a stub.

Needs Debian's ``chromium`` (``/usr/bin/chromium``) and the ``playwright`` package; skipped
with the reason when either is missing (no ``playwright install``: the system browser is used).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mllab.workbook.notebook import dumps, learner_copy, read
from tests.notebooks.conftest import LABS, ROOT

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("MLLAB_CHROMIUM", "/usr/bin/chromium")
LAB_FILE = "00_orientation.ipynb"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    """A temporary copy of labs/ (with a stand-in for lab 00 until it exists)."""
    root = tmp_path / "labs"
    if LABS.is_dir():
        shutil.copytree(LABS, root)
    root.mkdir(exist_ok=True)
    if not (root / LAB_FILE).exists():
        # stand-in until labs/00_orientation.ipynb exists: the template's learner copy
        template = ROOT / "docs" / "lab-template.ipynb"
        if not template.exists():
            pytest.skip(f"neither labs/{LAB_FILE} nor docs/lab-template.ipynb exists")
        (root / LAB_FILE).write_text(dumps(learner_copy(read(template))), encoding="utf-8")
    return root


@pytest.fixture
def jupyterlab(root_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A running JupyterLab; yields its base URL with the token query."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(f"Chromium is not installed ({CHROMIUM}): apt-get install -y chromium")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    port, token = _free_port(), os.urandom(16).hex()
    env = dict(os.environ)
    env.update(
        MLLAB_HOME=str(tmp_path / "home"),
        MLLAB_BACKEND="offline",
        JUPYTER_CONFIG_DIR=str(tmp_path / "jupyter-config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "jupyter-runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--ServerApp.open_browser=False",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers and CI often run as root
    settings = tmp_path / "lab-settings"
    for plugin, values in (
        # render every cell (JupyterLab 4 virtualises long notebooks: off-screen outputs
        # would be missing from the DOM)
        ("@jupyterlab/notebook-extension/tracker", '{"windowingMode": "none"}'),
        ("@jupyterlab/apputils-extension/notification", '{"fetchNews": "false"}'),
    ):
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(values, encoding="utf-8")
    log = open(tmp_path / "jupyterlab.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root_dir)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(
                    "JupyterLab did not start:\n"
                    + (tmp_path / "jupyterlab.log").read_text()[-3000:]
                )
            time.sleep(0.5)
        yield f"{base}|{token}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _outputs(page) -> list[str]:  # type: ignore[no-untyped-def]
    return page.locator(".jp-OutputArea-output").all_inner_texts()


def test_lab_00_runs_in_jupyterlab(jupyterlab: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base, token = jupyterlab.split("|")
    shot = tmp_path / "jupyterlab.png"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{LAB_FILE}?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
            # JupyterLab may ask which kernel to start: accept the notebook's own (python3)
            accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            try:
                accept.first.wait_for(state="visible", timeout=15_000)
                accept.first.click()
            except Exception:  # noqa: BLE001 - no dialog: the kernel started on its own
                pass
            page.wait_for_timeout(2000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
            texts: list[str] = []
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                texts = _outputs(page)
                joined = "\n".join(texts)
                if "Lab(" in joined and ("NotImplementedError" in joined or "Error" in joined):
                    break
                page.wait_for_timeout(1000)
            page.wait_for_timeout(1000)
            texts = _outputs(page)
            first = page.locator(".jp-OutputArea-output", has_text="Lab(").first
            if first.count():
                first.scroll_into_view_if_needed()
        finally:
            try:
                page.screenshot(path=str(shot), full_page=False)
            finally:
                browser.close()
    joined = "\n".join(texts)
    assert "Lab('" in joined, (
        f"the Lab(...) repr did not appear in any output; screenshot: {shot}\noutputs: {texts[:5]}"
    )
    tracebacks = [t for t in texts if "Traceback" in t or "Error" in t.split("\n")[0]]
    bad = [t for t in tracebacks if "NotImplementedError" not in t]
    assert not bad, (
        f"an error other than a stub's NotImplementedError; screenshot: {shot}\n{bad[0][:2000]}"
    )
    print(f"screenshot: {shot}")
