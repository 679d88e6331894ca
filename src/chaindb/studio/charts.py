"""Bar charts as inline SVG, drawn on the server: no JavaScript, no build step. Each chart's
numbers are also given as a table beside it (screen readers, copying, tests read that)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 480, 120
GAP = 2  # pixels between bars


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | float | None
    shown: str  # the value as the table and the tooltip show it
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    unit: str
    bars: list[Bar]
    peak: str
    axis: str = "day"  # what a bar's label is: the table's first heading
    width: int = WIDTH
    height: int = HEIGHT


def bar_chart(
    chart_id: str,
    title: str,
    points: list[tuple[str, int | float | None]],
    *,
    unit: str = "",
    shown: list[str] | None = None,
    axis: str = "day",
) -> Chart:
    """Bars scaled to the largest value; None (no data that day) draws no bar. `shown`: how
    each value reads (default str(value)); heights go through floats, the text never does."""
    values = [value for _label, value in points if value is not None]
    peak = max(values, default=0)
    slot = WIDTH / max(len(points), 1)
    texts = shown or ["" if value is None else str(value) for _label, value in points]
    bars = []
    for index, ((label, value), text) in enumerate(zip(points, texts, strict=True)):
        height = 0.0 if not value or not peak else HEIGHT * float(value) / float(peak)
        bars.append(
            Bar(label, value, text, index * slot, HEIGHT - height, max(slot - GAP, 1), height)
        )
    peak_text = next((t for (_l, v), t in zip(points, texts, strict=True) if v == peak), "0")
    return Chart(chart_id, title, unit, bars, peak_text, axis)
