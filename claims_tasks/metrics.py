"""Fleet-wide metrics, aggregated in Redis and exposed in Prometheus format by the API's /metrics.

Workers run on many machines, as prefork children, so prometheus_client's in-process registry (or its
multiprocess mode, which needs a shared directory) cannot see the whole fleet. Instead each chunk records
its figures in a MetricsBatch and flushes them in one pipelined round trip into a Redis hash; the API
reads that hash through a prometheus_client Collector. Counters and histogram buckets only ever
increase, so concurrent writers need no coordination (HINCRBYFLOAT is atomic).

To add a metric: declare it in METRICS, then `batch.inc(...)`, `batch.observe(...)` or `batch.set(...)`.
"""

from __future__ import annotations

import json
import logging
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

METRICS_KEY = "claims_tasks:metrics"
# Raw samples (e.g. each chunk's seconds) for exact percentiles, newest first, capped per name.
SAMPLES_KEY = "claims_tasks:samples:"
SAMPLES_CAP = 100_000
Kind = Literal["counter", "gauge", "histogram"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SCORE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
SCORING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)


@dataclass(frozen=True)
class MetricDef:
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


METRICS: dict[str, MetricDef] = {
    "claims_processed": MetricDef("counter", "Claims given an outcome, by shard and outcome.", ("shard", "outcome")),
    "claims_failed": MetricDef("counter", "Failed claims by failure category.", ("shard", "category")),
    "chunks_processed": MetricDef("counter", "Chunks processed by shard.", ("shard",)),
    "chunk_duration_seconds": MetricDef("histogram", "Wall time of one chunk.", ("shard",), LATENCY_BUCKETS),
    "chunk_stage_seconds": MetricDef("counter", "Time spent per pipeline stage.", ("stage",)),
    "chunk_retries": MetricDef("counter", "Chunk tasks retried after a transient error.", ("shard",)),
    # The filter model (issue 4): labelled by model version and A/B variant.
    "model_claims_scored": MetricDef("counter", "Claims scored, by model.", ("model", "variant")),
    "model_predictions": MetricDef("counter", "Predicted denial filter, by model.", ("model", "filter")),
    "model_scoring_seconds": MetricDef(
        "histogram", "One vectorised scoring call (a chunk's claims for one model).", ("model",), SCORING_BUCKETS
    ),
    "model_denial_risk": MetricDef("histogram", "Denial risk of scored claims.", ("model", "variant"), SCORE_BUCKETS),
    "model_score_psi": MetricDef(
        "gauge", "Population-stability index of the latest batch's scores against training.", ("model", "variant")
    ),
    # Performance (issue 10): statements as the workers' connections ran them (db/query_tracker.py) and
    # the RVU price cache (claims_tasks/rvu_cache.py): result is memory, redis or database.
    "query_calls": MetricDef("counter", "Statements run by worker connections.", ("statement",)),
    "query_seconds": MetricDef("counter", "Wall time of statements run by worker connections.", ("statement",)),
    "rvu_cache_lookups": MetricDef("counter", "RVU price lookups by where they were answered.", ("result",)),
    # A pool process's warm-up (claims_tasks/warmup.py): how many finished, and where their time went.
    "pool_process_warmups": MetricDef("counter", "Pool processes whose warm-up finished, by result.", ("result",)),
    "pool_process_warmup_seconds": MetricDef("counter", "Time pool processes spent warming up.", ("step",)),
    # Production's facilities, payers and financial classes (claims_tasks/reference_cache.py): a chunk's
    # distinct ids answered from the process's memory (hit) or asked of production (miss).
    "reference_cache_lookups": MetricDef(
        "counter", "Reference id lookups (facility, payer, financial class) by table and result.", ("table", "result")
    ),
}


