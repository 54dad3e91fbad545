"""The related-party graph on tiny hand-made data (one SparkSession, one graph build for most tests)."""

from __future__ import annotations

import itertools
import json
import random
from datetime import date
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from radar.graph import (
    GRAPH_FEATURES,
    ComponentsDidNotConverge,
    GraphSettings,
    active_attribute_edges,
    attribute_hubs,
    connected_components,
    phoenix_flags,
    related_party_graph,
)
from radar.graph.risk import propagate_components
from radar.graph.snapshots import graph_dates, graph_snapshots, phoenix_lookback_months

AS_OF = date(2024, 6, 30)
SETTINGS = GraphSettings(
    hub_cap=3,
    max_iterations=30,
    link_types=("legal_rep", "shareholder", "officer", "address", "phone"),
    risk_window_days=1095,
    new_entity_months=12,
    phoenix_months=12,
    propagation_damping=0.85,
    shell_address_min_entities=3,
)
ENTITY_SCHEMA = (
    "entity_id string, uscc string, name string, district_code string, industry_section string, "
    "entity_class string, established_date date, registration_status string, is_active boolean, "
    "deregistered_date date"
)
ATTRIBUTE_SCHEMA = (
    "entity_id string, attr_type string, attr_key string, attr_label string, since date, until date"
)
EVENT_SCHEMA = "entity_id string, event_type string, event_date date, end_date date"
D = date.fromisoformat


def _entity(
    eid: str, district: str = "211302", industry: str = "F", est: str = "2018-01-01", dereg: str | None = None
) -> tuple[Any, ...]:
    closed = dereg is not None
    return (
        eid,
        f"U{eid}",
        f"企业{eid}",
        district,
        industry,
        "enterprise",
        D(est),
        "注销" if closed else "存续",
        not closed,
        D(dereg) if dereg else None,
    )


def _tie(
    eid: str, attr_type: str, key: str, label: str, since: str | None = "2018-01-01", until: str | None = None
) -> tuple[Any, ...]:
    return (eid, attr_type, key, label, D(since) if since else None, D(until) if until else None)


# ---------------------------------------------------------------- the hand-made city
ENTITIES = [
    # phoenix: E01 deregistered 2023-09-01, E02 founded 2024-01-15 by its legal representative
    _entity("E01", est="2015-01-01", dereg="2023-09-01"),
    _entity("E02", est="2024-01-15"),
    # not phoenix: predecessor E04 closed in 2019; E05 new but shares nothing with a closed firm
    _entity("E03", est="2024-02-01"),
    _entity("E04", est="2012-01-01", dereg="2019-05-01"),
    _entity("E05", est="2024-03-01"),
    # ring under common control: E10 -(张伟)- E11 -(王芳)- E12, risky E10 and E12
    _entity("E10", district="211302", industry="F"),
    _entity("E11", district="211303", industry="F"),
    _entity("E12", district="211302", industry="I"),
    # not a ring: E20 -(刘洋)- E21 share a person, E22 only an address with E21; one risky per person-group
    _entity("E20"),
    _entity("E21"),
    _entity("E22"),
    # hub address shared by five firms (hub_cap 3): a signal, not a path
    *[_entity(f"E3{i}") for i in range(5)],
    # a person who left E40 before the as-of date, and a phone E42 takes only after it
    _entity("E40"),
    _entity("E41"),
    _entity("E42"),
    # a chain for propagation: E50 (listed) - E51 - E52 - E53 - E54
    *[_entity(f"E5{i}") for i in range(5)],
    # an entity with no ties at all, and one founded after the as-of date
    _entity("E60"),
    _entity("E61", est="2024-09-01"),
]
ATTRIBUTES = [
    _tie("E01", "legal_rep", "id:210000197001010011", "张三", "2015-01-01", "2023-09-01"),
    _tie("E02", "legal_rep", "id:210000197001010011", "张三", "2024-01-15"),
    _tie("E02", "legal_rep", "id:210000197001010011", "张三", "2024-01-15"),  # a duplicate row
    _tie("E03", "legal_rep", "id:210000198002020022", "李四", "2024-02-01"),
    _tie("E04", "legal_rep", "id:210000198002020022", "李四", "2012-01-01", "2019-05-01"),
    _tie("E05", "phone", "13800000005", "13800000005", "2024-03-01"),
    _tie("E10", "legal_rep", "id:210000199003030033", "张伟"),
    _tie("E11", "shareholder", "id:210000199003030033", "张伟"),
    _tie("E11", "shareholder", "name:王芳@E11", "王芳"),
    _tie("E12", "officer", "name:王芳@E11", "王芳"),
    _tie("E20", "legal_rep", "id:210000199104040044", "刘洋"),
    _tie("E21", "officer", "id:210000199104040044", "刘洋"),
    _tie("E21", "address", "朝阳市双塔区友谊大街1号", "朝阳市双塔区友谊大街1号"),
    _tie("E22", "address", "朝阳市双塔区友谊大街1号", "朝阳市双塔区友谊大街1号"),
    *[_tie(f"E3{i}", "address", "朝阳市龙城区商务中心8楼", "朝阳市龙城区商务中心8楼") for i in range(5)],
    _tie("E40", "officer", "id:210000199205050055", "赵敏", "2019-01-01", "2024-01-01"),
    _tie("E41", "officer", "id:210000199205050055", "赵敏", "2020-01-01"),
    _tie("E41", "phone", "13900000041", "13900000041", "2020-01-01"),
    _tie("E42", "phone", "13900000041", "13900000041", "2024-08-01"),
    *[_tie(f"E5{i}", "shareholder", f"id:5{i}", f"股东{i}") for i in range(4)],
    *[_tie(f"E5{i + 1}", "shareholder", f"id:5{i}", f"股东{i}") for i in range(4)],
    _tie("E61", "legal_rep", "id:210000199003030033", "张伟", "2024-09-01"),
]
EVENTS = [
    ("E10", "penalty", D("2024-01-10"), None),
    ("E12", "dishonest_debtor", D("2023-11-01"), None),
    ("E20", "revoked", D("2024-02-01"), None),
    ("E22", "penalty", D("2024-03-01"), None),
    ("E50", "abnormal_list", D("2020-05-01"), None),  # old, but still listed
    ("E53", "penalty", D("2024-08-01"), None),  # after the as-of date: does not exist yet
    ("E04", "deregistered", D("2019-05-01"), None),
]


@pytest.fixture(scope="module")
def city(spark: Any) -> dict[str, Any]:
    return {
        "entities": spark.createDataFrame(ENTITIES, ENTITY_SCHEMA),
        "attributes": spark.createDataFrame(ATTRIBUTES, ATTRIBUTE_SCHEMA),
        "risk_events": spark.createDataFrame(EVENTS, EVENT_SCHEMA),
    }


