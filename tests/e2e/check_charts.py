"""End-to-end check that the built book's charts draw in a real browser, offline, and say something.

Opens every built page that holds a chart (``<div class="offline-vega">``) in headless Chromium, driven over
the DevTools protocol (``tests/e2e/cdp.py``, standard library only; the browser's own network services are
off), lets the page's scripts run and checks, for every chart:

- vega-embed replaced the static SVG with a live view (the container carries the ``vega-embed`` class and
  ``role="graphics-document"`` and holds an ``<svg class="marks">`` or ``<canvas class="marks">``);
- it draws marks: at least one data mark of non-zero size on the canvas, and no layer whose marks all draw
  nothing (bars of height zero, bars from zero on a log axis, marks at NaN);
- no two text labels (axis labels, text marks) overlap or touch, in the boxes the browser laid them out in;
- the live chart shows the same data as its static SVG (what the executed notebook computed);
- every slider, drop-down or radio button vega-embed bound to a chart parameter changes the marks when
  moved to its ends (or to each other option), and the chart comes back when it is moved back.

The SVG reading is ``tests/e2e/chart_svg.py`` (unit tests: ``tests/e2e/test_chart_svg.py``).

Usage: ``python tests/e2e/check_charts.py [HTML_DIR]`` (default ``book/_build/html``); ``make check-charts``.
If no Chromium is found and the script runs as root on a machine with ``apt-get``, it installs Debian's
``chromium`` package first; otherwise it stops with a message.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from cdp import Browser  # noqa: E402
from chart_svg import Box, marks_signature, marks_values, svg_problems  # noqa: E402

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHART_DIV = re.compile(r'<div id="(vega-[0-9a-f]{12})" class="offline-vega"')
#: Longest wait for a page's charts to render, ms.
RENDER_TIMEOUT_MS = 30000
#: Wait after moving a control before reading the chart again, ms.
SETTLE_MS = 250

#: Waits until every chart of the page is live (or the timeout), then returns the page's DOM.
WAIT_JS = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const t0 = Date.now();
  const live = d => d.classList.contains('vega-embed') && d.getAttribute('role') === 'graphics-document'
                    && d.querySelector('svg.marks, canvas.marks');
  while (Date.now() - t0 < %(timeout)d) {
    const divs = [...document.querySelectorAll('div.offline-vega')];
    if (document.readyState === 'complete' && divs.every(live)) break;
    await sleep(100);
  }
  await sleep(300);
  return document.documentElement.outerHTML;
})()"""

#: Every chart's visible labels (axis labels and text marks) with the boxes the browser laid them out in, px:
#: ``{div id: [[text, x0, y0, x1, y1], ...]}``. A label is hidden when it or a parent up to the chart's SVG has
#: opacity 0, display none or visibility hidden (Vega hides the labels its overlap removal drops that way).
LABELS_JS = """(() => {
  const shown = (el, root) => {
    for (let e = el; e && e !== root.parentNode; e = e.parentNode) {
      if (!(e instanceof Element)) break;
      const cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden' || parseFloat(cs.opacity) === 0
          || e.getAttribute('opacity') === '0') return false;
    }
    return parseFloat(getComputedStyle(el).fillOpacity) !== 0;
  };
  const out = {};
  for (const div of document.querySelectorAll('div.offline-vega')) {
    const svg = div.querySelector('svg.marks');
    if (!svg) continue;
    out[div.id] = [...svg.querySelectorAll('g.role-axis-label text, g.mark-text.role-mark text')]
      .filter(t => t.textContent.trim() && shown(t, svg))
      .map(t => { const r = t.getBoundingClientRect(); return [t.textContent, r.left, r.top, r.right, r.bottom]; });
  }
  return JSON.stringify(out);
})()"""

#: Moves every bound control of every chart and returns the chart's SVG before, after each move, and after
#: moving back to the default.
SLIDERS_JS = """(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const frame = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const settle = async () => { await frame(); await sleep(%(settle)d); };
  const out = [];
  for (const div of document.querySelectorAll('div.offline-vega')) {
    const svg = () => { const s = div.querySelector('svg.marks'); return s ? s.outerHTML : ''; };
    const controls = [];
    const binds = [...div.querySelectorAll('.vega-bindings .vega-bind')];
    for (const bind of binds) {
      const label = (bind.querySelector('.vega-bind-name') || {}).textContent || '';
      const range = bind.querySelector('input[type=range]');
      const select = bind.querySelector('select');
      const radios = [...bind.querySelectorAll('input[type=radio]')];
      const fire = el => { el.dispatchEvent(new Event('input', {bubbles: true}));
                           el.dispatchEvent(new Event('change', {bubbles: true})); };
      const before = svg();
      const moves = [];
      if (range) {
        const orig = range.value;
        for (const v of [range.min, range.max]) {
          if (v === orig) continue;
          range.value = v; fire(range); await settle(); moves.push({value: v, svg: svg()});
        }
        range.value = orig; fire(range); await settle();
        controls.push({label, kind: 'slider', default: orig, before, moves, restored: svg()});
      } else if (select) {
        const orig = select.value;
        for (const o of [...select.options]) {
          if (o.value === orig) continue;
          select.value = o.value; fire(select); await settle(); moves.push({value: o.value, svg: svg()});
        }
        select.value = orig; fire(select); await settle();
        controls.push({label, kind: 'drop-down', default: orig, before, moves, restored: svg()});
      } else if (radios.length) {
        const orig = radios.find(r => r.checked);
        for (const r of radios) {
          if (r === orig) continue;
          r.click(); await settle(); moves.push({value: r.value, svg: svg()});
        }
        if (orig) { orig.click(); await settle(); }
        controls.push({label, kind: 'radio', default: orig ? orig.value : '', before, moves, restored: svg()});
      }
    }
    out.push({id: div.id, controls});
  }
  return JSON.stringify(out);
})()"""


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


