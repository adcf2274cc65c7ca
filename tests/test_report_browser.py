"""The HTML report in a real browser: headless Chromium loads it without console errors, every chart is in the
rendered page, and a screenshot comes out. Skipped, with the reason, where Chromium is not installed."""

import shutil
import subprocess

import pytest

from vssl.results.html_report import build_report
from vssl.results.store import Result, ResultStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--enable-logging=stderr",
         "--v=0", "--hide-scrollbars"]


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
def test_the_report_renders_in_headless_chromium(tmp_path):
    rows = [Result("run", encoder, protocol, "world32", "test", "motion", "top1", value + seed, seed, "h")
            for encoder, base in (("random", 40.0), ("vcop", 80.0), ("rho", 70.0), ("pace", 50.0))
            for protocol, value in (("knn", base), ("linear", base + 5.0)) for seed in range(3)]
    ResultStore(tmp_path / "results.sqlite").add(rows)
    page = build_report(tmp_path / "results.sqlite", tmp_path / "report")
    url = page.resolve().as_uri()
    dom = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 3  # two task charts and the Kendall τ map, as the browser built the page
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []
    shot = tmp_path / "report.png"
    done = subprocess.run([CHROMIUM, *FLAGS, f"--screenshot={shot}", "--window-size=1100,1400", url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
