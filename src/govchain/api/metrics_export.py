"""GET /metrics: a node's state and counters as Prometheus metrics (prometheus-client).

Each node has a registry of its own (tests run several nodes in one process),
holding a collector that reads the node when scraped, so nothing is kept twice;
and the process's own metrics (CPU, memory, file descriptors, GC). Names follow
Prometheus's conventions: base units (seconds, bytes), `_total` for counters,
latencies as histograms. docs/node.md lists every metric.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from govchain.api.reports_desk import reports_metrics
from govchain.node.metrics import LATENCY_BUCKETS_MS, LatencySamples
from govchain.storage.sqlite import SqliteStore

if TYPE_CHECKING:
    from govchain.api.port import NodePort

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format promtool and every scraper read


def gauge(name: str, help_text: str, value: float) -> GaugeMetricFamily:
    """A gauge of one value."""
    return GaugeMetricFamily(name, help_text, value=value)


def counter(name: str, help_text: str, value: float) -> CounterMetricFamily:
    """A counter of one value (name without `_total`: the exposition adds it)."""
    return CounterMetricFamily(name, help_text, value=value)


def labelled(
    family: CounterMetricFamily | GaugeMetricFamily, values: Iterable[tuple[str, float]]
) -> CounterMetricFamily | GaugeMetricFamily:
    """family with one sample per (label value, value)."""
    for label, value in values:
        family.add_metric([label], value)
    return family


def histogram(name: str, help_text: str, samples: LatencySamples) -> HistogramMetricFamily:
    """A histogram in seconds of latencies kept in milliseconds."""
    buckets: list[tuple[str, float]] = []
    cumulative = 0
    for bound_ms, n in zip(LATENCY_BUCKETS_MS, samples.bucket_counts, strict=False):
        cumulative += n
        buckets.append((f"{bound_ms / 1000:g}", cumulative))
    buckets.append(("+Inf", samples.total))
    return HistogramMetricFamily(name, help_text, buckets=buckets, sum_value=samples.sum_ms / 1000)


class NodeCollector(Collector):
    """The node's metrics, read from it at each scrape."""

    def __init__(self, node: NodePort) -> None:
        self.node = node

    def describe(self) -> Iterable[Metric]:
        """Nothing ahead of a scrape (registering must not read the node)."""
        return ()

    def collect(self) -> Iterator[Metric]:
        """Every metric of the node now."""
        node, view, m = self.node, self.node.view, self.node.metrics
        counts = view.dag_counts()
        yield gauge("govchain_height", "Highest executed checkpoint height.", view.height)
        yield gauge(
            "govchain_decided_height",
            "Highest decided checkpoint height (executed here or not yet).",
            view.decided_height,
        )
        yield gauge(
            "govchain_round",
            "Consensus round at the height being decided (0: no timeout yet).",
            view.round,
        )
        yield gauge("govchain_dag_vertices", "Vertices held in the DAG.", counts.vertices)
        yield gauge("govchain_dag_tips", "Tips of the DAG (vertices no other names).", counts.tips)
        yield gauge(
            "govchain_pending_txs",
            "Admitted transactions no checkpoint covers yet.",
            counts.pending,
        )
        yield gauge(
            "govchain_orphans",
            "Transactions held until a missing parent arrives.",
            counts.orphans,
        )
        yield gauge("govchain_peers", "Peers connected now.", len(node.net.peers()))
        yield gauge(
            "govchain_catching_up",
            "1 while this node is behind the network and refuses clients.",
            int(view.catching_up()),
        )
        yield counter(
            "govchain_submitted",
            "Transactions clients submitted here that the node took.",
            m.submitted,
        )
        yield labelled(
            CounterMetricFamily(
                "govchain_rejections", "Transactions refused at the API, by reason.",
                labels=["reason"],
            ),
            sorted(m.rejections.items()),
        )  # fmt: skip
        yield counter(
            "govchain_not_replicated",
            "Submissions answered 503 not_replicated (too few validators stored them in time).",
            m.not_replicated,
        )
        yield histogram(
            "govchain_finality_latency_seconds",
            "Submit-to-final latency of this node's submissions.",
            m.finality_ms,
        )
        yield histogram(
            "govchain_replicate_latency_seconds",
            "Submit-to-202 latency: until validators with more than a third of the weight"
            " store the transaction.",
            m.replicate_ms,
        )
        yield counter(
            "govchain_consensus_equivocations",
            "Equivocating consensus messages this node has seen.",
            view.equivocations,
        )
        yield counter(
            "govchain_peer_decode_errors",
            "Peer messages that did not decode.",
            m.peer_decode_errors,
        )
        yield gauge(
            "govchain_verify_workers",
            "Processes checking signatures beside the event loop (0: on the loop).",
            m.verify_workers,
        )
        yield counter(
            "govchain_signatures_pre_verified",
            "Transactions whose signatures verify workers checked before admission.",
            m.pre_verified,
        )
        yield counter(
            "govchain_signatures_verified_inline",
            "Transactions the verify workers had no room for: checked on the event loop.",
            m.verified_inline,
        )
        yield counter(
            "govchain_peers_blamed",
            "Peers dropped and refused for sending what no honest peer sends.",
            m.peers_blamed,
        )
        budgets = sorted(view.budgets().items())
        yield labelled(
            GaugeMetricFamily(
                "govchain_buffer_bytes",
                "Bytes held by each buffer the network feeds"
                " (*_per_source: the largest part of one source).",
                labels=["buffer"],
            ),
            [(name, used) for name, (used, _) in budgets],
        )
        yield labelled(
            GaugeMetricFamily(
                "govchain_buffer_budget_bytes",
                "The byte budget of each of those buffers.",
                labels=["buffer"],
            ),
            [(name, cap) for name, (_, cap) in budgets],
        )
        if isinstance(node.store, SqliteStore):
            yield counter(
                "govchain_store_wal_checkpoint_busy",
                "Busy WAL checkpoints after a payload deletion (retried at every commit).",
                node.store.wal_checkpoint_busy,
            )
            yield gauge(
                "govchain_store_wal_holds_deleted_payload",
                "1 while deleted payload bytes may remain in the store's write-ahead log.",
                int(node.store.redaction_in_wal),
            )
        yield from reports_metrics(node)  # the report channel (api/reports_desk.py)


def metrics_registry(node: NodePort) -> CollectorRegistry:
    """A registry of the node's metrics and its process's, for its /metrics alone."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(node))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def metrics_text(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus's text format (CONTENT_TYPE)."""
    return generate_latest(registry)