def _svg_in(html_text: str, div_id: str) -> str:
    """The first ``<svg>...</svg>`` inside the chart container ``div_id`` of a page's HTML ('' if none)."""
    at = html_text.find(f'<div id="{div_id}"')
    if at < 0:
        return ""
    start = html_text.find("<svg", at)
    nxt = html_text.find('class="offline-vega"', at + 10)
    if start < 0 or (0 <= nxt < start):
        return ""
    end = html_text.find("</svg>", start)
    return html_text[start:end + 6] if end > 0 else ""


def drawing_problems(source_html: str, dom: str, measured: dict | None = None) -> list[str]:
    """Every chart's marks and labels in the live DOM (its static SVG if the live view is a canvas), and
    whether the live chart shows the static SVG's data.

    ``measured``: :data:`LABELS_JS`'s labels by chart; a live chart's label overlaps are judged on these boxes
    (the browser's own font), a static SVG's on the approximate ones."""
    problems = []
    for div_id in CHART_DIV.findall(source_html):
        static = _svg_in(source_html, div_id)
        live = _svg_in(dom, div_id) or static
        labels = None
        if live is not static and measured and div_id in measured:
            labels = [(t, Box(x0, y0, x1, y1)) for t, x0, y0, x1, y1 in measured[div_id]]
        _, found = svg_problems(live, labels)
        problems += [f"{div_id}: {p}" for p in found]
        if static and live is not static and marks_values(live) != marks_values(static):
            problems.append(f"{div_id}: the live chart shows other data than the executed notebook's static SVG")
    return problems


def control_problems(results: list[dict]) -> tuple[int, list[str]]:
    """(controls moved, problems): a control that changes no mark, or after which the chart does not come
    back at its default."""
    problems, n = [], 0
    for chart in results:
        for c in chart["controls"]:
            n += 1
            name = f"{chart['id']}: {c['kind']} {c['label'].strip() or '(unnamed)'}"
            base = marks_signature(c["before"])
            if not c["moves"]:
                problems.append(f"{name}: has a single position, nothing to move")
            elif all(marks_signature(m["svg"]) == base for m in c["moves"]):
                problems.append(f"{name}: moving it to {', '.join(str(m['value']) for m in c['moves'])} changes no mark")
            if marks_signature(c["restored"]) != base:
                problems.append(f"{name}: back at its default {c['default']} the chart differs from before")
    return n, problems


def check_page(browser: Browser, page: Path) -> tuple[int, int, list[str]]:
    """(charts, controls moved, problems) of one built page."""
    source = page.read_text(encoding="utf-8")
    target, session = browser.open(page.resolve().as_uri())
    try:
        dom = browser.evaluate(session, WAIT_JS % {"timeout": RENDER_TIMEOUT_MS}, timeout_ms=RENDER_TIMEOUT_MS + 10000)
        n, problems = chart_problems(source, dom)
        measured = json.loads(browser.evaluate(session, LABELS_JS))
        problems += drawing_problems(source, dom, measured)
        results = json.loads(browser.evaluate(session, SLIDERS_JS % {"settle": SETTLE_MS}, timeout_ms=300000))
        n_controls, found = control_problems(results)
        return n, n_controls, problems + found
    finally:
        browser.close_tab(target)


def main(argv: list[str]) -> int:
    html_dir = Path(argv[0] if argv else "book/_build/html")
    pages = sorted(p for p in html_dir.rglob("*.html") if CHART_DIV.search(p.read_text(encoding="utf-8")))
    if not pages:
        print(f"check-charts: no page with a chart under {html_dir}", file=sys.stderr)
        return 1
    executable = ensure_browser()
    start = time.time()
    failed = total = moved = 0
    with Browser(executable) as browser:
        for page in pages:
            n, n_controls, problems = check_page(browser, page)
            total += n
            moved += n_controls
            status = "ok" if not problems else "FAILED"
            print(f"check-charts: {page.relative_to(html_dir)}: {n} charts, {n_controls} controls moved, {status}",
                  file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            failed += bool(problems)
    print(f"check-charts: {len(pages)} pages, {total} charts, {moved} controls moved, {failed} pages failed "
          f"({time.time() - start:.0f} s, {Path(executable).name})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
