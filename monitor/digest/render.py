"""Render a `Digest`: Markdown (charts as PNG files beside it), self-contained HTML (charts inlined
as base64 PNG, a Content-Security-Policy that forbids any network load) and JSON.

The HTML template autoescapes: team names, incident titles, KPI names, error messages and every other
value reach the page as text. Only values built here from trusted data (the charts' base64 data URIs)
are `Markup`. The Markdown template is not escaped."""
from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from jinja2 import Environment
from markupsafe import Markup

from monitor.digest import charts
from monitor.digest.assessment_report import helpers
from monitor.digest.templating import AUTOESCAPE, TEMPLATES, environment  # noqa: F401 - kept importable from here
from monitor.digest.builder import Digest
from metrics.catalog import SYMBOL
from monitor.render import format_value

STATUS_TEXT = {"met": "met", "unmet": "unmet", "no_data": "no data", None: "—"}


@dataclass
class Chart:
    name: str  # file name under charts/
    title: str
    png: bytes

    @property
    def data_uri(self) -> Markup:
        # Trusted: a fixed prefix and base64 (A-Z a-z 0-9 + / =), nothing an HTML escape would change.
        return Markup("data:image/png;base64," + base64.b64encode(self.png).decode())


@dataclass
class Rendered:
    digest: Digest
    markdown: str
    html: str
    text: str
    headline: str
    charts: list[Chart] = field(default_factory=list)


def _signed(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if round(value, digits) == 0:
        return "±0"
    return f"{value:+.{digits}f}".replace("-", "−")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for limit, size, unit in ((60, 1, "s"), (3600, 60, "min"), (86400, 3600, "h")):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit}" if unit != "h" else f"{seconds / size:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _when(ts: float, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    return datetime.fromtimestamp(ts, tz).strftime(fmt)


def headline(digest: Digest) -> str:
    """One line: the organisation's level and score and the change from last week."""
    if not digest.has_data:
        return f"AI-ops maturity {digest.week}: no data recorded this week"
    model = next((m for m in digest.models if m["model"] == digest.model), None)
    org = model["org"] if model else None
    if org is None:
        return f"AI-ops maturity {digest.week}: no organisation-wide snapshot"
    change = "" if org["score_delta"] is None else f" ({_signed(org['score_delta'])} vs last week)"
    blockers = len(digest.blocking)
    tail = f"; {blockers} KPI{'s' if blockers != 1 else ''} block level {org['level'] + 1}" if org["level"] < 5 else ""
    return f"AI-ops maturity {digest.week}: level {org['level']}, score {org['score']:.2f}{change}{tail}"


def build_charts(digest: Digest) -> list[Chart]:
    if not digest.has_data:
        return []
    tz = ZoneInfo(digest.timezone)
    out = []
    if any(v is not None for _, v in digest.level_trend):
        out.append(Chart("score.png", "Maturity score (organisation)",
                         charts.score_chart(digest.level_trend, digest.trend_start, digest.end, tz,
                                            f"{digest.model} score, organisation", digest.synthetic_until)))
    for trend in digest.trends:
        if trend["has_data"]:
            out.append(Chart(f"{trend['kpi']}.png", trend["name"],
                             charts.kpi_chart(trend, digest.trend_start, digest.end, tz, digest.synthetic_until)))
    return out


def _view(digest: Digest, chart_list: list[Chart]) -> dict[str, Any]:
    tz = ZoneInfo(digest.timezone)
    fv = format_value
    return {
        "d": digest, "tz": tz, "charts": chart_list, "headline": headline(digest),
        "period": f"{_when(digest.start, tz, '%a %d %b %Y')} – {_when(digest.end - 1, tz, '%a %d %b %Y')}",
        "no_data_charts": [t["name"] for t in digest.trends if not t["has_data"]],
        "fv": fv, "signed": _signed, "when": lambda ts: _when(ts, tz), "day": lambda ts: _when(ts, tz, "%d %b %Y"),
        "sym": lambda c: SYMBOL.get(c or "", c or ""), "status": lambda s: STATUS_TEXT.get(s, s),
        "target": lambda row: "—" if row.get("target") is None else f"{SYMBOL.get(row['comparator'], '')} "
                                                                    f"{fv(row['target'], row['unit'])}",
        "dur": duration,
        "measured": [k for k in digest.kpis if k["status"] != "no_data"],
        "unmeasured": [k for k in digest.kpis if k["status"] == "no_data"],
        "generated": _when(digest.generated_at, tz, "%Y-%m-%d %H:%M %Z"),
        **helpers(),
        "fv": fv,
    }


def _environment() -> Environment:
    return environment()


def render(digest: Digest) -> Rendered:
    chart_list = build_charts(digest)
    view = _view(digest, chart_list)
    env = _environment()
    markdown = env.get_template("digest.md.j2").render(**view)
    html = env.get_template("digest.html.j2").render(**view)
    return Rendered(digest, markdown, html, markdown, view["headline"], chart_list)


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_files(rendered: Rendered, out_dir: Path) -> dict[str, Path]:
    """OUT/<week>/digest.md, digest.html, digest.json and charts/*.png (each written atomically)."""
    folder = Path(out_dir) / rendered.digest.week
    paths = {"markdown": folder / "digest.md", "html": folder / "digest.html", "json": folder / "digest.json"}
    for chart in rendered.charts:
        _atomic_write(folder / "charts" / chart.name, chart.png)
    _atomic_write(paths["json"], orjson.dumps(rendered.digest.as_dict(), option=orjson.OPT_INDENT_2
                                              | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS))
    _atomic_write(paths["markdown"], rendered.markdown.encode())
    _atomic_write(paths["html"], rendered.html.encode())
    return paths
