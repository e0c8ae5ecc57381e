"""Charts for the admin pages: Chart.js drawing what Python describes, with a table beside it.

The one API every page uses:

    from kpis.charts import Series, bar_chart, line_chart

    chart = line_chart(
        "Top rejection reasons: daily share", days, [
            ("no_liquidity", shares),                                  # (name, values)
            Series("no_liquidity 30d", [base] * 7, dashed=True, same_color_as="no_liquidity"),
        ],
        y_format="percent", x_title="day (UTC)", y_title="share of rejections",
    )

`line_chart(title, x_labels, series, **options)` and `bar_chart(...)` take the same arguments
and return a plain dict for the template (put it in the context as it is):

- `x_labels`: the x axis, one label per point (usually ISO days).
- `series`: a list of `(name, values)` or `Series(name, values, ...)`, one value per x label;
  a value is an int, float, Decimal, decimal string or None (no value: the table shows "-",
  a line runs on to the next point). Series options:
  `dashed` (a reference line, e.g. a 30-day baseline), `same_color_as` (another series' name),
  `shade_to` (another series' name: the area between the two is shaded, e.g. a drawdown under
  the running peak), `color_by_sign` (bars: gains green, losses red).
- `y_format`: "number" (1,234.5), "count" (whole numbers), "money" (1,234.56) or "percent"
  (values are fractions: 0.25 is 25%). Ticks, hover values and the table all follow it.
- `x_title`, `y_title`: the axis titles; `stacked`; `y_min`, `y_max` fix the y axis;
  `empty_text`: what shows instead when no series has a value.

A template shows it with `{% include "admin/includes/chart.html" with chart=chart %}`, and
includes `admin/includes/chart_assets.html` once in its `extrahead` block (the chart library,
`kpis/static/kpis/charts.js` and its CSS). The include puts the chart's data on the page with
`json_script` (the Content-Security-Policy allows no inline script), a canvas that charts.js
draws on, and the same figures as a table for screen readers, tests and pages without scripts.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from kpis.registry import money, percent

# The admin's blue, then colours told apart also by people with red-green colour blindness.
PALETTE = ["#417690", "#e0823d", "#7d5ba6", "#3a9e8f", "#b0413e", "#8c7a3e", "#999999"]

TABLE_FORMATS = {
    "number": lambda v: f"{v:,.1f}",
    "count": lambda v: f"{v:,.0f}",
    "money": money,
    "percent": percent,
}


@dataclass(frozen=True)
class Series:
    name: str
    values: list = field(default_factory=list)
    dashed: bool = False
    same_color_as: str | None = None
    shade_to: str | None = None
    color_by_sign: bool = False


def line_chart(title, x_labels, series, **options):
    return _chart("line", title, x_labels, series, **options)


def bar_chart(title, x_labels, series, **options):
    return _chart("bar", title, x_labels, series, **options)


def _chart(
    kind,
    title,
    x_labels,
    series,
    *,
    y_format="number",
    x_title="",
    y_title="",
    stacked=False,
    y_min=None,
    y_max=None,
    empty_text="Nothing to chart in this window.",
):
    if y_format not in TABLE_FORMATS:
        raise ValueError(f"y_format {y_format!r} is not one of {', '.join(TABLE_FORMATS)}")
    x_labels = [str(label) for label in x_labels]
    series = [item if isinstance(item, Series) else Series(*item) for item in series]
    names = [s.name for s in series]
    for s in series:
        if len(s.values) != len(x_labels):
            raise ValueError(f"series {s.name!r} has {len(s.values)} values for {len(x_labels)}")
        for other in (s.same_color_as, s.shade_to):
            if other is not None and other not in names:
                raise ValueError(f"series {s.name!r} names {other!r}, which is not a series")
        if s.same_color_as and series[names.index(s.same_color_as)].same_color_as:
            raise ValueError(f"series {s.name!r}: {s.same_color_as!r} has no colour of its own")
    values = [[_number(v) for v in s.values] for s in series]
    return {
        "title": title,
        "has_data": any(v is not None for column in values for v in column),
        "empty_text": empty_text,
        "data": {
            "kind": kind,
            "title": title,
            "x_labels": x_labels,
            "x_title": x_title,
            "y_title": y_title,
            "y_format": y_format,
            "stacked": stacked,
            "y_min": y_min,
            "y_max": y_max,
            "series": [
                {
                    "name": s.name,
                    "values": column,
                    "color": color,
                    "dashed": s.dashed,
                    "shade_to": None if s.shade_to is None else names.index(s.shade_to),
                    "color_by_sign": s.color_by_sign,
                }
                for s, column, color in zip(series, values, _colors(series), strict=True)
            ],
        },
        "table": {
            "head": [x_title or "", *names],
            "rows": [
                [label, *(_text(y_format, s.values[i]) for s in series)]
                for i, label in enumerate(x_labels)
            ],
        },
    }


def _colors(series):
    """The palette in order, but a series drawn `same_color_as` another takes that one's."""
    own = {}
    for s in series:
        if s.same_color_as is None:
            own[s.name] = PALETTE[len(own) % len(PALETTE)]
    return [own[s.same_color_as or s.name] for s in series]


def _number(value):
    """A JSON number for the chart: money arrives as Decimal or decimal strings."""
    if value is None:
        return None
    return int(value) if isinstance(value, int) else float(Decimal(str(value)))


def _text(y_format, value):
    """The figure as people read it, from the exact value (money stays Decimal)."""
    return "-" if value is None else TABLE_FORMATS[y_format](Decimal(str(value)))