@pytest.fixture(scope="module")
def graph(city: dict[str, Any]) -> dict[str, pd.DataFrame]:
    """Every table of one graph build, collected once."""
    g = related_party_graph(city["entities"], city["attributes"], city["risk_events"], AS_OF, SETTINGS)
    return {
        "components": g.components.toPandas(),
        "hubs": g.hubs.toPandas(),
        "stats": g.component_stats.toPandas(),
        "propagated": g.propagated_risk.toPandas().set_index("entity_id")["propagated_risk"],
        "flags": g.flags.toPandas(),
        "features": g.features.toPandas(),
    }


def _component_of(graph: dict[str, pd.DataFrame]) -> dict[str, str]:
    c = graph["components"]
    return dict(zip(c["entity_id"], c["component_id"], strict=True))


def _flagged(graph: dict[str, pd.DataFrame], flag: str) -> dict[str, list[dict[str, Any]]]:
    f = graph["flags"]
    f = f[f["flag"] == flag]
    return {e: json.loads(ev) for e, ev in zip(f["entity_id"], f["evidence"], strict=True)}


# ---------------------------------------------------------------- connected components
def _random_graphs() -> tuple[list[tuple[str, str]], list[str]]:
    """Random bipartite graphs (several seeds), a long shuffled chain, stars, disjoint pieces."""
    edges: list[tuple[str, str]] = []
    for seed in range(4):
        rng = random.Random(seed)
        edges += [(f"r{seed}e{rng.randrange(40):02d}", f"a:r{seed}{rng.randrange(30)}") for _ in range(45)]
    ids = [f"c{i:03d}" for i in range(220)]
    random.Random(7).shuffle(ids)  # a chain of 220 entities and 219 persons, ids in random order
    for i in range(len(ids) - 1):
        edges += [(ids[i], f"person:c{i}"), (ids[i + 1], f"person:c{i}")]
    edges += [(f"s{i:02d}", "address:star") for i in range(15)]  # one attribute, many entities
    edges += [("t00", f"phone:t{i}") for i in range(10)] + [
        (f"t{i + 1:02d}", f"phone:t{i}") for i in range(10)
    ]
    isolated = ["z1", "z2", "c000"]  # c000 also has edges: listing it again changes nothing
    return edges, isolated


def test_components_equal_networkx(spark: Any) -> None:
    edges, isolated = _random_graphs()
    got = connected_components(
        spark.createDataFrame(edges, "entity_id string, node_id string"),
        max_iterations=30,
        entities=spark.createDataFrame([(e,) for e in isolated], "entity_id string"),
    ).toPandas()

    g = nx.Graph()
    g.add_edges_from((("e", e), ("a", a)) for e, a in edges)
    g.add_nodes_from(("e", e) for e in isolated)
    expected = {}
    for nodes in nx.connected_components(g):
        members = [n[1] for n in nodes if n[0] == "e"]
        expected.update(dict.fromkeys(members, min(members)))
    assert len(got) == len(expected)
    assert dict(zip(got["entity_id"], got["component_id"], strict=True)) == expected


def test_components_raise_when_not_converged(spark: Any) -> None:
    chain = [(f"e{i}", f"p{j}") for j in range(12) for i in (j, j + 1)]
    with pytest.raises(ComponentsDidNotConverge, match="max_iterations"):
        connected_components(
            spark.createDataFrame(chain, "entity_id string, node_id string"), max_iterations=1
        )


# ---------------------------------------------------------------- edges and hubs
def test_edges_valid_at_as_of_deduplicated_with_hubs(city: dict[str, Any]) -> None:
    edges = active_attribute_edges(city["attributes"], AS_OF, hub_cap=3).toPandas()
    held = set(zip(edges["entity_id"], edges["attr_type"], strict=True))
    assert ("E40", "officer") not in held  # left on 2024-01-01
    assert ("E01", "legal_rep") not in held  # ended with the firm
    assert ("E42", "phone") not in held  # begins after the as-of date
    assert ("E41", "officer") in held
    assert len(edges[(edges["entity_id"] == "E02")]) == 1  # duplicate rows collapse
    # one person in two roles is one node: 张伟 is E10's legal rep and E11's shareholder
    zhang = edges[edges["attr_label"] == "张伟"]
    assert set(zhang["node_id"]) == {"person:id:210000199003030033"}
    assert set(zhang["n_entities"]) == {2}

    hubs = attribute_hubs(active_attribute_edges(city["attributes"], AS_OF, hub_cap=3)).toPandas()
    assert hubs[["attr_type", "attr_key", "n_entities"]].values.tolist() == [
        ["address", "朝阳市龙城区商务中心8楼", 5]
    ]


def test_hub_is_no_path_but_is_reported(graph: dict[str, pd.DataFrame]) -> None:
    comp = _component_of(graph)
    assert len({comp[f"E3{i}"] for i in range(5)}) == 5
    assert graph["hubs"]["n_entities"].tolist() == [5]
    shell = _flagged(graph, "shell_address")
    assert set(shell) == {f"E3{i}" for i in range(5)}
    step = shell["E30"][0]
    assert step["from"] == "UE30" and step["via"]["n_entities"] == 5
    assert step["via"]["label"] == "朝阳市龙城区商务中心8楼"


def test_person_who_left_does_not_link(graph: dict[str, pd.DataFrame]) -> None:
    comp = _component_of(graph)
    assert comp["E40"] != comp["E41"]
    assert comp["E42"] != comp["E41"]  # the shared phone starts after the as-of date
    assert comp["E10"] == comp["E11"] == comp["E12"] == "E10"
    assert comp["E60"] == "E60"
    assert "E61" not in comp  # founded after the as-of date


# ---------------------------------------------------------------- patterns
def test_phoenix_flagged_with_evidence_path(graph: dict[str, pd.DataFrame]) -> None:
    phoenix = _flagged(graph, "phoenix")
    assert set(phoenix) == {"E02"}  # not E03 (predecessor closed in 2019), not E05 (no shared tie)
    assert phoenix["E02"] == [
        {
            "from": "UE01",
            "via": {
                "type": "legal_rep",
                "label": "张三",
                "since": "2015-01-01",
                "until": "2023-09-01",
                "to_type": "legal_rep",
                "to_since": "2024-01-15",
            },
            "to": "UE02",
            "event": "deregistered 2023-09-01",
        }
    ]
    row = graph["flags"].query("flag == 'phoenix'").iloc[0]
    assert row["uscc"] == "UE02" and row["component_id"] == "E02"


def test_ring_needs_two_risky_members_linked_by_persons(graph: dict[str, pd.DataFrame]) -> None:
    ring = _flagged(graph, "ring")
    assert set(ring) == {"E10", "E11", "E12"}  # not E20-E22: E22 hangs on by an address only
    steps = ring["E11"]
    assert {s["from"] for s in steps} == {"UE10", "UE12"}
    assert all(s["to"] == "UE11" for s in steps)
    by_source = {s["from"]: s for s in steps}
    assert by_source["UE10"]["via"] == {
        "type": "legal_rep",
        "label": "张伟",
        "since": "2018-01-01",
        "to_type": "shareholder",
        "to_since": "2018-01-01",
    }
    assert by_source["UE10"]["event"] == "penalty 2024-01-10"
    assert by_source["UE12"]["event"] == "dishonest_debtor 2023-11-01"


