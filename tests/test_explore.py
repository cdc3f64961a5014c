"""``substrate explore``: the page's logic, the command, and the page in a real browser.

The browser test drives the system's Chromium with Playwright (no browser
download); it is skipped, with the reason, where the ``explore`` extra or
Chromium is missing. Select it alone with ``pytest -m browser``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import yaml

from simulation import load_scenario
from simulation.errors import ScenarioError
from substrate import explore as ex

FAST = textwrap.dedent("""\
    # A world where AI cancer arises within a few records: for the explorer tests.
    name: explore_fast
    seed: 7
    replicates: 2
    horizon: 3000
    record_every: 20
    agent: {capacity: 2000, initial_size: 1000, birth_rate: 0.2, death_rate: 0.1,
            drive_advantage: 2.0, escape_threshold: 0.4}
    copy: {error_rate: 0.01, kernel: {type: normal, sd: 0.12}}
    immune: {surveillance: 0.2, tolerance: 0.3, efficacy: 0.5}
    """)


@pytest.fixture
def fast(tmp_path):
    path = tmp_path / "explore_fast.yaml"
    path.write_text(FAST)
    return path


def _env():
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}


# --- the page's logic, without a browser ----------------------------------------

def test_settings_round_trip_and_rebuild(fast):
    base = load_scenario(fast)
    settings = ex.settings_of(base)
    assert settings["copy.error_rate"] == 0.01 and settings["kernel_size"] == 0.12
    changed = ex.explorer_scenario(base, {**settings, "copy.error_rate": 1e-3,
                                          "world.agents": 3, "copy.redundancy": 3})
    assert (changed.copy.error_rate, changed.world.agents, changed.copy.redundancy) == \
        (1e-3, 3, 3)
    assert changed.record_clones and changed.seed == base.seed
    # Another kernel type takes its own size key.
    step = ex.explorer_scenario(base, {**settings, "copy.kernel.type": "step",
                                       "kernel_size": 0.2})
    assert (step.copy.kernel.type, step.copy.kernel.size) == ("step", 0.2)


@pytest.mark.parametrize("key, value, where", [
    ("kernel_size", 0.0, "copy.kernel.sd"),
    ("copy.redundancy", 4, "copy.redundancy"),
    ("immune.efficacy", 1.5, "immune.efficacy"),
])
def test_invalid_setting_is_one_line(fast, key, value, where):
    base = load_scenario(fast)
    with pytest.raises(ScenarioError) as err:
        ex.explorer_scenario(base, {**ex.settings_of(base), key: value}, str(fast))
    message = str(err.value)
    assert "\n" not in message and where in message and message.startswith(str(fast))


def test_model_views_and_exports(fast, tmp_path):
    model = ex.ExplorerModel(ex.explorer_scenario(load_scenario(fast), {}))
    for _ in range(10):
        model.step()
    assert model.ticks == list(range(0, 220, 20)) and len(model.history) == 11
    lines = ex.event_lines(model)
    assert lines and lines[0].startswith("tick ") and "first defector" in lines[0]
    assert set(ex.figures(model)) == {"muller", "traits", "price", "agents"}
    paths = ex.save_figures(model, tmp_path / "figures")
    assert [p.suffix for p in paths] == [".png"] * 4 and all(p.stat().st_size for p in paths)
    exported = ex.export_scenario(model.scenario, tmp_path / "exports")
    again = load_scenario(exported)
    assert again.model_dump() == model.scenario.model_dump()


def test_port_in_use_is_one_line_and_exit_2(fast):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "substrate", "explore", str(fast),
                               "--port", str(port)], capture_output=True, text=True,
                              timeout=120, env=_env())
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "explore" in lines[0] or str(port) in lines[0]


def test_run_does_not_import_the_explorer(fast, tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from substrate.cli import cli
        cli(["run", {str(fast)!r}, "--horizon", "40", "--replicates", "1",
             "--out", {str(tmp_path / 'out')!r}], standalone_mode=False)
        loaded = [m for m in ("solara", "substrate.explore", "uvicorn") if m in sys.modules]
        assert not loaded, loaded
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env=_env())
    assert done.returncode == 0, done.stderr


# --- the page in a browser -------------------------------------------------------

def _chromium():
    for name in (os.environ.get("SUBSTRATE_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def _browser_skip_reason():
    module = ex.missing_module(("solara", "playwright", "mesa.visualization"))
    if module:
        return f"the explore extra is not installed ({module} missing): pip install '.[explore]'"
    if _chromium() is None:
        return ("no Chromium on this machine (apt-get install chromium, or set "
                "SUBSTRATE_CHROMIUM to its path)")
    return None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``substrate explore`` in a subprocess; its output is collected."""

    def __init__(self, args, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "substrate", "explore", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=cwd, env=_env())
        self.lines = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    def address(self, timeout=900):  # a fresh install compiles the kernels first
        end = time.time() + timeout
        while time.time() < end:
            for line in self.lines:
                found = re.search(r"http://\S+/", line)
                if found:
                    return found.group(0)
            assert self.proc.poll() is None, "".join(self.lines)
            time.sleep(0.2)
        raise AssertionError("no address printed: " + "".join(self.lines))


