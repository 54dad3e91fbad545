"""Evidence paths a supervisor can check: entity -> attribute (type, label, dates) -> entity.

An evidence text is a JSON list of steps, oriented from the source of the risk towards the flagged
entity, e.g.::

    [{"from": "91211300MA0...", "via": {"type": "legal_rep", "label": "张三", "since": "2019-03-01",
      "to_type": "shareholder", "to_since": "2021-03-01"}, "to": "91211300MA1...",
      "event": "revoked 2022-05-01"}]

``via.type`` / ``since`` / ``until`` describe the ``from`` entity's tie to the attribute and
``to_type`` / ``to_since`` / ``to_until`` the ``to`` entity's; ``via.basis`` says how a shared person was
recognised when not by ID number (``name+entity``, ``name+related``, ``name``: see
:mod:`radar.resolve.attributes`; ``name+district``, ``name+section``: see :mod:`radar.graph.patterns`); ``event`` names the adverse events of the
``from`` entity; missing values are left out. The Spark-built evidence (phoenix, shell address) and the
pandas-built one below (ring, cross-region, cross-industry) share this shape.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from radar.graph.edges import ROLE_PRIORITY

MAX_EVIDENCE_STEPS = 20  # longer evidence is cut: a supervisor reads the first lines


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NaT:
        return None
    return str(value)


def evidence_json(steps: Sequence[dict[str, Any]]) -> str:
    """The evidence text: steps as JSON (Chinese kept readable), capped at MAX_EVIDENCE_STEPS."""
    return json.dumps(list(steps[:MAX_EVIDENCE_STEPS]), ensure_ascii=False, separators=(",", ":"))


def nearest_sources(
    adjacency: Mapping[Hashable, Iterable[Hashable]],
    sources: Iterable[Hashable],
    k: int,
    targets: Iterable[Hashable] | None = None,
) -> dict[Hashable, list[list[Hashable]]]:
    """For every reachable node, shortest paths from up to ``k`` near sources (nearest first).

    A breadth-first search from all sources at once in which each node keeps the first ``k`` distinct
    sources to reach it (a source reaches itself at distance 0) and forwards only those, so the cost
    is O(k * (nodes + links)), not O(sources * (nodes + links)). Every node keeps min(k, sources in
    its component) sources; with k = 1 that is exactly its nearest source, with k > 1 they are near
    ones (a source screened off by k nearer ones upstream may be missed). Each path is a shortest path
    from its source, starting at the source and ending at the node; ties go to the source listed first.
    With ``targets``, only those nodes' paths are built (the search is the same).
    """
    parent: dict[Hashable, dict[Hashable, Hashable | None]] = {}
    frontier: list[tuple[Hashable, Hashable, Hashable | None]] = [(s, s, None) for s in sources]
    while frontier:
        following = []
        for node, source, via in frontier:
            kept = parent.setdefault(node, {})
            if source in kept or len(kept) >= k:
                continue
            kept[source] = via
            following.extend((nb, source, node) for nb in adjacency[node])
        frontier = following
    paths: dict[Hashable, list[list[Hashable]]] = {}
    wanted = parent.keys() if targets is None else [t for t in targets if t in parent]
    for node in wanted:
        kept = parent[node]
        for source in kept:  # dicts keep insertion order: nearest first
            path, step = [node], node
            while (step := parent[step][source]) is not None:
                path.append(step)
            paths.setdefault(node, []).append(path[::-1])
    return paths


@dataclass(frozen=True)
class SourceTree:
    """Shortest paths from the nearest of several sources, over a sparse graph, paths left unbuilt.

    ``depth[i]`` is node i's distance from its nearest source (inf when no source reaches it) and
    ``parent[i]`` the node it is reached from (negative for a source or an unreached node). One
    multi-source search in scipy (compiled) replaces a Python breadth-first search: the largest city
    component has ~150k nodes and is searched once per district and industry holding risk. Which of
    two equally near sources keeps a node is decided by scipy, the same on every run for the same
    matrix. :meth:`path` builds one node's path on demand: a caller that needs few of the paths (the
    nearest other district's risky member of each entity) skips building the rest.
    """

    depth: np.ndarray
    parent: np.ndarray

    @classmethod
    def search(cls, graph: sparse.csr_matrix, sources: Sequence[int]) -> SourceTree:
        """Nearest-source search from ``sources`` (node numbers) over an undirected, unweighted graph."""
        depth, parent, _ = dijkstra(
            graph, directed=False, indices=list(sources), unweighted=True, min_only=True,
            return_predecessors=True,
        )
        return cls(depth, parent)

    def reaches(self, node: int) -> bool:
        """Whether some source reaches the node."""
        return bool(np.isfinite(self.depth[node]))

    def path(self, node: int) -> list[int]:
        """The shortest path from the node's nearest source to it (source first)."""
        path, step = [node], node
        while (step := int(self.parent[step])) >= 0:
            path.append(step)
        return path[::-1]


@dataclass(frozen=True)
class Tie:
    """One entity's tie to an attribute node, as evidence shows it."""

    attr_type: str
    label: str | None
    since: str | None
    until: str | None
    basis: str | None = None


@dataclass(frozen=True)
class Member:
    """What evidence shows of an entity."""

    display_id: str
    district: str | None
    industry: str | None
    events: str | None