def test_cross_region_and_industry(graph: dict[str, pd.DataFrame]) -> None:
    region = _flagged(graph, "cross_region")
    assert set(region) == {"E11"}  # both risky members sit in 211302; E11 is in 211303
    assert region["E11"][0]["from_district"] == "211302" and region["E11"][0]["to_district"] == "211303"
    assert set(_flagged(graph, "cross_industry")) == {"E10", "E11", "E12"}
    stats = graph["stats"].set_index("component_id")
    assert stats.loc["E10", ["size", "n_districts", "n_industries", "n_risky"]].tolist() == [3, 2, 2, 2]
    assert bool(stats.loc["E10", "cross_region"]) and bool(stats.loc["E10", "cross_industry"])


def test_cross_component_evidence_is_a_shortest_path_from_the_nearest_other_district() -> None:
    from radar.graph.patterns import cross_component

    rng = random.Random(5)
    ents = [f"E{i:02d}" for i in range(40)]
    district = {e: rng.choice(["211302", "211303", "211381", None]) for e in ents}
    section = {e: rng.choice(["C", "F", "I"]) for e in ents}
    risky = set(rng.sample(ents, 6))
    pairs = {(e, f"A{i % 25:02d}") for i, e in enumerate(ents)}
    pairs |= {(rng.choice(ents), f"A{rng.randrange(25):02d}") for _ in range(25)}
    pdf = pd.DataFrame(
        [
            {
                "entity_id": e, "display_id": e, "node_id": a, "node_type": "address", "attr_type": "address",
                "attr_label": a, "since": "2020-01-01", "until": None, "basis": None,
                "district_code": district[e], "industry_section": section[e],
                "events": "penalty 2024-01-10" if e in risky else None,
            }
            for e, a in sorted(pairs)
        ]
    )
    out = cross_component(pdf)
    g = nx.Graph((("e", e), ("a", a)) for e, a in pairs)
    for fact, flag, value in (("district", "cross_region", district), ("industry", "cross_industry", section)):
        got = {r.entity_id: json.loads(r.evidence) for r in out[out["flag"] == flag].itertuples()}
        for e in ents:
            others = [r for r in risky if value[r] is not None and value[e] is not None and value[r] != value[e]]
            dist = [nx.shortest_path_length(g, ("e", r), ("e", e)) for r in others if nx.has_path(g, ("e", r), ("e", e))]
            assert (e in got) == bool(dist), (flag, e)
            if dist:
                steps = got[e]
                assert 2 * len(steps) == min(dist)  # entity -> attribute -> entity per step
                assert steps[0]["from"] in risky and steps[-1]["to"] == e
                assert steps[0][f"from_{fact}"] != value[e]
    # the order Spark delivers a group's rows in changes nothing
    again = cross_component(pdf.sample(frac=1, random_state=1))
    assert again.sort_values(["entity_id", "flag"]).reset_index(drop=True).equals(
        out.sort_values(["entity_id", "flag"]).reset_index(drop=True)
    )


def test_propagated_risk_decays_with_distance(graph: dict[str, pd.DataFrame]) -> None:
    risk = graph["propagated"]
    assert risk["E51"] > risk["E52"] > risk["E53"] > risk["E54"] > 0
    assert risk["E60"] == 0 and risk["E30"] == 0  # alone, or tied only through a hub


def test_graph_features_one_row_per_entity_without_nulls(graph: dict[str, pd.DataFrame]) -> None:
    f = graph["features"]
    assert list(f.columns) == ["entity_id", *GRAPH_FEATURES]
    assert len(f) == f["entity_id"].nunique() == len(ENTITIES) - 1  # E61 does not exist yet
    assert not f.isna().any().any()
    f = f.set_index("entity_id")
    assert f.loc[
        "E11", ["graph_component_size", "graph_n_neighbours", "graph_risky_neighbours"]
    ].tolist() == [3, 2, 2]
    assert f.loc["E11", "graph_risky_share"] == 1.0 and f.loc["E11", "graph_in_ring"] == 1
    assert f.loc["E02", "graph_is_phoenix"] == 1 and f.loc["E03", "graph_is_phoenix"] == 0
    assert f.loc["E30", "graph_shell_address"] == 1 and f.loc["E30", "graph_n_hub_links"] == 1
    assert f.loc["E60"].drop(["graph_n_districts", "graph_n_industries"]).tolist() == [1] + [0] * 11
    assert f.loc["E53", "graph_component_risky"] == 1  # E50; its own penalty comes after the as-of date


# ---------------------------------------------------------------- propagation without Spark
def _networkx_risk(pdf: pd.DataFrame, damping: float) -> dict[str, float]:
    """The reference: networkx's personalised PageRank on one component, scaled by its seeds, restart removed."""
    seeds = pdf.groupby("entity_id")["seed"].max()
    if not (seeds > 0).any():
        return {e: 0.0 for e in seeds.index}
    graph = nx.Graph((("e", e), ("a", n)) for e, n in zip(pdf["entity_id"], pdf["node_id"], strict=True))
    restart = {("e", e): s for e, s in seeds.items() if s > 0}
    score = nx.pagerank(graph, alpha=damping, personalization=restart, max_iter=200, tol=1e-10)
    total = sum(restart.values())
    return {e: max(score[("e", e)] * total - (1 - damping) * s, 0.0) for e, s in seeds.items()}


def test_propagation_matches_networkx() -> None:
    rng = random.Random(3)
    edges = {(f"e{i}", f"a{i}") for i in range(30)} | {(f"e{i + 1}", f"a{i}") for i in range(29)}
    edges |= {(f"e{rng.randrange(30)}", f"a{rng.randrange(30)}") for _ in range(20)}
    pdf = pd.DataFrame(sorted(edges), columns=["entity_id", "node_id"]).assign(component_id="e0")
    pdf["seed"] = pdf["entity_id"].isin(["e0", "e17"]).astype(float)
    got = propagate_components(pdf, damping=0.85).set_index("entity_id")
    assert got["propagated_risk"].to_dict() == pytest.approx(_networkx_risk(pdf, 0.85), abs=1e-6)
    assert got.loc["e17", "propagated_risk"] > 0 and (got["component_id"] == "e0").all()


