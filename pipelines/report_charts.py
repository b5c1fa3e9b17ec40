"""The report's charts, drawn as inline SVG (nothing from the network: no script, font or style),
and the charted table cells: every mark and cell carries its number (``data-cat``/``data-ser``/
``data-value``), so a test reads the chart back and compares it with the table.  Split out of
:mod:`pipelines.report`, which imports what it draws with from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

SEPARATOR = ' stroke="#fff" stroke-width="1"'  # stacked segments apart, also printed in grey
MUTED = "#c8c8c8"  # a category drawn apart (not ranked)
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


@dataclass(frozen=True)
class Code:
    """A code shown as its Chinese label with the code small beside it."""

    label: str
    code: str

    def __html__(self) -> str:
        if self.label == self.code or not self.label:
            return f'<span class="code">{escape(self.code)}</span>'
        return f'{escape(self.label)} <span class="code">{escape(self.code)}</span>'


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.1f}"
    return str(v)


def _t(s) -> str:
    return escape(str(s))


def _label_text(c) -> str:
    return f"{c.label}" if isinstance(c, Code) else str(c)


@dataclass
class Chart:
    """One figure: its SVG and the table of the same numbers (``data-cat``/``data-ser``/``data-value``
    on both the marks and the cells)."""

    id: str
    title: str
    svg: Markup
    columns: list[str]
    rows: list[list]  # cells: str | int | Code | Markup (a charted cell)
    note: str = ""


def _cell(cat: str, ser: str, value, shown=None) -> Markup:
    return Markup(
        f'<span data-cat="{_t(cat)}" data-ser="{_t(ser)}" data-value="{_t(_fmt(value))}">'
        f"{_t(shown if shown is not None else _fmt(value))}</span>"
    )


def hbar_chart(
    cid: str,
    cats: list[tuple[str, object]],
    series: list[tuple[str, str]],
    values: dict[tuple[str, str], float],
    *,
    unit: str = "",
    total_label: bool = True,
    max_value: float | None = None,
    value_text: dict[str, str] | None = None,
    muted: set[str] = frozenset(),
) -> Markup:
    """Horizontal (stacked when several series) bars: one row per category.  ``value_text``: the
    label at a bar's end by category (else its total and unit); ``muted``: categories drawn grey."""
    # 800 wide (the page shows it at most at its own size, svg.chart's max-width): its text stays 13 px
    # on a screen, about 11 on A4, and a phone scrolls it sideways in its box at 560 px at least
    W, left, right, bar, gap = 800, 190, 60, 18, 8
    if value_text:  # room for the longest label at a bar's end (a CJK character as wide as two digits)
        right = max(
            right, 12 + 8 * max((len(t) + sum(ord(ch) > 0x2E80 for ch in t) for t in value_text.values()), default=0)
        )
    legend, x, y = [], left, 6
    for i, (s, name) in enumerate(series if len(series) > 1 else []):  # legend, wrapped to the width
        w = 22 + 13 * len(name)
        if x + w > W and x > left:
            x, y = left, y + 20
        legend.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 16}" y="{y + 10}" class="legend">{_t(name)}</text>'
        )
        x += w
    top = 8 + (y + 18 if legend else 0)
    H = top + len(cats) * (bar + gap) + 8
    totals = [sum(values.get((c, s), 0) or 0 for s, _ in series) for c, _ in cats]
    vmax = max_value or max(totals + [0]) or 1
    scale = (W - left - right) / vmax
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="chart" role="img" '
        f'data-chart="{cid}" aria-label="{_t(cid)}">',
        *legend,
    ]
    for j, (c, label) in enumerate(cats):
        y = top + j * (bar + gap)
        out.append(
            f'<text x="{left - 8}" y="{y + bar - 4}" text-anchor="end" class="cat">{_t(_label_text(label))}</text>'
        )
        x = left
        for i, (s, name) in enumerate(series):
            v = values.get((c, s), 0) or 0
            w = round(v * scale, 1)
            out.append(
                f'<rect x="{round(x, 1)}" y="{y}" width="{w}" height="{bar}" '
                f'fill="{MUTED if c in muted else PALETTE[i % len(PALETTE)]}" data-cat="{_t(c)}" data-ser="{_t(s)}" '
                f'data-value="{_t(_fmt(v))}"{SEPARATOR if len(series) > 1 and w else ""}><title>{_t(_label_text(label))} {_t(name)}：{_t(_fmt(v))}{unit}</title></rect>'
            )
            x += w
        if total_label:
            text = value_text[c] if value_text and c in value_text else f"{_fmt(totals[j])}{unit}"
            out.append(f'<text x="{round(x, 1) + 6}" y="{y + bar - 4}" class="val">{_t(text)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def line_chart(
    cid: str, months: list[str], series: list[tuple[str, str]], values: dict[tuple[str, str], int | None]
) -> Markup:
    """One small line chart per series over the months (a month not run has no point)."""
    W, H, pad_l, pad_r, pad_t, pad_b = 350, 190, 44, 24, 30, 34
    out = [f'<div class="trend" data-chart="{cid}">']
    for i, (s, name) in enumerate(series):
        vals = [values.get((m, s)) for m in months]
        vmax = max([v for v in vals if v is not None] + [0]) or 1
        step = (W - pad_l - pad_r) / max(1, len(months) - 1)

        def xy(k, v):
            return round(pad_l + k * step, 1), round(H - pad_b - (H - pad_t - pad_b) * v / vmax, 1)

        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" class="chart small" role="img" '
            f'aria-label="{_t(name)}"><text x="{pad_l}" y="18" class="legend">{_t(name)}</text>',
            f'<line x1="{pad_l}" y1="{H - pad_b}" x2="{W - pad_r}" y2="{H - pad_b}" class="axis"/>',
            f'<text x="{pad_l - 6}" y="{pad_t + 4}" text-anchor="end" class="tick">{vmax}</text>',
            f'<text x="{pad_l - 6}" y="{H - pad_b}" text-anchor="end" class="tick">0</text>',
        ]
        run, path = [], []
        for k, v in enumerate(vals):
            if v is None:
                if len(run) > 1:
                    path.append(run)
                run = []
                continue
            run.append(xy(k, v))
        if len(run) > 1:
            path.append(run)
        for seg in path:
            parts.append(
                f'<polyline fill="none" stroke="{PALETTE[i]}" stroke-width="2" points="'
                + " ".join(f"{x},{y}" for x, y in seg)
                + '"/>'
            )
        for k, (m, v) in enumerate(zip(months, vals)):
            if (len(months) - 1 - k) % 2 == 0:  # every other month, counted back from P
                parts.append(
                    f'<text x="{xy(k, 0)[0]}" y="{H - pad_b + 16}" text-anchor="middle" class="tick">{_t(m[2:])}</text>'
                )
            if v is not None:
                x, y = xy(k, v)
                parts.append(
                    f'<circle cx="{x}" cy="{y}" r="3.5" fill="{PALETTE[i]}" data-cat="{_t(m)}" '
                    f'data-ser="{_t(s)}" data-value="{v}"><title>{_t(m)} {_t(name)}：{v}</title></circle>'
                )
        parts.append("</svg>")
        out.append("".join(parts))
    out.append("</div>")
    return Markup("".join(out))