@dataclass
class MetricsBatch:
    """Figures collected while a chunk runs, written to Redis in one round trip by flush()."""

    increments: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    gauges: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)

    @staticmethod
    def _field(name: str, labels: dict[str, object], suffix: str = "") -> str:
        spec = METRICS.get(name)
        if spec is None:
            raise KeyError(f"metric {name!r} is not declared in claims_tasks.metrics.METRICS")
        if set(labels) != set(spec.labels):
            raise ValueError(f"metric {name!r} takes labels {spec.labels}, got {tuple(labels)}")
        encoded = json.dumps({k: str(labels[k]) for k in spec.labels}, separators=(",", ":"))
        return f"{name}|{encoded}|{suffix}"

    def inc(self, name: str, value: float = 1.0, **labels: object) -> None:
        self.increments[self._field(name, labels)] += value

    def observe(self, name: str, value: float, **labels: object) -> None:
        buckets = METRICS[name].buckets
        slot = bisect_left(buckets, value)
        le = "+Inf" if slot == len(buckets) else repr(buckets[slot])
        self.increments[self._field(name, labels, f"bucket:{le}")] += 1
        self.increments[self._field(name, labels, "sum")] += value
        self.increments[self._field(name, labels, "count")] += 1

    def observe_many(self, name: str, values: Iterable[float], **labels: object) -> None:
        """observe() for many values of one series, building each bucket's key once."""
        buckets = METRICS[name].buckets
        counts = [0] * (len(buckets) + 1)
        total = 0.0
        for value in values:
            counts[bisect_left(buckets, value)] += 1
            total += value
        for slot, n in enumerate(counts):
            if n:
                le = "+Inf" if slot == len(buckets) else repr(buckets[slot])
                self.increments[self._field(name, labels, f"bucket:{le}")] += n
        self.increments[self._field(name, labels, "sum")] += total
        self.increments[self._field(name, labels, "count")] += sum(counts)

    def set(self, name: str, value: float, **labels: object) -> None:
        self.gauges[self._field(name, labels)] = value

    def sample(self, name: str, value: float) -> None:
        """Keep the value itself (in a capped Redis list), for percentiles a histogram's buckets blur."""
        self.samples.setdefault(name, []).append(value)

    def flush(self, client: redis.Redis) -> None:
        """Best effort: metrics must never fail the work they describe."""
        if not (self.increments or self.gauges or self.samples):
            return
        try:
            with client.pipeline(transaction=False) as pipe:
                for key, value in self.increments.items():
                    pipe.hincrbyfloat(METRICS_KEY, key, value)
                if self.gauges:
                    pipe.hset(METRICS_KEY, mapping={k: repr(v) for k, v in self.gauges.items()})
                for name, values in self.samples.items():
                    pipe.lpush(SAMPLES_KEY + name, *values)
                    pipe.ltrim(SAMPLES_KEY + name, 0, SAMPLES_CAP - 1)
                pipe.execute()
        except redis.RedisError as exc:
            logger.warning("metrics not recorded: %s", exc)
        self.increments.clear()
        self.gauges.clear()
        self.samples.clear()


class RedisCollector(Collector):
    """Builds Prometheus metric families from the Redis hash, at scrape time."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.client = client
        self.prefix = prefix

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        raw = self.client.hgetall(METRICS_KEY)
        series: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for key, value in raw.items():
            name, labels, suffix = key.decode().split("|", 2)
            series[name][labels][suffix] = float(value)
        for name, spec in METRICS.items():
            full = self.prefix + name
            by_labels = series.get(name, {})
            if spec.kind == "counter":
                fam: CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily = CounterMetricFamily(
                    full, spec.help, labels=spec.labels
                )
                for labels, parts in by_labels.items():
                    fam.add_metric(_values(labels, spec), parts.get("", 0.0))
            elif spec.kind == "gauge":
                fam = GaugeMetricFamily(full, spec.help, labels=spec.labels)
                for labels, parts in by_labels.items():
                    fam.add_metric(_values(labels, spec), parts.get("", 0.0))
            else:
                fam = HistogramMetricFamily(full, spec.help, labels=spec.labels)
                for labels, parts in by_labels.items():
                    running = 0.0
                    cumulative = []
                    for le in [*(repr(b) for b in spec.buckets), "+Inf"]:
                        running += parts.get(f"bucket:{le}", 0.0)
                        cumulative.append((le, running))
                    fam.add_metric(_values(labels, spec), cumulative, parts.get("sum", 0.0))
            yield fam


def _values(encoded: str, spec: MetricDef) -> list[str]:
    doc = json.loads(encoded)
    return [doc.get(label, "") for label in spec.labels]