def test_a_bucket_of_components_propagates_as_each_component_alone() -> None:
    rng = random.Random(11)
    parts = []
    for c in range(6):  # components of 2..40 entities, some without a seed, links repeated
        n = rng.randrange(2, 41)
        ents = [f"c{c}e{i}" for i in range(n)]
        edges = {(ents[i], f"c{c}a{i}") for i in range(n)} | {(ents[i + 1], f"c{c}a{i}") for i in range(n - 1)}
        edges |= {(rng.choice(ents), f"c{c}a{rng.randrange(n)}") for _ in range(n // 2)}
        pdf = pd.DataFrame(sorted(edges), columns=["entity_id", "node_id"]).assign(component_id=f"c{c}")
        seeded = set(rng.sample(ents, rng.randrange(0, 3)))
        pdf["seed"] = pdf["entity_id"].isin(seeded).astype(float)
        parts.append(pdf)
    bucket = pd.concat([*parts, parts[0].head(3)])  # a repeated link counts once
    got = propagate_components(bucket.sample(frac=1, random_state=2), damping=0.85).set_index("entity_id")
    assert len(got) == sum(p["entity_id"].nunique() for p in parts)
    for pdf in parts:
        alone = _networkx_risk(pdf, 0.85)
        assert (got.loc[list(alone), "component_id"] == pdf["component_id"].iloc[0]).all()
        assert got.loc[list(alone), "propagated_risk"].to_dict() == pytest.approx(alone, abs=1e-6)
    # the order rows arrive in changes nothing
    again = propagate_components(bucket, damping=0.85).set_index("entity_id").loc[got.index]
    assert np.array_equal(again["propagated_risk"].to_numpy(), got["propagated_risk"].to_numpy())


def test_source_tree_gives_shortest_paths_from_the_nearest_sources() -> None:
    from scipy import sparse

    from radar.graph.evidence import SourceTree, nearest_sources

    rng = random.Random(3)
    for n in (5, 40, 200):
        g = nx.gnm_random_graph(n, 2 * n, seed=rng.randrange(1000))
        g.add_edges_from((i, i + 1) for i in range(0, n - 1, 7))  # chains between the random links
        sources = sorted(rng.sample(range(n), max(1, n // 10)))
        reach = nearest_sources(g.adj, sources, 1)
        tree = SourceTree.search(sparse.csr_matrix(nx.to_scipy_sparse_array(g, nodelist=range(n))), sources)
        assert {i for i in range(n) if tree.reaches(i)} == set(reach)
        for node, paths in reach.items():
            path = tree.path(node)
            # as short as the Python search's path, from a source, along the graph's links
            assert len(path) == len(paths[0]) and tree.depth[node] == len(path) - 1
            assert path[0] in sources and path[-1] == node
            assert all(g.has_edge(a, b) for a, b in itertools.pairwise(path))
        # paths built for some nodes only: the same paths
        wanted = rng.sample(sorted(reach), min(5, len(reach)))
        assert nearest_sources(g.adj, sources, 3, targets=wanted) == {
            t: nearest_sources(g.adj, sources, 3)[t] for t in wanted
        }


def test_settings_come_from_policy() -> None:
    from radar.config import policy

    settings = GraphSettings.from_policy(policy())
    assert settings.hub_cap >= 2 and 0 < settings.propagation_damping < 1
    assert settings.shell_address_min_entities == policy().features.shell_address_min_entities
    assert settings.phoenix_max_sharing == policy().graph.phoenix_max_sharing
    assert settings.components_algorithm in ("large_star", "graphx")


def test_nearest_sources_gives_shortest_paths_from_near_sources() -> None:
    from radar.graph.evidence import nearest_sources

    g = nx.path_graph(["a", "b", "c", "d", "e", "f"])
    reach = nearest_sources(g.adj, ["a", "f"], k=2)
    assert reach["b"] == [["a", "b"], ["f", "e", "d", "c", "b"]]
    assert reach["a"] == [["a"], ["f", "e", "d", "c", "b", "a"]]
    assert nearest_sources(g.adj, ["a", "f"], k=1)["e"] == [["f", "e"]]


# ---------------------------------------------------------------- graph features at every snapshot date
SNAPSHOT_DAYS = [date(2023, 12, 31), date(2024, 3, 31), AS_OF]


@pytest.fixture(scope="module")
def snapshots(city: dict[str, Any]) -> pd.DataFrame:
    out = graph_snapshots(
        city["entities"], city["attributes"], city["risk_events"], SNAPSHOT_DAYS, AS_OF, SETTINGS
    ).toPandas()
    return out.set_index(["snapshot_date", "entity_id"]).sort_index()


def test_snapshot_at_as_of_equals_graph_features(
    graph: dict[str, pd.DataFrame], snapshots: pd.DataFrame
) -> None:
    at = snapshots.loc[AS_OF]
    want = graph["features"].set_index("entity_id").sort_index()
    assert list(at.columns) == list(GRAPH_FEATURES)
    assert not snapshots.isna().any().any()
    pd.testing.assert_frame_equal(at.sort_index(), want, check_dtype=False)


def test_snapshots_reuse_the_as_of_graphs_phoenix_pairs(
    city: dict[str, Any], graph: dict[str, pd.DataFrame], snapshots: pd.DataFrame
) -> None:
    lookback = phoenix_lookback_months(SNAPSHOT_DAYS, AS_OF, 1, SETTINGS.new_entity_months)
    assert lookback == SETTINGS.new_entity_months + 7  # the oldest snapshot month to June, both counted
    g = related_party_graph(city["entities"], city["attributes"], city["risk_events"], AS_OF, SETTINGS, lookback)
    try:
        flagged = set(graph["flags"].loc[graph["flags"]["flag"] == "phoenix", "entity_id"])
        assert flagged and flagged <= set(g.phoenix_pairs.toPandas()["s_id"])
        flags = g.flags.toPandas().sort_values(["entity_id", "flag"]).reset_index(drop=True)
        want = graph["flags"].sort_values(["entity_id", "flag"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(flags, want)
        reused = graph_snapshots(
            city["entities"], city["attributes"], city["risk_events"], SNAPSHOT_DAYS, AS_OF, SETTINGS,
            phoenix_pairs=g.phoenix_pairs,
        ).toPandas()  # fmt: skip
        pd.testing.assert_frame_equal(reused.set_index(["snapshot_date", "entity_id"]).sort_index(), snapshots)
    finally:
        g.unpersist()


def test_snapshots_are_point_in_time(snapshots: pd.DataFrame) -> None:
    dec = snapshots.loc[date(2023, 12, 31)]
    # E02 (founded 2024-01-15) and E03 do not exist yet; E10's penalty (2024-01-10) has not happened
    assert "E02" not in dec.index and "E03" not in dec.index
    assert dec.loc["E10", "graph_in_ring"] == 0 and snapshots.loc[(AS_OF, "E10"), "graph_in_ring"] == 1
    assert dec.loc["E11", "graph_component_risky"] == 1  # E12's listing (2023-11-01) only
    assert snapshots.loc[(date(2024, 3, 31), "E02"), "graph_is_phoenix"] == 1
    # E40's officer left on 2024-01-01: tied to E41 in December, not after
    assert dec.loc["E40", "graph_component_size"] == 2
    assert snapshots.loc[(AS_OF, "E40"), "graph_component_size"] == 1


def test_graph_dates_never_look_ahead() -> None:
    days = [date(2024, m, 28) for m in range(1, 8)]
    chosen = graph_dates(days, every=3)
    assert chosen[days[-1]] == days[-1] and chosen[days[0]] == days[0]
    assert all(g <= d for d, g in chosen.items())
    assert set(chosen.values()) == {days[0], days[3], days[6]}
    assert graph_dates(days, every=1) == {d: d for d in days}


def test_graph_features_are_the_catalogs_external_features() -> None:
    from radar.config import feature_catalog

    external = [f for f in feature_catalog().features if f.kind == "external"]
    assert [f.name for f in external] == list(GRAPH_FEATURES)
    assert {f.table for f in external} == {"graph/snapshots"} and {f.dimension for f in external} == {
        "related"
    }


# ---------------------------------------------------------------- phoenix: names, places, sharing
def _phoenix_city(spark: Any) -> dict[str, Any]:
    ents = [
        _entity("P1", est="2015-01-01", dereg="2023-10-01"),  # 赵敏 by name, then S1 in the same district
        _entity("S1", est="2024-02-01"),
        # 钱多: another district and another line of business, nothing shared
        _entity("P2", district="211303", industry="I", est="2015-01-01", dereg="2023-11-01"),
        _entity("S2", est="2024-02-01"),
        _entity("P3", est="2015-01-01", dereg="2023-11-01"),  # 孙丽: two successors, not one to one
        _entity("S3", est="2024-02-01"),
        _entity("S4", est="2024-03-01"),
        _entity("P4", est="2015-01-01", dereg="2023-10-01"),  # a village is no place
        _entity("S5", est="2024-02-01"),
        _entity("P5", est="2015-01-01", dereg="2023-10-01"),  # a house number is
        _entity("S6", est="2024-02-01"),
        # a phone four entities held (an accountant's), tying firms of two lines of business
        _entity("P6", est="2015-01-01", dereg="2023-10-01"),
        _entity("S7", industry="I", est="2024-02-01"),
        _entity("X1"),
        _entity("X2"),
        _entity("P7", est="2015-01-01", dereg="2023-10-01"),  # two ID numbers are two people
        _entity("S8", est="2024-02-01"),
        *[_entity(f"W{i}") for i in range(4)],  # 王伟 is common where P8 and S9 are: four others hold it
        _entity("P8", est="2015-01-01", dereg="2023-10-01"),
        _entity("S9", est="2024-02-01"),
        # 周杰: other districts, one line of business (K) where no one else holds the name
        _entity("P9", district="211303", industry="K", est="2015-01-01", dereg="2023-10-01"),
        _entity("S10", industry="K", est="2024-02-01"),
        # a shop front three firms held: a tie within one line of business, one to one
        _entity("P10", est="2015-01-01", dereg="2023-10-01"),
        _entity("S11", est="2024-02-01"),
        _entity("Y1"),
        # 吴刚 was P11's shareholder, not the one who ran it
        _entity("P11", est="2015-01-01", dereg="2023-10-01"),
        _entity("S12", est="2024-02-01"),
        # 郑宏: as many others hold it as 王伟 (two), but in a district and section of two firms in 37
        _entity("P12", district="211381", industry="C", est="2015-01-01", dereg="2023-10-01"),
        _entity("S13", district="211381", industry="C", est="2024-02-01"),
        _entity("Z1"),
        _entity("Z2"),
        # a group controller's ID number on three firms, the new one in another line of business
        _entity("P13", est="2015-01-01", dereg="2023-10-01"),
        _entity("S14", industry="I", est="2024-02-01"),
        _entity("Y2"),
    ]

    def rep(e: str, name: str, key: str | None = None, since: str = "2015-01-01") -> tuple[Any, ...]:
        return _tie(e, "legal_rep", key or f"name:{name}@{e}", name, since)

    atts = [
        rep("P1", "赵敏"),
        rep("S1", "赵敏", since="2024-02-01"),
        rep("P2", "钱多"),
        rep("S2", "钱多", since="2024-02-01"),
        rep("P3", "孙丽"),
        rep("S3", "孙丽", since="2024-02-01"),
        rep("S4", "孙丽", since="2024-03-01"),
        _tie("P4", "address", "addr:朝阳县某某镇前进村", "朝阳县某某镇前进村", "2015-01-01"),
        _tie("S5", "address", "addr:朝阳县某某镇前进村", "朝阳县某某镇前进村", "2024-02-01"),
        _tie("P5", "address", "addr:双塔区新华路8号", "双塔区新华路8号", "2015-01-01"),
        _tie("S6", "address", "addr:双塔区新华路8号", "双塔区新华路8号", "2024-02-01"),
        *[_tie(e, "phone", "tel:04212600000", "04212600000", "2015-01-01") for e in ("P6", "S7", "X1", "X2")],
        rep("P7", "李强", "id:210000197001010011"),
        rep("S8", "李强", "id:210000198001010022", "2024-02-01"),
        *[rep(e, "王伟") for e in ("W0", "W1", "W2", "W3", "P8")],
        rep("S9", "王伟", since="2024-02-01"),
        rep("P9", "周杰"),
        rep("S10", "周杰", since="2024-02-01"),
        *[_tie(e, "address", "addr:双塔区中山路9号", "双塔区中山路9号", "2015-01-01") for e in ("P10", "Y1")],
        _tie("S11", "address", "addr:双塔区中山路9号", "双塔区中山路9号", "2024-02-01"),
        _tie("P11", "shareholder", "name:吴刚@P11", "吴刚", "2015-01-01"),
        rep("S12", "吴刚", since="2024-02-01"),
        *[rep(e, "郑宏") for e in ("P12", "Z1", "Z2")],
        rep("S13", "郑宏", since="2024-02-01"),
        *[rep(e, "冯军", "id:210000199909090099") for e in ("P13", "Y2")],
        rep("S14", "冯军", "id:210000199909090099", "2024-02-01"),
    ]
    entities = spark.createDataFrame(ents, ENTITY_SCHEMA)
    return {
        "entities": entities,
        "attributes": spark.createDataFrame(atts, ATTRIBUTE_SCHEMA),
        "components": entities.select("entity_id", F.col("entity_id").alias("component_id")),
    }


def _phoenix_evidence(spark: Any, c: dict[str, Any], **kwargs: Any) -> dict[str, list[dict[str, Any]]]:
    flags = phoenix_flags(
        c["attributes"],
        c["entities"],
        spark.createDataFrame([], EVENT_SCHEMA),
        c["components"],
        spark.createDataFrame([], "node_id string"),
        AS_OF,
        new_entity_months=12,
        phoenix_months=12,
        **kwargs,
    ).toPandas()
    return {e: json.loads(v) for e, v in zip(flags["entity_id"], flags["evidence"], strict=True)}


def test_phoenix_ties_uncommon_where_both_firms_are_one_to_one(spark: Any) -> None:
    c = _phoenix_city(spark)
    evidence = _phoenix_evidence(spark, c, max_sharing=2, max_name_entities=1.0)
    assert set(evidence) == {"S1", "S6", "S10", "S11", "S13"}
    assert evidence["S1"][0]["via"]["basis"] == "name+district" and evidence["S1"][0]["from"] == "UP1"
    assert evidence["S10"][0]["via"]["basis"] == "name+section" and evidence["S10"][0]["from"] == "UP9"
    assert evidence["S13"][0]["via"]["basis"] == "name+district" and evidence["S13"][0]["from"] == "UP12"
    for s, p in (("S6", "UP5"), ("S11", "UP10")):  # an address held by two, and one held by three
        assert evidence[s][0]["via"]["type"] == "address" and "basis" not in evidence[s][0]["via"]
        assert evidence[s][0]["from"] == p


def test_phoenix_name_bar_is_relative_to_the_city(spark: Any) -> None:
    c = _phoenix_city(spark)
    # 王伟: four others in the city, where P8 and S9 are most of the city: expected there 4 x 30/37 = 3.2 (> 3)
    assert "S9" in _phoenix_evidence(spark, c, max_sharing=2, max_name_entities=4.0)
    assert "S9" not in _phoenix_evidence(spark, c, max_sharing=2, max_name_entities=3.0)
    # the same city ten times as large, the newcomers elsewhere: P8 and S9's part of it shrinks ten times
    more = [_entity(f"N{i:03d}", district="211324", industry="A") for i in range(333)]
    big = {**c, "entities": c["entities"].unionByName(spark.createDataFrame(more, ENTITY_SCHEMA))}
    big["components"] = big["entities"].select("entity_id", F.col("entity_id").alias("component_id"))
    assert "S9" in _phoenix_evidence(spark, big, max_sharing=2, max_name_entities=1.0)


def test_phoenix_shared_node_without_a_limit(spark: Any) -> None:
    # no sharing limit: the accountant's phone and the group controller's ID tie across lines of business
    evidence = _phoenix_evidence(spark, _phoenix_city(spark), max_sharing=None, max_name_entities=1.0)
    assert {"S7", "S14"} <= set(evidence) and "S11" in evidence


def test_phoenix_trade_name_carries_on_a_shop_front_and_a_common_name(spark: Any) -> None:
    c = _phoenix_city(spark)
    # a shop front three firms held, the new firm in another trade but under the old trade name
    ents = [
        _entity("P20", est="2015-01-01", dereg="2023-10-01"),
        _entity("S20", industry="I", est="2024-02-01"),
        _entity("Y3"),
    ]
    shop = "addr:双塔区解放路3号"
    atts = [_tie(e, "address", shop, "双塔区解放路3号", "2015-01-01") for e in ("P20", "Y3")]
    atts.append(_tie("S20", "address", shop, "双塔区解放路3号", "2024-02-01"))
    cores = {"P10": "老王烧烤", "S11": "佳佳美发", "P20": "刘记烧烤", "S20": "刘记烧烤城", "P8": "伟业五金", "S9": "伟业五金店"}
    core = F.udf(lambda e: cores.get(e), "string")  # the others have none: never alike
    entities = c["entities"].unionByName(spark.createDataFrame(ents, ENTITY_SCHEMA))
    city = {
        "entities": entities.withColumn("name_core", core("entity_id")),
        "attributes": c["attributes"].unionByName(spark.createDataFrame(atts, ATTRIBUTE_SCHEMA)),
        "components": entities.select("entity_id", F.col("entity_id").alias("component_id")),
    }
    before = _phoenix_evidence(spark, city, max_sharing=2, max_name_entities=1.0)
    assert "S11" in before and "S20" not in before and "S9" not in before
    after = _phoenix_evidence(
        spark, city, max_sharing=2, max_name_entities=1.0, trade_name_similarity=0.4, trade_name_factor=30
    )
    # the shop front: the trade name, not the line of business, says who carries on (烧烤 -> 美发: no)
    assert "S11" not in after and after["S20"][0]["from"] == "UP20"
    assert after["S20"][0]["via"]["trade_name_similarity"] == 0.8
    # 王伟, four others where both are (3.2 expected): too common alone, not with the trade name carried on
    assert after["S9"][0]["via"]["basis"] == "name+district" and after["S9"][0]["from"] == "UP8"
    assert after["S9"][0]["via"]["trade_name_similarity"] == 0.8
    # ties that need no trade name carry none
    assert {"S1", "S6", "S10", "S13"} <= set(after) and "trade_name_similarity" not in after["S1"][0]["via"]
    capped = _phoenix_evidence(
        spark, city, max_sharing=2, max_name_entities=1.0, trade_name_similarity=0.4, trade_name_factor=3
    )
    assert "S9" not in capped and "S20" in capped


def test_phoenix_district_trade_name_and_corroboration_carry_on(spark: Any) -> None:
    c = _phoenix_city(spark)
    ents = [
        # a phone three firms held: two closed ones in S21's line of business; S21 took P22's trade name
        _entity("P21", est="2015-01-01", dereg="2023-10-01"),
        _entity("P22", est="2015-01-01", dereg="2023-11-01"),
        _entity("S21", est="2024-02-01"),
        # an address and a person three firms held each, S23 in another line of business: neither alone
        _entity("P23", est="2015-01-01", dereg="2023-10-01"),
        _entity("S23", industry="I", est="2024-02-01"),
        _entity("Y4"),
        _entity("Y5"),
    ]
    atts = [
        *[_tie(e, "phone", "tel:13900000021", "13900000021", "2015-01-01") for e in ("P21", "P22")],
        _tie("S21", "phone", "tel:13900000021", "13900000021", "2024-02-01"),
        *[_tie(e, "address", "addr:双塔区文化路5号", "双塔区文化路5号", "2015-01-01") for e in ("P23", "Y4")],
        _tie("S23", "address", "addr:双塔区文化路5号", "双塔区文化路5号", "2024-02-01"),
        *[_tie(e, "legal_rep", "id:210000197505050055", "陈刚", "2015-01-01") for e in ("P23", "Y5")],
        _tie("S23", "shareholder", "id:210000197505050055", "陈刚", "2024-02-01"),
    ]
    cores = {"P21": "好运超市", "P22": "鑫源酒家", "S21": "鑫源酒楼"}
    core = F.udf(lambda e: cores.get(e), "string")
    entities = c["entities"].unionByName(spark.createDataFrame(ents, ENTITY_SCHEMA))
    city = {
        "entities": entities.withColumn("name_core", core("entity_id")),
        "attributes": c["attributes"].unionByName(spark.createDataFrame(atts, ATTRIBUTE_SCHEMA)),
        "components": entities.select("entity_id", F.col("entity_id").alias("component_id")),
    }
    rules = {"max_sharing": 2, "max_name_entities": 1.0}
    before = _phoenix_evidence(spark, city, **rules)
    assert not {"S7", "S14", "S21", "S23"} & set(before)
    # the same district carries on through a person or phone: the accountant's phone, the group controller
    district = {"person": ["section", "district"], "phone": ["section", "district"], "address": ["section"]}
    by_district = _phoenix_evidence(spark, city, **rules, carries_on=district)
    assert {"S7", "S14", "S23"} <= set(by_district) and "S21" not in by_district  # S21: two predecessors
    assert by_district["S23"][0]["via"]["type"] == "legal_rep" and len(by_district["S23"]) == 1
    # the trade name picks S21's predecessor among the two, one to one or not
    named = _phoenix_evidence(spark, city, **rules, trade_name_similarity=0.5)
    assert [step["from"] for step in named["S21"]] == ["UP22"]
    assert named["S21"][0]["via"]["trade_name_similarity"] == 0.75
    # an address and a person together: two steps, each saying it needed the other
    both = _phoenix_evidence(spark, city, **rules, corroboration=True)
    assert {step["via"]["type"] for step in both["S23"]} == {"address", "legal_rep"}
    assert all(step["via"]["corroborated"] for step in both["S23"]) and len(both["S23"]) == 2
    assert "corroborated" not in both["S6"][0]["via"] and set(before) <= set(both)


# ---------------------------------------------------------------- attributes: people in context, dated by changes
@pytest.fixture(scope="module")
def people(spark: Any) -> pd.DataFrame:
    """Attributes of three companies built from ingest-shaped tables (registry, sub-tables, changes)."""
    from tables import ingest_table, uscc

    from radar.config import policy
    from radar.resolve.attributes import build_attributes
    from radar.resolve.entities import build_entities
    from radar.resolve.normalize import name_rules

    a, b, c = uscc("211302", 101), uscc("211302", 102), uscc("211303", 103)
    registry = [
        {
            "uscc": a,
            "name": "朝阳市甲乙商贸有限公司",
            "legal_rep_name": "李明",
            "legal_rep_id_no": "210000198001010011",
            "address": "辽宁省朝阳市双塔区友谊大街1号",
            "phone": "13800000001",
            "established_date": "2015-01-01",
            "registration_status": "存续",
            "entity_type": "有限责任公司",
        },
        {
            "uscc": b,
            "name": "朝阳市丙丁建材有限公司",
            "legal_rep_name": "孙丽",
            "legal_rep_id_no": "210000198502020022",
            "address": "辽宁省朝阳市双塔区燕山街5号",
            "phone": "13800000001",
            "established_date": "2016-01-01",
            "registration_status": "存续",
            "entity_type": "有限责任公司",
        },
        {
            "uscc": c,
            "name": "朝阳市戊己科技有限公司",
            "legal_rep_name": "周强",
            "legal_rep_id_no": "210000197503030033",
            "address": "辽宁省朝阳市龙城区黄河路9号",
            "phone": "13900000003",
            "established_date": "2017-01-01",
            "registration_status": "存续",
            "entity_type": "有限责任公司",
        },
    ]
    holders = [
        {
            "uscc": a,
            "shareholder_name": "张伟",
            "shareholder_type": "自然人股东",
            "publish_date": "2015-01-05",
        },
        {
            "uscc": a,
            "shareholder_name": "李明",
            "shareholder_type": "自然人股东",
            "publish_date": "2015-01-05",
            "subscribed_date": "2045-01-01",
        },
        {
            "uscc": b,
            "shareholder_name": "张伟",
            "shareholder_type": "自然人股东",
            "publish_date": "2016-01-05",
        },
        {
            "uscc": b,
            "shareholder_name": "朝阳市甲乙商贸有限公司",
            "shareholder_type": "企业法人",
            "publish_date": "2016-01-05",
        },
        {
            "uscc": c,
            "shareholder_name": "张伟",
            "shareholder_type": "自然人股东",
            "publish_date": "2017-01-05",
        },
    ]
    officers = [{"uscc": b, "person_name": "李明", "position": "监事", "appointed_date": "2016-01-01"}]
    changes = [
        {
            "uscc": a,
            "change_item": "法定代表人变更",
            "before": "王五",
            "after": "李明",
            "change_date": "2022-03-01",
        },
        {
            "uscc": a,
            "change_item": "住所变更",
            "before": "辽宁省朝阳市双塔区中山大街9号",
            "after": "辽宁省朝阳市双塔区友谊大街1号",
            "change_date": "2021-06-01",
        },
        {
            "uscc": a,
            "change_item": "投资人变更",
            "before": "赵六（自然人股东）",
            "after": "张伟（自然人股东）",
            "change_date": "2019-05-01",
        },
    ]
    entities = build_entities(ingest_table(spark, "registry", registry), policy().resolve, AS_OF)
    out = build_attributes(
        entities,
        ingest_table(spark, "shareholder", holders),
        ingest_table(spark, "key_personnel", officers),
        ingest_table(spark, "change", changes),
        address_sql=name_rules(policy().resolve).address_sql,
        context_max_entities=10,
    ).toPandas()
    code = dict(entities.select("entity_id", "uscc").toPandas().itertuples(index=False))
    out["company"] = out["entity_id"].map(code).map({a: "A", b: "B", c: "C"})
    out.attrs["ids"] = {v: k for k, v in code.items()}
    return out


def _ties(people: pd.DataFrame, company: str, attr_type: str) -> pd.DataFrame:
    return people[(people["company"] == company) & (people["attr_type"] == attr_type)].set_index("attr_key")


def test_names_join_ids_within_the_entity_and_within_shared_contexts(people: pd.DataFrame) -> None:
    # 李明, shareholder of A without an ID number, is A's identified legal representative
    assert _ties(people, "A", "shareholder").loc["id:210000198001010011", "basis"] == "name+entity"
    # 李明, B's supervisor, is the same person: A and B share a phone, and only one 李明 is identified there
    assert _ties(people, "B", "officer").loc["id:210000198001010011", "basis"] == "name+related"
    # 张伟 of A and 张伟 of B are one person (a shared phone, an ownership); 张伟 of C shares nothing with them
    zhang = people[people["attr_label"] == "张伟"]
    keys = dict(zip(zhang["company"], zhang["attr_key"], strict=True))
    assert keys["A"] == keys["B"] != keys["C"] and keys["C"].startswith("name:张伟@")
    assert not any(k.startswith("id:") for k in keys.values())
    # A holds shares in B: B's shareholder and A itself are one org node
    org = people[people["attr_key"].str.startswith("org:")]
    assert sorted(org["company"] + "/" + org["attr_type"]) == ["A/entity", "B/shareholder"]
    assert org["attr_key"].nunique() == 1


def test_changes_date_the_ties(people: pd.DataFrame) -> None:
    reps = _ties(people, "A", "legal_rep")
    # the registry shows 李明, who replaced 王五 on 2022-03-01: 王五 stops linking then, 李明 starts
    assert reps.loc["id:210000198001010011", "since"] == D("2022-03-01")
    old = reps[reps["attr_label"] == "王五"]
    assert (
        len(old) == 1 and old["until"].iloc[0] == D("2022-03-01") and old["since"].iloc[0] == D("2015-01-01")
    )
    # an investor named only by the change record, until the change
    gone = _ties(people, "A", "shareholder")
    zhao = gone[gone["attr_label"] == "赵六"]
    assert len(zhao) == 1 and zhao["until"].iloc[0] == D("2019-05-01")
    # 张伟 joined A's investors by that change; a subscription deadline in 2045 does not date 李明's holding
    assert gone[gone["attr_label"] == "张伟"]["since"].iloc[0] == D("2019-05-01")
    assert gone.loc["id:210000198001010011", "since"] == D("2015-01-05")
    # the address A left on 2021-06-01, and the one it moved to
    addr = _ties(people, "A", "address")
    assert addr.loc["addr:双塔区中山大街9号", "until"] == D("2021-06-01")
    assert addr.loc["addr:双塔区友谊大街1号", "since"] == D("2021-06-01")
    # as of 2021-12-31 A's legal representative is 王五; as of the as-of date 李明
    edges_2021 = active_attribute_edges(_spark_frame(people), date(2021, 12, 31), hub_cap=25).toPandas()
    a_rep = edges_2021[(edges_2021["attr_type"] == "legal_rep")]
    assert set(a_rep[a_rep["entity_id"] == reps["entity_id"].iloc[0]]["attr_label"]) == {"王五"}


def _spark_frame(people: pd.DataFrame) -> Any:
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    cols = ["entity_id", "attr_type", "attr_key", "attr_label", "since", "until", "basis"]
    return spark.createDataFrame(
        people[cols].astype(object).where(people[cols].notna(), None), ATTRIBUTE_SCHEMA + ", basis string"
    )


# ---------------------------------------------------------------- GraphX through the Java shim
def test_graphx_components_equal_large_star_and_networkx(spark: Any) -> None:
    rng = random.Random(11)
    edges = [(f"g{rng.randrange(40):02d}", f"a:{rng.randrange(30)}") for _ in range(45)]
    edges += [(f"c{i:02d}", f"person:{i}") for i in range(12)] + [
        (f"c{i + 1:02d}", f"person:{i}") for i in range(12)
    ]
    frame = spark.createDataFrame(edges, "entity_id string, node_id string")
    isolated = spark.createDataFrame([("z1",)], "entity_id string")
    got = connected_components(frame, 60, entities=isolated, algorithm="graphx").toPandas()
    star = connected_components(frame, 60, entities=isolated).toPandas()
    assert dict(zip(got["entity_id"], got["component_id"], strict=True)) == dict(
        zip(star["entity_id"], star["component_id"], strict=True)
    )
    g = nx.Graph((("e", e), ("a", a)) for e, a in edges)
    assert got["component_id"].nunique() == nx.number_connected_components(g) + 1  # and z1
    # a chain of 13 entities is 24 hops long: GraphX needs that many supersteps, and says when it stopped short
    with pytest.raises(ComponentsDidNotConverge, match="GraphX"):
        connected_components(frame, 5, algorithm="graphx")


# ---------------------------------------------------------------- snapshots on a random city, date by date
def _random_city(seed: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """60 entities founded and closed at random, sharing people (by ID and by name), addresses and phones
    from small pools (so some become hubs on some dates only), ties that begin and end, risky events."""
    rng = random.Random(seed)

    def day(lo: int, hi: int) -> date:
        return date.fromordinal(date(2020, 1, 1).toordinal() + rng.randrange(lo, hi))

    ents, ties, events = [], [], []
    for i in range(60):
        est = day(0, 1600)
        dereg = day(1000, 1800) if rng.random() < 0.2 else None
        dereg = dereg if dereg is None or dereg > est else None
        ents.append(
            _entity(
                f"R{i:02d}",
                district=rng.choice(["211302", "211303", "211381", None]),
                industry=rng.choice(["F", "I", "C", None]),
                est=est.isoformat(),
                dereg=dereg.isoformat() if dereg else None,
            )
        )
        for _ in range(rng.randrange(1, 4)):
            kind = rng.choice(["legal_rep", "shareholder", "officer", "address", "phone", "shareholder"])
            key = {
                "address": f"朝阳市双塔区路{rng.randrange(8)}号",
                "phone": f"1390000{rng.randrange(10):04d}",
            }.get(kind, rng.choice([f"id:p{rng.randrange(25)}", f"name:人{rng.randrange(5)}@ctx"]))
            if kind == "shareholder" and rng.random() < 0.2:
                key = f"org:R{rng.randrange(60):02d}"
            since = est if rng.random() < 0.8 else None
            until = day(900, 1900) if rng.random() < 0.3 else None
            ties.append(
                (
                    f"R{i:02d}",
                    kind,
                    key,
                    key,
                    since,
                    until if until is None or since is None or until > since else None,
                )
            )
        for _ in range(rng.choice([0, 0, 1, 2])):
            kind = rng.choice(
                ["penalty", "abnormal_list", "dishonest_debtor", "revoked", "serious_violation"]
            )
            end = day(1200, 1900) if kind.endswith("list") and rng.random() < 0.5 else None
            events.append((f"R{i:02d}", kind, day(0, 1700), end))
    return ents, ties, events


def test_snapshots_equal_the_graph_built_on_each_date(spark: Any) -> None:
    ents, ties, events = _random_city(11)
    entities = spark.createDataFrame(ents, ENTITY_SCHEMA)
    attributes = spark.createDataFrame(ties, ATTRIBUTE_SCHEMA)
    risk = spark.createDataFrame(events, EVENT_SCHEMA)
    days = [date(2022, 9, 30), date(2023, 12, 31), AS_OF]
    snaps = graph_snapshots(entities, attributes, risk, days, AS_OF, SETTINGS).toPandas()
    snaps = snaps.set_index(["snapshot_date", "entity_id"]).sort_index()
    checked = [f for f in GRAPH_FEATURES if f != "graph_is_phoenix"]  # phoenix: approximated, see module doc
    assert snaps["graph_component_size"].max() > 2 and snaps["graph_n_hub_links"].max() > 0
    assert snaps["graph_propagated_risk"].max() > 0 and snaps["graph_in_ring"].max() == 1
    for day in days[:2]:
        g = related_party_graph(entities, attributes, risk, day, SETTINGS)
        want = g.features.toPandas().set_index("entity_id").sort_index()[checked]
        g.unpersist()
        got = snaps.loc[day].sort_index()[checked]
        pd.testing.assert_frame_equal(got, want, check_dtype=False, atol=1e-7)
