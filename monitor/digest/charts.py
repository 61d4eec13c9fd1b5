"""Small PNG charts for the digest (matplotlib, Agg canvas: no display, no global pyplot state)."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from monitor.render import format_value

LINE, TARGET, WEEK_MARK, FAKE = "#2563eb", "#dc2626", "#e5e7eb", "#9ca3af"


def _figure() -> tuple[Figure, object]:
    figure = Figure(figsize=(4.2, 1.7), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    axes.tick_params(labelsize=7, length=2)
    return figure, axes


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout(pad=0.4)
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _weeks(axes, start: float, end: float, tz: ZoneInfo) -> None:
    t = start
    while t <= end:
        axes.axvline(datetime.fromtimestamp(t, tz), color=WEEK_MARK, linewidth=0.6, zorder=0)
        t += 7 * 86400
    axes.set_xlim(datetime.fromtimestamp(start, tz), datetime.fromtimestamp(end, tz))
    axes.xaxis.set_major_formatter(DateFormatter("%d %b", tz=tz))


def _scale(values: list[float], unit: str) -> tuple[float, str]:
    """The factor and label for a KPI's unit: ratios in %, sub-second latencies in ms."""
    if unit == "ratio":
        return 100.0, "%"
    if unit == "seconds" and values and max(values) < 1:
        return 1000.0, "ms"
    return 1.0, unit


def kpi_chart(trend: dict, start: float, end: float, tz: ZoneInfo, synthetic_until: float | None = None) -> bytes:
    """One KPI's daily values over the trend span, its target as a dashed line."""
    figure, axes = _figure()
    points = [(t, v) for t, v in trend["points"] if v is not None]
    unit = trend.get("unit", "")
    factor, label = _scale([v for _, v in points], unit)
    values = [v * factor for _, v in points]
    times = [datetime.fromtimestamp(t, tz) for t, _ in points]
    real = [i for i, (t, _) in enumerate(points) if synthetic_until is None or t > synthetic_until]
    fake = [i for i in range(len(points)) if i not in set(real)]
    if fake:
        axes.plot([times[i] for i in fake], [values[i] for i in fake], color=FAKE, marker="o", markersize=2,
                  linewidth=1, linestyle=":")
    if real:
        axes.plot([times[i] for i in real], [values[i] for i in real], color=LINE, marker="o", markersize=2.5,
                  linewidth=1.4)
    if trend.get("target") is not None and not (trend.get("comparator") == "ge" and trend["target"] == 0):
        axes.axhline(trend["target"] * factor, color=TARGET, linestyle="--", linewidth=0.9)
    _weeks(axes, start, end, tz)
    title = trend["name"] + (f" ({label})" if label and label not in ("count", "score") else "")
    if points:
        title += f" — now {format_value(points[-1][1], unit)}"
    axes.set_title(title, fontsize=8, loc="left")
    return _png(figure)


def score_chart(points: list[tuple[float, float | None]], start: float, end: float, tz: ZoneInfo,
                title: str, synthetic_until: float | None = None) -> bytes:
    figure, axes = _figure()
    kept = [(datetime.fromtimestamp(t, tz), v, synthetic_until is not None and t <= synthetic_until)
            for t, v in points if v is not None]
    axes.step([k[0] for k in kept], [k[1] for k in kept], where="post", color=LINE, linewidth=1.4)
    fake = [k for k in kept if k[2]]
    if fake:
        axes.scatter([k[0] for k in fake], [k[1] for k in fake], color=FAKE, s=6, zorder=3)
    axes.set_ylim(0, 5.1)
    axes.set_yticks(range(6))
    _weeks(axes, start, end, tz)
    axes.set_title(title, fontsize=8, loc="left")
    return _png(figure)
