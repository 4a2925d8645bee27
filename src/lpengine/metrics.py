"""Metrics in the Prometheus text format, named as go-livepeer names them where they apply.

go-livepeer exports OpenCensus views under the `livepeer_` namespace with `node_id` and
`node_type` labels (monitor/census.go): `livepeer_max_sessions_total`,
`livepeer_current_sessions_total`, `livepeer_transcoding_price`, `livepeer_versions`. Metrics go
does not have are named `lpengine_*`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

Labels = tuple[tuple[str, str], ...]


@dataclass
class Metric:
    name: str
    kind: str  # "counter" or "gauge"
    help: str
    values: dict[Labels, float] = field(default_factory=dict)
    collect: Callable[[], Iterable[tuple[Labels, float]]] | None = None  # read at scrape time


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _format(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """A small registry: counters and gauges with labels, rendered on scrape."""

    def __init__(self, node_id: str, node_type: str = "orch") -> None:
        self.base: Labels = (("node_id", node_id), ("node_type", node_type))
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()

    def _metric(self, name: str, kind: str, help: str) -> Metric:
        metric = self._metrics.get(name)
        if metric is None:
            metric = self._metrics[name] = Metric(name, kind, help)
        elif metric.kind != kind:
            raise ValueError(f"{name}: already a {metric.kind}, not a {kind}")
        return metric

    def _labels(self, labels: dict[str, str]) -> Labels:
        return tuple(sorted(labels.items())) + self.base

    def inc(self, name: str, help: str, amount: float = 1, **labels: str) -> None:
        with self._lock:
            metric = self._metric(name, "counter", help)
            key = self._labels(labels)
            metric.values[key] = metric.values.get(key, 0) + amount

    def set(self, name: str, help: str, value: float, **labels: str) -> None:
        with self._lock:
            self._metric(name, "gauge", help).values[self._labels(labels)] = value

    def gauge(
        self, name: str, help: str, collect: Callable[[], Iterable[tuple[dict[str, str], float]]]
    ) -> None:
        """A gauge read at scrape time from `collect` -> [(labels, value), ...]."""

        def labelled() -> Iterable[tuple[Labels, float]]:
            return [(self._labels(labels), value) for labels, value in collect()]

        with self._lock:
            self._metric(name, "gauge", help).collect = labelled

    def value(self, name: str, **labels: str) -> float | None:
        """The current value of one series (for tests and /status)."""
        metric = self._metrics.get(name)
        if metric is None:
            return None
        series = dict(metric.values)
        if metric.collect is not None:
            series.update(metric.collect())
        return series.get(self._labels(labels))

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []
        with self._lock:
            metrics = sorted(self._metrics.values(), key=lambda m: m.name)
        for m in metrics:
            series = dict(m.values)
            if m.collect is not None:
                series.update(m.collect())
            lines.append(f"# HELP {m.name} {m.help}")
            lines.append(f"# TYPE {m.name} {m.kind}")
            for labels, value in sorted(series.items()):
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{m.name}{{{text}}} {_format(value)}")
        return "\n".join(lines) + "\n"
