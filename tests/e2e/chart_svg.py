"""What a rendered Vega chart draws, read from its SVG: the data marks with a non-zero size on the canvas,
and the text labels whose boxes overlap.

Vega's SVG renderer writes each layer of data marks as ``<g class="mark-<type> role-mark ...">`` holding one
element per item (``<path>`` for rectangles, areas, lines and symbols, ``<line>`` for rules, ``<text>`` for
text); axes, legends and titles carry other roles (``role-axis-label``, ``role-legend-symbol``, ...). The
same structure is in the static SVG each chart carries (vl-convert) and in the live SVG vega-embed draws.

Sizes come from the geometry itself (path commands, line ends, transforms), so no layout engine is needed;
a text's box is approximated from its position, anchor, font size and characters (sans-serif metrics). For a
live chart the chart check passes the boxes the browser laid its labels out in instead (:func:`svg_problems`'s
``measured``), since the browser's font may be narrower or wider than these metrics.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

#: Mark types whose items must have an area to be seen (a bar of height 0 draws nothing).
AREA_MARKS = ("rect", "area", "arc", "symbol", "image")
#: Mark types whose items need only a length (a horizontal line has zero height).
LINE_MARKS = ("line", "rule", "trail", "shape")
#: Smallest visible extent, px.
MIN_PX = 0.5
#: Width of a character, in em, for the approximate text boxes (DejaVu Sans / Helvetica metrics: digits
#: 0.636 em, punctuation and spaces about 0.32 em, lower case about 0.55 em, capitals about 0.68 em).
NARROW = set(",.:;' |!il()[]-")
def char_em(ch: str) -> float:
    """Approximate advance width of one character in a sans-serif font, em."""
    if ch.isdigit():
        return 0.636
    if ch in NARROW:
        return 0.32
    if ch.isupper():
        return 0.68
    return 0.55
#: Smallest gap between two labels side by side, px: closer than this they read as one ("1,0002,000").
LABEL_GAP_PX = 1.0
#: Two labels collide when they are closer than LABEL_GAP_PX side by side and share at least this share
#: of the smaller height.
VERTICAL_SHARE = 0.3

Matrix = tuple  # (a, b, c, d, e, f): x' = a x + c y + e, y' = b x + d y + f
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _mul(m: Matrix, n: Matrix) -> Matrix:
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2, a * e2 + c * f2 + e,
            b * e2 + d * f2 + f)


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|-?Infinity"


def parse_transform(text: str | None) -> Matrix:
    """An SVG ``transform`` attribute (translate, rotate, scale, matrix; in order) as one matrix."""
    m = IDENTITY
    for op, args in re.findall(r"(translate|rotate|scale|matrix)\s*\(([^)]*)\)", text or ""):
        v = [float(x) for x in re.findall(_NUM, args)]
        if op == "translate":
            n = (1, 0, 0, 1, v[0], v[1] if len(v) > 1 else 0.0)
        elif op == "scale":
            n = (v[0], 0, 0, v[1] if len(v) > 1 else v[0], 0, 0)
        elif op == "matrix":
            n = tuple(v[:6])
        else:
            t = math.radians(v[0])
            n = (math.cos(t), math.sin(t), -math.sin(t), math.cos(t), 0, 0)
            if len(v) == 3:
                n = _mul(_mul((1, 0, 0, 1, v[1], v[2]), n), (1, 0, 0, 1, -v[1], -v[2]))
        m = _mul(m, n)
    return m


def path_points(d: str) -> list[tuple[float, float]]:
    """The points an SVG path passes through or is bounded by (end points, control points, arc extents),
    in the path's own coordinates; a NaN or infinite coordinate makes the whole path empty."""
    tokens = re.findall(r"[MmLlHhVvCcSsQqTtAaZz]|" + _NUM, d or "")
    if any(t in ("NaN", "Infinity", "-Infinity") for t in tokens):
        return []
    pts: list[tuple[float, float]] = []
    x = y = sx = sy = 0.0
    cmd = None
    i = 0
    nargs = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6, "s": 4, "q": 4, "t": 2, "a": 7, "z": 0}
    while i < len(tokens):
        t = tokens[i]
        if t.isalpha():
            cmd = t
            i += 1
            if cmd in "Zz":
                x, y = sx, sy
                pts.append((x, y))
                continue
        if cmd is None:
            break
        k = nargs[cmd.lower()]
        args = [float(a) for a in tokens[i:i + k]]
        if len(args) < k:
            break
        i += k
        rel = cmd.islower()
        c = cmd.lower()
        if c == "h":
            x = x + args[0] if rel else args[0]
        elif c == "v":
            y = y + args[0] if rel else args[0]
        elif c == "a":
            rx, ry = abs(args[0]), abs(args[1])
            nx, ny = (x + args[5], y + args[6]) if rel else (args[5], args[6])
            mx, my = (x + nx) / 2, (y + ny) / 2
            pts += [(mx - rx, my - ry), (mx + rx, my + ry)]
            x, y = nx, ny
        else:
            coords = [(args[j] + (x if rel else 0), args[j + 1] + (y if rel else 0)) for j in range(0, k, 2)]
            pts += coords[:-1]
            x, y = coords[-1]
        pts.append((x, y))
        if c == "m":
            sx, sy = x, y
            cmd = "l" if rel else "L"  # further pairs after a moveto are lineto
    return pts


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def intersection(self, other: "Box") -> float:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return w * h if w > 0 and h > 0 else 0.0

    def meets(self, other: "Box") -> bool:
        return not (self.x1 < other.x0 or other.x1 < self.x0 or self.y1 < other.y0 or other.y1 < self.y0)


