"""Small inline SVG charts for the KPI pages: no JavaScript, no CDN, readable in any browser."""

from decimal import Decimal

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT, PAD = 640, 200, 36
COLORS = ["#417690", "#e0823d", "#5b9e4d", "#b0413e", "#7d5ba6", "#999999"]


def _n(value):
    return f"{value:.1f}"


def _scale(values, low=None, high=None):
    low = min(values) if low is None else low
    high = max(values) if high is None else high
    span = (high - low) or 1.0
    return lambda v: HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD)


def _x(count):
    step = (WIDTH - 2 * PAD) / max(count - 1, 1)
    return lambda i: PAD + i * step


def _frame(title, body, legend=()):
    """The chart box: title, baseline, body, and a legend of (label, colour) under the axis."""
    keys = format_html_join(
        "",
        '<tspan fill="{}" dx="10">■</tspan><tspan dx="3">{}</tspan>',
        ((colour, label) for label, colour in legend),
    )
    return format_html(
        '<svg viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" class="kpi-chart">'
        '<text x="{}" y="16" font-size="13" font-weight="bold">{}</text>'
        '<text x="{}" y="{}" font-size="11">{}</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#ccc"/>{}</svg>',
        WIDTH,
        HEIGHT + 18,
        title,
        PAD,
        title,
        PAD - 10,
        HEIGHT + 12,
        keys,
        PAD,
        HEIGHT - PAD,
        WIDTH - PAD,
        HEIGHT - PAD,
        body,
    )


def _axis_labels(days, low, high, fmt="{:,.0f}"):
    x = _x(len(days))
    ends = [(0, days[0]), (len(days) - 1, days[-1])] if days else []
    return format_html_join(
        "",
        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
        ((_n(x(i)), HEIGHT - PAD + 14, day) for i, day in ends),
    ) + format_html(
        '<text x="2" y="{}" font-size="10">{}</text><text x="2" y="{}" font-size="10">{}</text>',
        PAD,
        fmt.format(high),
        HEIGHT - PAD,
        fmt.format(low),
    )


def equity_with_drawdown(daily):
    """End-of-day equity, with the fall from its running peak shaded."""
    points = [(d["day"], float(Decimal(d["equity"]))) for d in daily if d["equity"] is not None]
    if len(points) < 2:
        return format_html("<p>{}</p>", "No equity curve: no equity snapshots, no start equity.")
    days, values = zip(*points, strict=True)
    low, high = min(values), max(values)
    x, y = _x(len(values)), _scale(values, low, high)
    peaks, running = [], values[0]
    for value in values:
        running = max(running, value)
        peaks.append(running)
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    shade = " ".join(f"{x(i):.1f},{y(p):.1f}" for i, p in enumerate(peaks))
    shade += " " + " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(values))))
    body = format_html(
        '<polygon points="{}" fill="#b0413e" fill-opacity="0.25"/>'
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}',
        shade,
        line,
        COLORS[0],
        _axis_labels(days, low, high),
    )
    return _frame(
        "Equity (end of day) and drawdown", body, [("equity", COLORS[0]), ("drawdown", COLORS[3])]
    )


def daily_pnl_bars(daily):
    values = [float(Decimal(d["net_pnl"])) for d in daily]
    if not values:
        return ""
    low, high = min(0.0, *values), max(0.0, *values)
    y = _scale(values, low, high)
    width = (WIDTH - 2 * PAD) / len(values)
    bars = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
        (
            (
                _n(PAD + i * width),
                _n(min(y(v), y(0))),
                _n(max(width - 1, 1)),
                _n(abs(y(v) - y(0))),
                COLORS[2] if v >= 0 else COLORS[3],
                d["day"],
                f"{v:,.2f}",
            )
            for i, (d, v) in enumerate(zip(daily, values, strict=True))
        ),
    )
    return _frame("Daily net P&L", bars + _axis_labels([d["day"] for d in daily], low, high))


def side_mix_bars(daily):
    width = (WIDTH - 2 * PAD) / max(len(daily), 1)
    y = _scale([0.0, 1.0], 0.0, 1.0)
    rows = []
    for i, d in enumerate(daily):
        if d["long_share"] is None:
            continue
        split, left, bar = y(d["long_share"]), PAD + i * width, max(width - 1, 1)
        rows.append((_n(left), _n(split), _n(bar), _n(y(0) - split), COLORS[0]))
        rows.append((_n(left), _n(y(1)), _n(bar), _n(split - y(1)), COLORS[1]))
    bars = format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>', rows)
    days = [d["day"] for d in daily]
    return _frame(
        "Side mix of closes",
        bars + _axis_labels(days, 0, 100, "{:.0f}%"),
        [("long", COLORS[0]), ("short", COLORS[1])],
    )


def rejection_trend(daily):
    reasons = sorted({reason for d in daily for reason in d["rejections"]})
    if not reasons:
        return ""
    all_counts = [d["rejections"].get(r, 0) for d in daily for r in reasons]
    x, y = _x(len(daily)), _scale(all_counts, 0, max(all_counts))
    lines = format_html_join(
        "",
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>',
        (
            (
                " ".join(
                    f"{x(i):.1f},{y(d['rejections'].get(reason, 0)):.1f}"
                    for i, d in enumerate(daily)
                ),
                COLORS[n % len(COLORS)],
            )
            for n, reason in enumerate(reasons)
        ),
    )
    days = [d["day"] for d in daily]
    return _frame(
        "Rejections per day by reason",
        lines + _axis_labels(days, 0, max(all_counts)),
        [(reason, COLORS[n % len(COLORS)]) for n, reason in enumerate(reasons)],
    )
