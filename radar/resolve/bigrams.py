"""Blocking by shared name bigrams as a sparse-matrix product (the ``name`` block of
:func:`radar.resolve.match.candidate_pairs`).

A record's name core is compared with every entity name that shares one of its rarer character bigrams: the
score of an entity is the share of the core's bigram weight (inverse document frequency over entities) that
the entity's names hold. Written as a join in Spark, the record bigrams against the entity bigrams make one
row per shared bigram (tens of millions at city scale) that are shuffled and summed. Here the entities'
bigrams are one sparse matrix (entity x bigram), broadcast once; a batch of record cores is another (core x
bigram, weighted), and their product holds every score at once (scipy, in C), so nothing is shuffled.

The top ``k`` entities of a core by score, ties broken by the edit distance of the entity's closest name and
then by entity id, are :func:`closest`. The same as :func:`radar.resolve.match.top_names` over the join
(kept for entity name tables too large to broadcast; ``resolve.blocking.broadcast_max_names``). Scores are
rounded to nine decimals before they are ranked, so that equal bigram sets tie whatever order their weights
were summed in.

No library computes this top-k of a weighted bigram overlap with an edit-distance tie-break: scipy does the
product, rapidfuzz the edit distances, numpy the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from scipy import sparse


def grams_of(text: str) -> list[str]:
    """Distinct character bigrams of a text in order of first appearance (the text itself when shorter than
    three characters), as :func:`radar.resolve.match.grams` computes them in Spark."""
    if len(text) <= 2:
        return [text]
    return list(dict.fromkeys(text[i : i + 2] for i in range(len(text) - 1)))


@dataclass(frozen=True)
class NameIndex:
    """The entities' names by bigram: ``eids`` sorted (their order breaks the last ties), ``vocab`` the bigrams
    rare enough to block on (at most ``max_bigram_entities`` entities hold them) with their ``idf``,
    ``grams_t`` (bigram x entity, 1 where one of the entity's names holds the bigram) and each entity's name
    cores (``names[name_ptr[i]:name_ptr[i + 1]]``, for the edit-distance tie-break)."""

    eids: np.ndarray
    vocab: dict[str, int]
    idf: np.ndarray
    grams_t: sparse.csr_matrix
    name_ptr: np.ndarray
    names: list[str]


def build_index(names: pd.DataFrame, n_entities: int, max_bigram_entities: int) -> NameIndex:
    """The index of ``names`` (eid, v_core: one row per entity name; ``n_entities`` entities in all, named or
    not, the document count of the inverse document frequency)."""
    names = names.dropna(subset=["v_core"]).drop_duplicates(["eid", "v_core"]).sort_values(["eid", "v_core"])
    eids, ent_of_name = np.unique(names["eid"].to_numpy(dtype=object), return_inverse=True)
    cores = names["v_core"].astype(str).tolist()
    name_ptr = np.searchsorted(ent_of_name, np.arange(len(eids) + 1)).astype(np.int64)
    # (entity, bigram) once each: an entity with the bigram in two names counts once
    all_vocab: dict[str, int] = {}
    ent_idx: list[int] = []
    gram_idx: list[int] = []
    for e, core in zip(ent_of_name.tolist(), cores, strict=True):
        for g in grams_of(core):
            ent_idx.append(e)
            gram_idx.append(all_vocab.setdefault(g, len(all_vocab)))
    pairs = np.unique(np.array([ent_idx, gram_idx], dtype=np.int64).reshape(2, -1), axis=1)
    df = np.bincount(pairs[1], minlength=len(all_vocab))
    kept = df <= max_bigram_entities
    new_id = np.full(len(all_vocab), -1, dtype=np.int64)
    new_id[kept] = np.arange(int(kept.sum()))
    vocab = {g: int(new_id[i]) for g, i in all_vocab.items() if kept[i]}
    idf = np.log(max(n_entities, 1) / df[kept].astype(float)) if kept.any() else np.zeros(0)
    keep_pair = kept[pairs[1]]
    grams_t = sparse.csr_matrix(
        (np.ones(int(keep_pair.sum())), (new_id[pairs[1][keep_pair]], pairs[0][keep_pair])),
        shape=(len(vocab), len(eids)),
    )
    return NameIndex(eids, vocab, idf, grams_t, name_ptr, cores)


def closest(index: NameIndex, cores: list[str], k: int, min_score: float) -> pd.DataFrame:
    """(r_core, eid): for each of ``cores``, the ``k`` entities whose names hold the largest share of the
    core's bigram weight (at least ``min_score``), ties broken by the edit distance of the entity's closest
    name, then by entity id. Among equal scores all those ranked within the first ``k`` contend."""
    empty = pd.DataFrame({"r_core": pd.Series([], dtype=object), "eid": pd.Series([], dtype=object)})
    if not cores or not index.vocab:
        return empty
    rows: list[int] = []
    cols: list[int] = []
    for r, core in enumerate(cores):
        for g in grams_of(core):
            j = index.vocab.get(g)
            if j is not None:
                rows.append(r)
                cols.append(j)
    if not rows:
        return empty
    rr, cc = np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
    weights = index.idf[cc]
    query = sparse.csr_matrix((weights, (rr, cc)), shape=(len(cores), len(index.vocab)))
    total = np.bincount(rr, weights=weights, minlength=len(cores))
    product = (query @ index.grams_t).tocoo()
    row, col = product.row.astype(np.int64), product.col.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.round(product.data / total[row], 9)
    ok = np.isfinite(score) & (score >= min_score)
    row, col, score = row[ok], col[ok], score[ok]
    if not len(row):
        return empty
    # rank with ties within each core (1 + how many score higher): the first k ranks contend
    order = np.lexsort((col, -score, row))
    row, col, score = row[order], col[order], score[order]
    pos = np.arange(len(row))
    new_row = np.r_[True, row[1:] != row[:-1]]
    new_score = new_row | np.r_[True, score[1:] != score[:-1]]
    row_start = np.maximum.accumulate(np.where(new_row, pos, 0))
    score_start = np.maximum.accumulate(np.where(new_score, pos, 0))
    contend = score_start - row_start < k
    row, col, score = row[contend], col[contend], score[contend]
    # the closest name of each contender
    n_names = index.name_ptr[col + 1] - index.name_ptr[col]
    first = np.repeat(index.name_ptr[col], n_names)
    offset = np.arange(int(n_names.sum())) - np.repeat(np.cumsum(n_names) - n_names, n_names)
    name_at = first + offset
    left = [cores[i] for i in np.repeat(row, n_names).tolist()]
    right = [index.names[i] for i in name_at.tolist()]
    dist = process.cpdist(left, right, scorer=Levenshtein.distance, workers=1)
    starts = np.cumsum(n_names) - n_names
    nearest = np.minimum.reduceat(np.asarray(dist, dtype=np.int64), starts)
    order = np.lexsort((col, nearest, -score, row))
    row, col = row[order], col[order]
    pos = np.arange(len(row))
    new_row = np.r_[True, row[1:] != row[:-1]]
    keep = pos - np.maximum.accumulate(np.where(new_row, pos, 0)) < k
    return pd.DataFrame({
        "r_core": np.array(cores, dtype=object)[row[keep]],
        "eid": index.eids[col[keep]],
    })
