"""Charts drawn on the server as inline SVG: the forecast fan, the runway trend and aging
bars. No script and no chart library: they print, scale, and read out to screen readers
through their title and description (each page shows the numbers in a table beside them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from rowcol.core.domain.money import Money

WIDTH = 720
HEIGHT = 260
_PAD_LEFT = 78
_PAD_RIGHT = 34
_PAD_TOP = 14
_PAD_BOTTOM = 34


@dataclass(frozen=True, slots=True)
class FanPoint:
    label: str
    p10: int
    p50: int
    p90: int


def money_axis(minor: int, currency: str) -> str:
    """Short axis labels: 12.3k, 1.2M (in the currency's major unit)."""
    major = Money(minor, currency).to_decimal()
    size = abs(major)
    if size >= 1_000_000:
        return f"{major / 1_000_000:.1f}M"
    if size >= 10_000:
        return f"{major / 1_000:.0f}k"
    if size >= 1_000:
        return f"{major / 1_000:.1f}k"
    return f"{major:.0f}"


def _ticks(low: int, high: int, count: int = 4) -> list[int]:
    if high <= low:
        return [low]
    raw = (high - low) / count
    magnitude = 10 ** (len(str(int(raw))) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = -(-low // step) * step
    return list(range(first, high + 1, step))


class _Frame:
    def __init__(self, points: int, low: int, high: int) -> None:
        span = high - low or 1
        self.low = low - span * 0.06
        self.high = high + span * 0.06
        self.points = points

    def x(self, index: int) -> float:
        inner = WIDTH - _PAD_LEFT - _PAD_RIGHT
        if self.points <= 1:
            return _PAD_LEFT + inner / 2
        return _PAD_LEFT + inner * index / (self.points - 1)

    def y(self, value: float) -> float:
        inner = HEIGHT - _PAD_TOP - _PAD_BOTTOM
        return _PAD_TOP + inner * (self.high - value) / (self.high - self.low)


def _svg(title: str, description: str, body: list[str], chart_id: str) -> Markup:
    head = (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>'
    )
    # Every text part above went through escape().
    return Markup(head + "".join(body) + "</svg>")


def _axes(
    frame: _Frame, labels: Sequence[str], fmt: Callable[[int], str], low: int, high: int
) -> list[str]:
    out = []
    for tick in _ticks(low, high):
        y = frame.y(tick)
        out.append(
            f'<line class="grid" x1="{_PAD_LEFT}" x2="{WIDTH - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{_PAD_LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(tick))}</text>"
        )
    every = max(1, len(labels) // 7)
    for index, label in enumerate(labels):
        if index % every and index != len(labels) - 1:
            continue
        out.append(
            f'<text class="axis" x="{frame.x(index):.1f}" y="{HEIGHT - 10}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return out


def fan_chart(
    points: Sequence[FanPoint], *, currency: str, buffer: int | None, chart_id: str = "fan"
) -> Markup:
    """P10-P90 band around the P50 closing balance, week by week, with the buffer line."""
    if not points:
        return Markup("")
    values = [v for p in points for v in (p.p10, p.p50, p.p90)]
    if buffer is not None:
        values.append(buffer)
    low, high = min(values), max(values)
    frame = _Frame(len(points), low, high)
    upper = " ".join(f"{frame.x(i):.1f},{frame.y(p.p90):.1f}" for i, p in enumerate(points))
    lower = " ".join(
        f"{frame.x(i):.1f},{frame.y(p.p10):.1f}" for i, p in reversed(list(enumerate(points)))
    )
    median = " ".join(f"{frame.x(i):.1f},{frame.y(p.p50):.1f}" for i, p in enumerate(points))
    body = _axes(frame, [p.label for p in points], _money_fmt(currency), low, high)
    body.append(f'<polygon class="band" points="{upper} {lower}"/>')
    body.append(f'<polyline class="median" points="{median}"/>')
    if low < 0:
        y = frame.y(0)
        body.append(
            f'<line class="zero" x1="{_PAD_LEFT}" x2="{WIDTH - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    if buffer is not None:
        y = frame.y(buffer)
        body.append(
            f'<line class="buffer" x1="{_PAD_LEFT}" x2="{WIDTH - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="buffer-label" x="{WIDTH - _PAD_RIGHT - 4}" y="{y - 6:.1f}" '
            f'text-anchor="end">buffer {escape(money_axis(buffer, currency))}</text>'
        )
    lowest = min(points, key=lambda p: p.p50)
    description = (
        f"Closing balance over {len(points)} weeks: most likely low "
        f"{Money(lowest.p50, currency).format()} in the week of {lowest.label}; "
        f"the shaded band runs from the 10th to the 90th percentile."
        + (
            ""
            if buffer is None
            else f" The dashed line is the buffer, {Money(buffer, currency).format()}."
        )
    )
    return _svg("13-week cash forecast", description, body, chart_id)


def line_chart(
    labels: Sequence[str],
    values: Sequence[int],
    *,
    currency: str | None,
    title: str,
    chart_id: str,
    unit: str = "weeks",
) -> Markup:
    """One series over time: money in `currency`, or a count of `unit` without one."""
    if not values:
        return Markup("")
    fmt = _money_fmt(currency) if currency else (lambda v: f"{v}")
    low, high = min(values), max(values)
    frame = _Frame(len(values), low, high)
    body = _axes(frame, labels, fmt, low, high)
    line = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(values))
    body.append(f'<polyline class="median" points="{line}"/>')
    for i, v in enumerate(values):
        body.append(f'<circle class="dot" cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="3"/>')

    def said(v: int) -> str:
        return Money(v, currency).format() if currency else f"{v} {unit}"

    description = (
        f"{title}: from {said(values[0])} on {labels[0]} to {said(values[-1])} on {labels[-1]}."
    )
    return _svg(title, description, body, chart_id)


def _money_fmt(currency: str) -> Callable[[int], str]:
    return lambda v: money_axis(v, currency)


def bar_chart(
    labels: Sequence[str], values: Sequence[int], *, currency: str, title: str, chart_id: str
) -> Markup:
    """Horizontal bars, one per label (aging buckets)."""
    if not values:
        return Markup("")
    width, label_end, bar_start = 480, 100, 108
    height = 30 * len(values) + 10
    top = max(max(values), 1)
    inner = width - bar_start - 112
    body = []
    for n, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 8 + 30 * n
        length = inner * value / top
        body.append(
            f'<text class="axis" x="{label_end}" y="{y + 15}" text-anchor="end">'
            f"{escape(label)}</text>"
            f'<rect class="{"bar late" if n else "bar"}" x="{bar_start}" y="{y}" '
            f'width="{length:.1f}" height="20" rx="3"/>'
            f'<text class="value" x="{bar_start + length + 6:.1f}" y="{y + 15}">'
            f"{escape(Money(value, currency).format())}</text>"
        )
    description = "; ".join(
        f"{label}: {Money(value, currency).format()}"
        for label, value in zip(labels, values, strict=True)
    )
    head = (
        f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-t {chart_id}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{chart_id}-t">{escape(title)}</title>'
        f'<desc id="{chart_id}-d">{escape(description)}</desc>'
    )
    # Every text part above went through escape().
    return Markup(head + "".join(body) + "</svg>")


def comparison_chart(
    labels: Sequence[str],
    baseline: Sequence[int],
    changed: Sequence[int],
    *,
    currency: str,
    buffer: int | None,
    title: str,
    chart_id: str,
) -> Markup:
    """Two closing-balance paths week by week: the baseline (solid) and the scenario's
    (dashed), with the buffer line."""
    if not baseline or len(baseline) != len(changed):
        return Markup("")
    values = [*baseline, *changed, *([buffer] if buffer is not None else [])]
    low, high = min(values), max(values)
    frame = _Frame(len(baseline), low, high)
    body = _axes(frame, labels, _money_fmt(currency), low, high)
    for series, css in ((baseline, "median"), (changed, "changed")):
        line = " ".join(f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in enumerate(series))
        body.append(f'<polyline class="{css}" points="{line}"/>')
    if buffer is not None:
        y = frame.y(buffer)
        body.append(
            f'<line class="buffer" x1="{_PAD_LEFT}" x2="{WIDTH - _PAD_RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
        )
    low_base, low_changed = min(baseline), min(changed)
    description = (
        f"{title}: baseline low {Money(low_base, currency).format()}, with the scenario "
        f"{Money(low_changed, currency).format()}."
    )
    return _svg(title, description, body, chart_id)
