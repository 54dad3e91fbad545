"""The related-party graph of one as-of date, composed from the graph functions (no I/O).

A job reads ``entities``, ``attributes`` and ``risk_events``, calls :func:`related_party_graph` with
``GraphSettings.from_policy(policy())`` and writes the tables it wants; monthly snapshots call it once
per as-of date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from radar.config import Policy
from radar.graph.components import connected_components
from radar.graph.edges import active_attribute_edges, attribute_hubs
from radar.graph.features import graph_features
from radar.graph.patterns import (
    PHOENIX_LINK_TYPES,
    cross_flags,
    phoenix_flags,
    phoenix_pairs,
    ring_flags,
    shell_address_flags,
)
from radar.graph.risk import component_stats, propagated_risk, risky_members


@dataclass(frozen=True)
class GraphSettings:
    """The policy numbers the graph uses (``graph:`` and ``features.shell_address_min_entities``).

    ``phoenix_max_sharing``: a shared person, address or phone ties a phoenix to its predecessor on its
    own when at most this many entities ever held it, one held by more only when the successor carries on
    the predecessor's business, one to one (None: no limit); ``phoenix_name_max_entities``: a name-only
    person matches by name when at most this many holders besides the two firms are expected in the
    district and/or section they share; ``phoenix_trade_name_similarity`` / ``phoenix_trade_name_factor``:
    trade names that resemble (None: never) carry on a re-let address and let a name be that many times as
    common; ``phoenix_carries_on``: per node type what carries on the business through a shared node;
    ``phoenix_corroboration``: an address and a person together tie two firms (see
    :func:`radar.graph.patterns.phoenix_pairs`). ``components_algorithm``: ``large_star`` or
    ``graphx`` (:func:`radar.graph.components.connected_components`).
    """

    hub_cap: int
    max_iterations: int
    link_types: tuple[str, ...]
    risk_window_days: int
    new_entity_months: int
    phoenix_months: int
    propagation_damping: float
    shell_address_min_entities: int
    phoenix_max_sharing: int | None = None
    phoenix_name_max_entities: float = 1.0
    phoenix_trade_name_similarity: float | None = None
    phoenix_trade_name_factor: float = 1.0
    phoenix_carries_on: Mapping[str, tuple[str, ...]] | None = None
    phoenix_corroboration: bool = False
    components_algorithm: str = "large_star"

    def phoenix_rules(self) -> dict[str, Any]:
        """The keyword arguments of :func:`radar.graph.patterns.phoenix_pairs` these settings give."""
        return {
            "link_types": [t for t in PHOENIX_LINK_TYPES if t in self.link_types],
            "max_sharing": self.phoenix_max_sharing,
            "max_name_entities": self.phoenix_name_max_entities,
            "trade_name_similarity": self.phoenix_trade_name_similarity,
            "trade_name_factor": self.phoenix_trade_name_factor,
            "carries_on": self.phoenix_carries_on,
            "corroboration": self.phoenix_corroboration,
        }

    @classmethod
    def from_policy(cls, policy: Policy) -> GraphSettings:
        """Read the settings from the validated policy (conf/policy.yaml)."""
        g = policy.graph
        return cls(
            hub_cap=g.hub_cap,
            max_iterations=g.max_iterations,
            link_types=tuple(g.link_types),
            risk_window_days=g.risk_window_days,
            new_entity_months=g.new_entity_months,
            phoenix_months=g.phoenix_months,
            propagation_damping=g.propagation_damping,
            shell_address_min_entities=policy.features.shell_address_min_entities,
            phoenix_max_sharing=g.phoenix_max_sharing,
            phoenix_name_max_entities=g.phoenix_name_max_entities,
            phoenix_trade_name_similarity=g.phoenix_trade_name_similarity,
            phoenix_trade_name_factor=g.phoenix_trade_name_factor,
            phoenix_carries_on=(
                None
                if g.phoenix_carries_on is None
                else {k: tuple(v) for k, v in g.phoenix_carries_on.items()}
            ),
            phoenix_corroboration=g.phoenix_corroboration,
            components_algorithm=g.components_algorithm,
        )


@dataclass(frozen=True)
class RelatedPartyGraph:
    """The graph tables of one as-of date (lazy DataFrames, except that components were computed)."""

    as_of: date
    edges: DataFrame
    hubs: DataFrame
    components: DataFrame
    component_stats: DataFrame
    propagated_risk: DataFrame
    flags: DataFrame
    features: DataFrame
    phoenix_pairs: DataFrame | None = None  # with ``phoenix_lookback_months``: every successor's pairs

    def unpersist(self, phoenix_pairs: bool = True) -> None:
        """Release the cached tables (all but the phoenix pairs with ``phoenix_pairs=False``)."""
        tables = [self.edges, self.components, self.propagated_risk, self.flags]
        for table in [*tables, self.phoenix_pairs] if phoenix_pairs else tables:
            if table is not None:
                table.unpersist()


def related_party_graph(
    entities: DataFrame,
    attributes: DataFrame,
    risk_events: DataFrame,
    as_of: date,
    settings: GraphSettings,
    phoenix_lookback_months: int | None = None,
) -> RelatedPartyGraph:
    """Build every graph table as of ``as_of``.

    ``phoenix_lookback_months``: also keep (cached, as ``phoenix_pairs``) the phoenix pairs of successors
    founded this many months back, more than the flags' ``new_entity_months``, for the graph snapshots
    (:func:`radar.graph.snapshots.phoenix_lookback_months`) to reuse; the flags take the recent ones.

    Entities established after ``as_of`` do not exist yet and are left out (with their ties); the
    others, closed ones included (a phoenix needs its predecessor), are all nodes. Components are
    computed eagerly (iterative Spark jobs); edges, components, propagated risk and flags are cached
    (lazily) because several tables read them: call :meth:`RelatedPartyGraph.unpersist` when done.

    Output tables (see each function): edges, hubs (attr_type, attr_key, node_id, attr_label,
    n_entities, roles), components (entity_id, component_id), component_stats, propagated_risk
    (entity_id, component_id, propagated_risk), flags (entity_id, uscc, flag, evidence, component_id),
    features (entity_id, graph_*).
    """
    s = settings
    day = F.lit(as_of).cast("date")
    known = entities.where(F.col("established_date").isNull() | (F.col("established_date") <= day))
    attributes = attributes.join(known.select("entity_id"), "entity_id", "left_semi")
    edges = active_attribute_edges(attributes, as_of, s.hub_cap, s.link_types).cache()
    hubs = attribute_hubs(edges)
    components = connected_components(
        edges, s.max_iterations, entities=known, algorithm=s.components_algorithm
    ).cache()
    stats = component_stats(components, known, risk_events, as_of, s.risk_window_days)
    propagated = propagated_risk(
        edges,
        components,
        risk_events,
        as_of,
        s.risk_window_days,
        s.propagation_damping,
    ).cache()
    rules = s.phoenix_rules()
    pairs = None
    if phoenix_lookback_months is not None:
        lookback = max(phoenix_lookback_months, s.new_entity_months)
        pairs = phoenix_pairs(
            attributes, known, risk_events, hubs, as_of, lookback, s.phoenix_months, **rules
        ).cache()
    flags = (
        phoenix_flags(
            attributes,
            known,
            risk_events,
            components,
            hubs,
            as_of,
            s.new_entity_months,
            s.phoenix_months,
            **rules,
            pairs=pairs,
        )
        .unionByName(ring_flags(edges, components, known, risk_events, as_of, s.risk_window_days))
        .unionByName(shell_address_flags(edges, known, components, as_of, s.shell_address_min_entities))
        .unionByName(cross_flags(edges, components, known, risk_events, as_of, s.risk_window_days))
        .cache()
    )
    risky = risky_members(risk_events, as_of, s.risk_window_days)
    features = graph_features(known, edges, components, stats, propagated, flags, risky)
    return RelatedPartyGraph(as_of, edges, hubs, components, stats, propagated, flags, features, pairs)
