"""Prometheus, both ways the console can get request figures.

* :func:`query` asks a Prometheus server's HTTP API (``/api/v1/query``) an instant PromQL
  query, when ``service.prometheus_url`` is configured; :func:`query_range`
  (``/api/v1/query_range``) a series of them, for charts over hours or days.
* :func:`parse_text` reads the text exposition format that the service's ``/metrics``
  answers, when it is not; the service collector then computes rates between two scrapes.

The parser handles what ``prometheus_client`` and most exporters emit (comments, labels
with escaped quotes, optional timestamps, +Inf/NaN); it is not a full OpenMetrics parser.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Sample:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str, default: str = "") -> str:
        for k, v in self.labels:
            if k == key:
                return v
        return default


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and its (unix time, value) points."""

    name: str
    labels: tuple[tuple[str, str], ...]
    points: tuple[tuple[float, float], ...]


class PrometheusError(Exception):
    """The Prometheus API answered, but not with a result."""


def _data(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise PrometheusError(f"HTTP {response.status_code}, not JSON") from None
    if body.get("status") != "success":
        raise PrometheusError(body.get("error") or f"HTTP {response.status_code}")
    data: dict = body.get("data", {})
    return data


async def query_range(client: httpx.AsyncClient, base_url: str, promql: str, *, start: float,
                      end: float, step: float) -> list[Series]:
    """A range query from ``start`` to ``end`` (unix seconds) every ``step`` seconds; NaN
    points (no data in a window) are left out."""
    response = await client.get(f"{base_url.rstrip('/')}/api/v1/query_range", params={
        "query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"})
    out = []
    for series in _data(response).get("result", []):
        metric = dict(series.get("metric", {}))
        name = metric.pop("__name__", "")
        points = tuple((float(t), float(v)) for t, v in series.get("values", [])
                       if not math.isnan(float(v)))
        out.append(Series(name, tuple(sorted(metric.items())), points))
    return out


async def query(client: httpx.AsyncClient, base_url: str, promql: str) -> list[Sample]:
    """An instant query; each result series as a :class:`Sample` (name from ``__name__``)."""
    response = await client.get(f"{base_url.rstrip('/')}/api/v1/query", params={"query": promql})
    data = _data(response)
    if data.get("resultType") == "scalar":
        return [Sample("scalar", (), float(data["result"][1]))]
    out = []
    for series in data.get("result", []):
        metric = dict(series.get("metric", {}))
        name = metric.pop("__name__", "")
        out.append(Sample(name, tuple(sorted(metric.items())), float(series["value"][1])))
    return out


def scalar(samples: list[Sample]) -> float | None:
    """The single value of a query that aggregates to one series (None if empty or NaN)."""
    if not samples:
        return None
    value = samples[0].value
    return None if math.isnan(value) else value


def parse_text(text: str) -> list[Sample]:
    """Every sample of a text-format exposition; malformed lines are skipped."""
    samples = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        try:
            samples.append(_parse_line(line))
        except (ValueError, IndexError):
            continue
    return samples


def _parse_line(line: str) -> Sample:
    brace = line.find("{")
    space = line.find(" ")
    if brace != -1 and (space == -1 or brace < space):
        name = line[:brace]
        labels, end = _parse_labels(line, brace + 1)
        rest = line[end:].split()
    else:
        name, *rest = line.split()
        labels = ()
    return Sample(name, labels, _float(rest[0]))


def _parse_labels(line: str, i: int) -> tuple[tuple[tuple[str, str], ...], int]:
    labels: list[tuple[str, str]] = []
    while True:
        while line[i] in " ,":
            i += 1
        if line[i] == "}":
            return tuple(labels), i + 1
        eq = line.index("=", i)
        key = line[i:eq].strip()
        if line[eq + 1] != '"':
            raise ValueError("label value not quoted")
        j, value = eq + 2, []
        while line[j] != '"':
            if line[j] == "\\":
                j += 1
                value.append({"n": "\n", "\\": "\\", '"': '"'}.get(line[j], line[j]))
            else:
                value.append(line[j])
            j += 1
        labels.append((key, "".join(value)))
        i = j + 1


def _float(text: str) -> float:
    return {"+Inf": math.inf, "-Inf": -math.inf, "NaN": math.nan}.get(text) or float(text)
