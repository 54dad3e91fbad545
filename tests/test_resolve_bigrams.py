"""Blocking by shared name bigrams (radar/resolve/bigrams.py): the sparse-matrix top-k against a plain
reading of its definition, and the broadcast path against the Spark join it replaces."""

from __future__ import annotations

import math
import random
from typing import Any

import pandas as pd
from rapidfuzz.distance import Levenshtein

from radar.config import policy
from radar.resolve.bigrams import build_index, closest, grams_of

POLICY = policy().resolve
CHARS = "福满鑫源盛记便利超市粮油华兴"


def reference(names: list[tuple[str, str]], n_entities: int, max_df: int, core: str, k: int, floor: float) -> list[str]:
    """The top-k entities of ``core``, straight from the definition, one entity at a time."""
    by_entity: dict[str, set[str]] = {}
    for eid, v in names:
        by_entity.setdefault(eid, set()).add(v)
    grams = {e: {g for v in vs for g in grams_of(v)} for e, vs in by_entity.items()}
    df: dict[str, int] = {}
    for gs in grams.values():
        for g in gs:
            df[g] = df.get(g, 0) + 1
    idf = {g: math.log(n_entities / n) for g, n in df.items() if n <= max_df}
    mine = [g for g in grams_of(core) if g in idf]
    total = sum(idf[g] for g in mine)
    if not mine or total <= 0:
        return []
    scored = []
    for e, gs in grams.items():
        shared = [g for g in mine if g in gs]
        if shared:
            s = round(sum(idf[g] for g in shared) / total, 9)
            if s >= floor:
                scored.append((s, e))
    contenders = [(s, e) for s, e in scored if sum(1 for t, _ in scored if t > s) < k]
    near = {e: min(Levenshtein.distance(core, v) for v in by_entity[e]) for _, e in contenders}
    return [e for _, e in sorted(contenders, key=lambda x: (-x[0], near[x[1]], x[1]))[:k]]


def random_names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """Entity names from a small alphabet (many shared bigrams and exact ties), some entities with two names."""
    out = []
    for i in range(n):
        eid = f"e{rng.randrange(10**6):06d}x{i}"
        for _ in range(1 + (rng.random() < 0.2)):
            out.append((eid, "".join(rng.choice(CHARS) for _ in range(rng.randint(1, 6)))))
    return out


def test_closest_matches_its_definition_on_random_names() -> None:
    """Scores, the floor, ties within the first k, the edit-distance tie-break and the entity-id tie-break all
    agree with the definition, for cores with and without rare bigrams, one and two characters long."""
    rng = random.Random(11)
    for trial in range(6):
        names = random_names(rng, 120)
        n_entities = 150 + trial
        max_df, k, floor = rng.choice([(8, 3, 0.2), (30, 5, 0.1), (200, 10, 0.0)])
        index = build_index(pd.DataFrame(names, columns=["eid", "v_core"]), n_entities, max_df)
        cores = ["".join(rng.choice(CHARS) for _ in range(rng.randint(1, 6))) for _ in range(40)]
        got = closest(index, cores, k, floor)
        for core in set(cores):
            want = reference(names, n_entities, max_df, core, k, floor)
            have = got.loc[got["r_core"] == core, "eid"].tolist()
            # a core given twice is scored twice, the same way
            assert have[: len(want)] == want and len(have) == len(want) * cores.count(core), (trial, core)


def test_closest_without_rare_bigrams_or_cores_is_empty() -> None:
    """Every bigram too common to block on, or no cores: no candidates, and the frame keeps its columns."""
    names = pd.DataFrame([("e1", "福满"), ("e2", "福满超市")], columns=["eid", "v_core"])
    index = build_index(names, 2, 0)
    assert closest(index, ["福满"], 5, 0.0).empty
    assert list(closest(build_index(names, 2, 5), [], 5, 0.0).columns) == ["r_core", "eid"]


def test_broadcast_and_joined_blocking_agree(spark: Any) -> None:
    """The broadcast sparse product and the Spark join it replaces (``blocking.broadcast_max_names`` 0) pick
    the same candidates, ties and floor included."""
    from radar.resolve.match import name_candidates

    rng = random.Random(5)
    names = random_names(rng, 200)
    ents = spark.createDataFrame([(e,) for e in sorted({e for e, _ in names})] + [("unnamed",)], "entity_id string")
    nm = spark.createDataFrame(names, "eid string, v_core string")
    cores = spark.createDataFrame(
        [("".join(rng.choice(CHARS) for _ in range(rng.randint(1, 6))),) for _ in range(80)], "r_core string"
    ).distinct()

    def picked(limit: int) -> set[tuple[str, str]]:
        b = POLICY.blocking.model_copy(update={"broadcast_max_names": limit, "max_bigram_entities": 25,
                                               "name_top_k": 4, "min_name_score": 0.15})
        return {(r["r_core"], r["eid"]) for r in name_candidates(cores, nm, ents, b).collect()}

    broadcast, joined = picked(10**6), picked(0)
    assert broadcast == joined and len(broadcast) > 80