def _box(points) -> Box | None:
    pts = [p for p in points if all(math.isfinite(v) for v in p)]
    if not pts:
        return None
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return Box(min(xs), min(ys), max(xs), max(ys))


@dataclass
class Item:
    """One drawn element of a chart: its layer's mark type and role, its box on the canvas, its text."""

    mark: str
    role: str
    layer: str
    box: Box | None
    text: str = ""
    hidden: bool = False
    label: str = ""  # Vega's aria-label of a data mark: the data values it shows


@dataclass
class Chart:
    """The items of one SVG chart and its canvas."""

    width: float = 0.0
    height: float = 0.0
    items: list = field(default_factory=list)


def _num(v, default=0.0) -> float:
    try:
        return float(str(v).replace("px", ""))
    except (TypeError, ValueError):
        return default


class _Walker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []  # (tag, matrix, mark, role, layer, hidden)
        self.chart = Chart()
        self.text_item = None

    def _top(self):
        return self.stack[-1] if self.stack else ("", IDENTITY, "", "", "", False)

    def _element(self, tag, attrs, closes: bool):
        a = dict(attrs)
        _, m, mark, role, layer, hidden = self._top()
        if tag == "svg" and not self.stack:
            self.chart.width, self.chart.height = _num(a.get("width")), _num(a.get("height"))
        m = _mul(m, parse_transform(a.get("transform")))
        cls = a.get("class", "") or ""
        g = re.match(r"mark-(\w+) role-([\w-]+)", cls)
        if tag == "g" and g:
            mark, role, layer = g.group(1), g.group(2), cls
        hidden = (hidden or a.get("display") == "none" or a.get("visibility") == "hidden"
                  or _num(a.get("opacity"), 1.0) == 0 or (tag == "text" and _num(a.get("fill-opacity"), 1.0) == 0))
        item = None
        if mark and mark != "group" and tag in ("path", "line", "rect", "circle", "text", "image"):
            if tag == "path":
                box = _box(_apply(m, *p) for p in path_points(a.get("d", "")))
            elif tag == "line":
                box = _box([_apply(m, _num(a.get("x1")), _num(a.get("y1"))),
                            _apply(m, _num(a.get("x2")), _num(a.get("y2")))])
            elif tag in ("rect", "image"):
                x, y = _num(a.get("x")), _num(a.get("y"))
                box = _box([_apply(m, x, y), _apply(m, x + _num(a.get("width")), y + _num(a.get("height")))])
            elif tag == "circle":
                cx, cy, r = _num(a.get("cx")), _num(a.get("cy")), _num(a.get("r"))
                box = _box([_apply(m, cx - r, cy - r), _apply(m, cx + r, cy + r)])
            else:
                box = None
            item = Item(mark, role, layer, box, hidden=hidden, label=a.get("aria-label", "") or "")
            if a.get("class") in ("background", "foreground"):
                item = None
            if tag == "text" and item is not None:
                item.font_px = _num(a.get("font-size"), 10.0)
                item.anchor = a.get("text-anchor", "start")
                item.matrix = m
                item.xy = (_num(a.get("x")), _num(a.get("y")))
                self.text_item = item
            if item is not None:
                self.chart.items.append(item)
        if not closes:
            self.stack.append((tag, m, mark, role, layer, hidden))

    def handle_starttag(self, tag, attrs):
        self._element(tag, attrs, closes=False)

    def handle_startendtag(self, tag, attrs):
        self._element(tag, attrs, closes=True)

    def handle_endtag(self, tag):
        if tag == "text" and self.text_item is not None:
            _text_box(self.text_item)
            self.text_item = None
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self.text_item is not None:
            self.text_item.text += data


