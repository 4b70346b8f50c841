"""End-to-end check that the built book's charts draw in a real browser, offline.

Opens every built page that holds a chart (``<div class="offline-vega">``) in headless Chromium with the
network disabled for the browser's own services, lets the page's scripts run, dumps the resulting DOM and
checks that vega-embed replaced every chart's static SVG with a live view: the chart's container carries
the ``vega-embed`` class and ``role="graphics-document"`` and holds an ``<svg class="marks">`` or
``<canvas class="marks">``.

Usage: ``python tests/e2e/check_charts.py [HTML_DIR]`` (default ``book/_build/html``); ``make check-charts``.
If no Chromium is found and the script runs as root on a machine with ``apt-get``, it installs Debian's
``chromium`` package first; otherwise it stops with a message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--virtual-time-budget=20000", "--dump-dom"]
CHART_DIV = re.compile(r'<div id="(vega-[0-9a-f]{12})" class="offline-vega"')
TIMEOUT_S = 90


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def ensure_browser() -> str:
    """A Chromium executable; installs Debian's ``chromium`` when missing, if root with apt-get."""
    found = find_browser()
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("check-charts: installing Debian's chromium (apt-get install -y chromium)", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], env=env).returncode:
            subprocess.run(["apt-get", "update"], env=env, check=True)
            subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"], env=env, check=True)
        found = find_browser()
        if found:
            return found
    raise SystemExit("check-charts: no Chromium found; install Debian's 'chromium' package "
                     "(apt-get install -y chromium) and rerun")


def dump_dom(browser: str, page: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="check-charts-") as profile:
        cmd = [browser, *FLAGS, f"--user-data-dir={profile}", page.resolve().as_uri()]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
        if out.returncode != 0:
            raise RuntimeError(f"{browser} exited with {out.returncode} on {page}: {out.stderr[-500:]}")
        return out.stdout


def chart_problems(source_html: str, dom: str) -> tuple[int, list[str]]:
    """(charts in the page, problems): every static chart div of ``source_html`` must be live in ``dom``."""
    ids = CHART_DIV.findall(source_html)
    problems = []
    for div_id in ids:
        m = re.search(rf'<div id="{div_id}"([^>]*)>(.{{0,400}})', dom, re.S)
        if not m:
            problems.append(f"{div_id}: missing from the rendered page")
            continue
        attrs, inner = m.group(1), m.group(2)
        if "vega-embed" not in attrs or 'role="graphics-document"' not in attrs:
            problems.append(f"{div_id}: vega-embed did not render it (still the static SVG)")
        elif not re.search(r'<(svg|canvas)[^>]*class="marks"', inner):
            problems.append(f"{div_id}: rendered container holds no <svg class=\"marks\"> or <canvas>")
    return len(ids), problems


def main(argv: list[str]) -> int:
    html_dir = Path(argv[0] if argv else "book/_build/html")
    pages = sorted(p for p in html_dir.rglob("*.html") if CHART_DIV.search(p.read_text(encoding="utf-8")))
    if not pages:
        print(f"check-charts: no page with a chart under {html_dir}", file=sys.stderr)
        return 1
    browser = ensure_browser()
    start = time.time()
    failed = 0
    total = 0
    for page in pages:
        n, problems = chart_problems(page.read_text(encoding="utf-8"), dump_dom(browser, page))
        total += n
        status = "ok" if not problems else "FAILED"
        print(f"check-charts: {page.relative_to(html_dir)}: {n} charts, {status}", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        failed += bool(problems)
    print(f"check-charts: {len(pages)} pages, {total} charts, {failed} pages failed "
          f"({time.time() - start:.0f} s, {Path(browser).name})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