class ComponentBook:
    """Ties and members of one component, read from a pandas group of its edges.

    The group has one row per edge: entity_id, display_id, node_id, node_type, attr_type,
    attr_label, since, until (text dates), district_code, industry_section, events (null unless risky).
    """

    def __init__(self, pdf: pd.DataFrame) -> None:
        # a group's rows come in whatever order Spark shuffled them; paths (networkx breaks ties between
        # equally short paths by insertion order) must not depend on it, or a re-run changes the evidence
        pdf = pdf.sort_values(
            [c for c in ("entity_id", "node_id", "attr_type", "since", "until") if c in pdf.columns],
            kind="stable", na_position="last",
        ).reset_index(drop=True)
        ties: dict[tuple[Any, str], Tie] = {}
        order = pdf.assign(_p=pdf["attr_type"].map(ROLE_PRIORITY).fillna(99)).sort_values(
            ["_p", "since"], kind="stable"
        )
        for row in order.itertuples(index=False):
            # the strongest role wins when one person holds several roles in the same entity
            ties.setdefault(
                (row.entity_id, row.node_id),
                Tie(
                    row.attr_type,
                    _text(row.attr_label),
                    _text(row.since),
                    _text(row.until),
                    _text(getattr(row, "basis", None)),
                ),
            )
        self.ties = ties
        self.members: dict[Any, Member] = {
            row.entity_id: Member(
                str(row.display_id), _text(row.district_code), _text(row.industry_section), _text(row.events)
            )
            for row in pdf.drop_duplicates("entity_id").itertuples(index=False)
        }
        self.links = [(("e", e), ("a", n)) for e, n in zip(pdf["entity_id"], pdf["node_id"], strict=True)]
        self._edge_ends = (pdf["entity_id"].to_numpy(), pdf["node_id"].to_numpy())
        # common control: people and corporate owners, not addresses or phones
        person = pdf["node_type"].isin(["person", "org"])
        self.person_links = [
            (("e", e), ("a", n))
            for e, n in zip(pdf.loc[person, "entity_id"], pdf.loc[person, "node_id"], strict=True)
        ]

    def sparse_graph(self) -> tuple[sparse.csr_matrix, list[tuple[str, Any]]]:
        """The entity-attribute graph as a symmetric sparse matrix and the node of each row.

        Nodes are numbered entities first, then attributes, each in sorted order, so the numbering (and
        the paths found on it) does not depend on the order Spark delivered the rows in.
        """
        e_codes, e_ids = pd.factorize(self._edge_ends[0], sort=True)
        a_codes, a_ids = pd.factorize(self._edge_ends[1], sort=True)
        n = len(e_ids) + len(a_ids)
        links = sparse.coo_matrix(
            (np.ones(len(e_codes)), (e_codes, a_codes + len(e_ids))), shape=(n, n)
        )
        graph = (links + links.T).tocsr()
        return graph, [("e", e) for e in e_ids] + [("a", a) for a in a_ids]

    @property
    def risky(self) -> list[Any]:
        """Members with adverse events, in a stable order."""
        return sorted((e for e, m in self.members.items() if m.events), key=str)

    def steps(self, path: Sequence[tuple[str, Any]], show: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Evidence steps along a graph path [("e", a), ("a", node), ("e", b), ...].

        ``show`` adds member facts to each step: ``district`` and/or ``industry`` (as
        ``from_district`` / ``to_district`` ...).
        """
        out = []
        for i in range(0, len(path) - 2, 2):
            (_, a), (_, node), (_, b) = path[i], path[i + 1], path[i + 2]
            ta, tb = self.ties[(a, node)], self.ties[(b, node)]
            via = {
                "type": ta.attr_type,
                "label": ta.label or tb.label,
                "since": ta.since,
                "until": ta.until,
                "to_type": tb.attr_type,
                "to_since": tb.since,
                "to_until": tb.until,
                # how the shared person was identified, when not by ID number on both sides
                "basis": _weaker(ta.basis, tb.basis),
            }
            step: dict[str, Any] = {
                "from": self.members[a].display_id,
                "via": {k: v for k, v in via.items() if v is not None},
                "to": self.members[b].display_id,
            }
            if self.members[a].events:
                step["event"] = self.members[a].events
            for fact in show:
                step[f"from_{fact}"] = getattr(self.members[a], fact)
                step[f"to_{fact}"] = getattr(self.members[b], fact)
            out.append({k: v for k, v in step.items() if v is not None})
        return out


# how a key was found, strongest first (radar.resolve.attributes; name+district/section: radar.graph.patterns)
BASIS_ORDER = (
    "id",
    "uscc",
    "registry",
    "name+registry",
    "name+entity",
    "name+related",
    "name",
    "name+district",
    "name+section",
)


def _weaker(a: str | None, b: str | None) -> str | None:
    """The weaker of two key bases (``name`` weakest); None when both are ID numbers or registry facts."""
    known = [x for x in (a, b) if x in BASIS_ORDER]
    if not known:
        return None
    worst = max(known, key=BASIS_ORDER.index)
    return None if worst in ("id", "uscc", "registry") else worst


def merge_steps(paths: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Concatenate several paths' steps, dropping steps already shown."""
    seen: set[str] = set()
    out = []
    for steps in paths:
        for step in steps:
            key = json.dumps(step, sort_keys=True, ensure_ascii=False)
            if key not in seen:
                seen.add(key)
                out.append(step)
    return out