def _text_box(item: Item) -> None:
    fs = item.font_px
    w = fs * sum(char_em(ch) for ch in item.text.strip())
    x, y = item.xy
    x0 = {"middle": x - w / 2, "end": x - w}.get(item.anchor, x)
    corners = [(x0, y - 0.72 * fs), (x0 + w, y - 0.72 * fs), (x0, y + 0.2 * fs), (x0 + w, y + 0.2 * fs)]
    item.box = _box([_apply(item.matrix, *c) for c in corners]) if item.text.strip() else None


def parse_svg(svg: str) -> Chart:
    """The drawn items of one SVG chart (static or live)."""
    w = _Walker()
    w.feed(svg)
    w.close()
    return w.chart


def visible(item: Item, chart: Chart) -> bool:
    """Whether a data mark shows: not hidden, a finite box of non-zero size (an area for bars, areas and
    symbols; a length for lines and rules; text for text), at least partly on the canvas."""
    b = item.box
    if item.hidden or b is None:
        return False
    if item.mark in AREA_MARKS and (b.width < MIN_PX or b.height < MIN_PX):
        return False
    if max(b.width, b.height) < MIN_PX and item.mark != "text":
        return False
    if chart.width and chart.height:
        return b.meets(Box(0, 0, chart.width, chart.height))
    return True


def mark_problems(chart: Chart) -> tuple[int, list[str]]:
    """(visible data marks, problems): a chart with no visible data mark, and every layer whose items all
    draw nothing (e.g. bars from zero on a log axis, or bars of height 0)."""
    layers: dict[str, list] = {}
    for it in chart.items:
        if it.role == "mark":
            layers.setdefault(it.layer, []).append(it)
    n = sum(visible(it, chart) for items in layers.values() for it in items)
    problems = []
    if n == 0:
        problems.append("draws no marks")
    for layer, items in layers.items():
        if items and not any(visible(it, chart) for it in items) and n:
            kind = items[0].mark
            problems.append(f"a layer of {len(items)} {kind} mark{'s' if len(items) != 1 else ''} draws nothing "
                            f"({layer.split()[-1]})")
    return n, problems


def overlapping_pairs(labels: list[tuple[str, Box]]) -> list[tuple[str, str]]:
    """Pairs of labels, each ``(text, box)``, whose boxes overlap or sit closer than :data:`LABEL_GAP_PX`
    side by side (sharing at least :data:`VERTICAL_SHARE` of the smaller height)."""
    out = []
    for i, (ta, a) in enumerate(labels):
        for tb, b in labels[i + 1:]:
            gap_x = max(a.x0, b.x0) - min(a.x1, b.x1)
            shared_y = min(a.y1, b.y1) - max(a.y0, b.y0)
            if gap_x < LABEL_GAP_PX and shared_y > VERTICAL_SHARE * min(a.height, b.height):
                out.append((ta.strip(), tb.strip()))
    return out


def label_overlaps(chart: Chart) -> list[tuple[str, str]]:
    """Pairs of text labels (axis labels and text marks) whose approximate boxes (:func:`char_em`) collide,
    by :func:`overlapping_pairs`."""
    return overlapping_pairs([(it.text, it.box) for it in chart.items
                              if it.mark == "text" and it.role in ("axis-label", "mark")
                              and not it.hidden and it.box is not None])


def svg_problems(svg: str, measured: list[tuple[str, Box]] | None = None) -> tuple[int, list[str]]:
    """(visible data marks, problems) of one chart's SVG: no marks, empty layers, overlapping labels.

    ``measured``: the chart's visible labels as the browser laid them out, ``(text, box)``; when given, their
    overlaps are judged on those boxes rather than on the approximate ones read from the SVG (the browser's
    font may be narrower or wider than :func:`char_em`'s metrics)."""
    chart = parse_svg(svg)
    n, problems = mark_problems(chart)
    pairs = label_overlaps(chart) if measured is None else overlapping_pairs(measured)
    for a, b in pairs:
        problems.append(f"labels overlap: {a!r} and {b!r}")
    return n, problems


def marks_signature(svg: str) -> tuple:
    """What the data marks draw, rounded (to compare a chart before and after a slider moves)."""
    chart = parse_svg(svg)
    return tuple((it.layer, round(it.box.x0, 1), round(it.box.y0, 1), round(it.box.x1, 1), round(it.box.y1, 1),
                  it.text) for it in chart.items if it.role == "mark" and it.box is not None)


def marks_values(svg: str) -> list[str]:
    """The data values the marks show (Vega's aria-label of each data mark), sorted: independent of layout
    and font measurement, so a live chart and its static SVG compare equal when they show the same data."""
    return sorted(it.label for it in parse_svg(svg).items if it.role == "mark" and it.label)