@pytest.mark.browser
@pytest.mark.skipif(_browser_skip_reason() is not None,
                    reason=_browser_skip_reason() or "")
def test_explorer_in_chromium(fast, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    exports = tmp_path / "exports"
    server = Server([str(fast), "--port", str(_free_port()), "--out", str(exports)], tmp_path)
    try:
        url = server.address()
        assert url.startswith("http://127.0.0.1:")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=_chromium(),
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1500, "height": 1150})
            outside = []
            page.on("request", lambda r: None if r.url.startswith(
                ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:"))
                else outside.append(r.url))
            for _ in range(120):  # the server may still be starting
                try:
                    page.goto(url)
                    break
                except Exception:
                    time.sleep(0.5)
            images = {name: page.locator(f".substrate-figure-{name} img")
                      for name in ex.FIGURES}
            events = page.locator(".substrate-events")
            expect(images["traits"]).to_be_visible(timeout=120_000)
            expect(events).to_contain_text("no event yet")
            first = {name: img.get_attribute("src") for name, img in images.items()}
            page.screenshot(path=tmp_path / "explorer-0-loaded.png", full_page=True)

            step = page.get_by_role("button", name="Step")
            for k in range(1, 11):
                step.click()
                expect(events).to_contain_text(f"Events at tick {20 * k}", timeout=60_000)
            expect(events).to_contain_text("first defector")
            expect(events).to_contain_text("takeover")
            stepped = {name: img.get_attribute("src") for name, img in images.items()}
            assert all(stepped[n] != first[n] for n in ex.FIGURES)
            page.screenshot(path=tmp_path / "explorer-1-stepped.png", full_page=True)

            # The error rate, one step down its log scale: the model is rebuilt.
            rate = page.locator(".substrate-settings .v-slider").first
            rate.locator("[role=slider]").focus()
            page.keyboard.press("ArrowLeft")
            expect(page.locator(".substrate-settings")).to_contain_text("rate 0.00794",
                                                                        timeout=60_000)
            expect(events).to_contain_text("Events at tick 0")
            expect(events).to_contain_text("no event yet")
            rebuilt = {name: img.get_attribute("src") for name, img in images.items()}
            assert rebuilt["traits"] != stepped["traits"]
            assert rebuilt["muller"] != stepped["muller"]
            for k in range(1, 11):
                step.click()
                expect(events).to_contain_text(f"Events at tick {20 * k}", timeout=60_000)
            expect(events).to_contain_text("takeover")
            expect(page.locator(".substrate-error")).to_have_count(0)
            expect(page.get_by_text("error:")).to_have_count(0)
            page.screenshot(path=tmp_path / "explorer-2-error-rate.png", full_page=True)

            # An invalid value shows the one-line message and changes nothing.
            size = page.locator(".substrate-settings .v-slider").nth(2)
            size.locator("[role=slider]").focus()
            page.keyboard.press("Home")
            error = page.locator(".substrate-error")
            expect(error).to_contain_text("copy.kernel.sd = 0.0: out of range", timeout=60_000)
            assert "\n" not in error.inner_text().strip()
            expect(events).to_contain_text("Events at tick 200")
            page.screenshot(path=tmp_path / "explorer-3-invalid.png", full_page=True)

            page.get_by_role("button", name="Export scenario").click()
            written = page.locator(".substrate-exported")
            expect(written).to_contain_text("wrote", timeout=60_000)
            path = Path(written.inner_text().split("wrote", 1)[1].strip())
            page.get_by_role("button", name="Save figures").click()
            expect(written).to_contain_text("wrote 4 figures", timeout=60_000)
            assert outside == [], f"requests left the machine: {outside[:3]}"
            browser.close()
    finally:
        server.proc.send_signal(signal.SIGINT)
        try:
            code = server.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            raise
    assert code == 0, "".join(server.lines)[-2000:]

    data = yaml.safe_load(path.read_text())
    assert data["copy"]["error_rate"] == pytest.approx(0.00794)
    assert data["copy"]["kernel"]["sd"] == 0.12  # the invalid value changed nothing
    assert len(list(exports.glob("*.png"))) == 4
    done = subprocess.run([sys.executable, "-m", "substrate", "run", str(path),
                           "--replicate", "0", "--out", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stderr
    assert "P(takeover by 3000)" in done.stdout
