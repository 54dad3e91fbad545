"""The related-party graph: entities linked by shared legal representatives, shareholders, officers,
addresses and phones; components, propagated risk, patterns (phoenix, ring, shell address, cross-region,
cross-industry) with evidence, and graph features.

Pure DataFrame -> DataFrame functions; :func:`related_party_graph` composes them for one as-of date.
"""

from __future__ import annotations

from radar.graph.build import GraphSettings, RelatedPartyGraph, related_party_graph
from radar.graph.components import ComponentsDidNotConverge, connected_components
from radar.graph.edges import active_attribute_edges, attribute_hubs, path_edges
from radar.graph.features import GRAPH_FEATURES, graph_features, neighbour_risk
from radar.graph.patterns import (
    FLAGS,
    cross_flags,
    phoenix_flags,
    ring_flags,
    shell_address_flags,
)
from radar.graph.risk import component_stats, propagated_risk, risky_members

__all__ = [
    "FLAGS",
    "GRAPH_FEATURES",
    "ComponentsDidNotConverge",
    "GraphSettings",
    "RelatedPartyGraph",
    "active_attribute_edges",
    "attribute_hubs",
    "component_stats",
    "connected_components",
    "cross_flags",
    "graph_features",
    "neighbour_risk",
    "path_edges",
    "phoenix_flags",
    "propagated_risk",
    "related_party_graph",
    "ring_flags",
    "risky_members",
    "shell_address_flags",
]
