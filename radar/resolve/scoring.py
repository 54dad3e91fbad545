"""Scoring each record's candidates where the comparison computed them, in pandas.

:func:`radar.resolve.match.compare` computes the features of all candidates of a record at once, in
``mapInPandas``. The fitted models then score those candidates in the same Python call
(:meth:`PairScoring.best`): the first stage's log-odds, the record's rivals (:func:`radar.resolve.compare.rivals`),
the second stage's probability (gradient-boosted trees or the logistic second stage), and the record's best
candidate with how sure it is against the others. Only the best candidate of each record leaves Python.

Scored in Spark instead, the features of every candidate (four million at city scale) were kept, joined to their
records again, ranked by window functions twice and shipped to the trees in a pandas UDF and back, which loses
Spark's partitioning, so they were shuffled once more to find each record's best.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from radar.resolve.compare import FEATURE_LABELS, FEATURES, RIVAL_FEATURES, rivals
from radar.resolve.model import GbmModel, MatchModel

# what a record's best candidate carries out of the comparison (see ``PairScoring.best``)
BEST_SCHEMA = (
    "rid string, eid string, evidence string, addr_exact double, addr_key double, ties bigint, p double, "
    "owner_ok boolean"
)


@dataclass(frozen=True)
class PairScoring:
    """The fitted match models and the policy that turn a record's candidates into its best candidate.

    ``model``: the first stage; ``second``: the logistic second stage (its weights give the reasons; None
    without a second stage); ``gbm``: the gradient-boosted second stage, which gives the probability when
    present; ``cap``/``gap``: ``second_stage.logit_cap`` and ``close_gap``; ``accept``/``review``: the
    match thresholds; ``tie_margin``: how close to the best a candidate ties with it."""

    model: MatchModel
    second: MatchModel | None
    gbm: GbmModel | None
    cap: float
    gap: float
    accept: float
    review: float
    tie_margin: float

    def probabilities(self, f: pd.DataFrame) -> pd.DataFrame:
        """``f`` (the features of every candidate of whole records, with the record's ``code_owner`` and
        ``uscc_status`` and the candidate's ``e_trusted_code``) with the second-stage features and ``p``.

        A record with a valid code nobody in the registry holds is another entity than a candidate with a
        trusted code: such a candidate is nobody's rival (its first-stage log-odds are ``-cap``) and gets 0."""
        trusted = f["e_trusted_code"].fillna(False).astype(bool).to_numpy()
        conflict = ((f["uscc_status"] == "valid").to_numpy() & f["code_owner"].isna().to_numpy() & trusted)
        if self.second is None:
            s = f.copy()
            p = _expit(row_logit(self.model, f))
        else:
            s = rivals(f, np.where(conflict, -self.cap, row_logit(self.model, f)), self.cap, self.gap)
            p = self.gbm.predict_proba(s) if self.gbm is not None else _expit(row_logit(self.second, s))
        s["p"] = np.where(conflict, 0.0, p)
        return s

    def pairs(self, f: pd.DataFrame) -> pd.DataFrame:
        """Every candidate of ``f`` scored (:meth:`probabilities`) with its reasons, in :meth:`pairs_schema`."""
        s = self.probabilities(f)
        s["evidence"] = self.evidence(s)
        return s[[c.split()[0] for c in self.pairs_schema().split(", ")]]

    def pairs_schema(self) -> str:
        """The columns of :meth:`pairs`: the pair, its features, the second stage's, ``p`` and the reasons."""
        extra = [c for c in RIVAL_FEATURES if c not in FEATURES] if self.second is not None else []
        return ", ".join(["rid string", "eid string", *[f"{c} double" for c in (*FEATURES, *extra)],
                          "code_owner string", "uscc_status string", "p double", "evidence string"])

    def best(self, f: pd.DataFrame, seconds: Any = None) -> pd.DataFrame:
        """The best candidate of each record of ``f`` (see :meth:`probabilities`; whole records only), in
        :data:`BEST_SCHEMA`: the highest probability (then the smallest entity id), its reasons, how many
        candidates come within ``tie_margin`` of it (``ties``) and its probability as the decision reads it: below
        ``accept`` when a runner-up reaches ``review`` (a question for a reviewer), at least ``accept`` when the
        record's own code names it and it reaches ``review`` (``owner_ok``). ``seconds``: a Spark accumulator
        adding up the CPU seconds of the scoring."""
        t0 = time.process_time()
        s = self.probabilities(f).sort_values(["rid", "p", "eid"], ascending=[True, False, True], kind="stable")
        s = s.reset_index(drop=True)
        rid, p = s["rid"].to_numpy(), s["p"].to_numpy(dtype=float)
        start = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]])
        size = np.diff(np.r_[start, len(s)])
        top = p[start]
        runner_up = np.where(size > 1, p[np.minimum(start + 1, len(p) - 1)], 0.0)
        ties = np.add.reduceat((p >= np.repeat(top, size) - self.tie_margin).astype(np.int64), start)
        b = s.iloc[start].reset_index(drop=True)
        p_best = np.where(runner_up >= self.review, np.minimum(top, self.accept - 1e-4), top)
        owner_ok = (b["eid"] == b["code_owner"]).to_numpy(dtype=bool) & (top >= self.review)
        out = pd.DataFrame({
            "rid": b["rid"], "eid": b["eid"], "evidence": self.evidence(b),
            "addr_exact": b["addr_exact"].astype(float), "addr_key": b["addr_key"].astype(float),
            "ties": ties, "p": np.where(owner_ok, np.maximum(p_best, self.accept), p_best), "owner_ok": owner_ok,
        })
        if seconds is not None:
            seconds.add(time.process_time() - t0)
        return out

    def evidence(self, rows: pd.DataFrame) -> list[str]:
        """Each row's reasons as JSON (Chinese labels): the first stage's four largest feature contributions,
        largest first, then the logistic second stage's two largest (its first-stage log-odds left out)."""
        parts = [_top_contributions(rows, self.model, 4)]
        if self.second is not None:
            parts.append(_top_contributions(rows, self.second, 2, skip=("first_logit",)))
        return [
            json.dumps([item for part in row for item in part], ensure_ascii=False, separators=(",", ":"))
            for row in zip(*parts, strict=True)
        ]


def row_logit(model: MatchModel, X: pd.DataFrame) -> np.ndarray:
    """The log-odds of each row of ``X`` under ``model``, summed feature by feature in the model's order from the
    intercept. Equal rows get equal log-odds: a matrix product may round them differently (rows in and out of
    its vector blocks), and a candidate one rounding ahead of its namesakes would be the best and no longer tie."""
    z = np.full(len(X), model.intercept, dtype=float)
    for f, c in zip(model.features, model.coef, strict=True):
        z = z + X[f].to_numpy(dtype=float) * c
    return z


def _expit(z: np.ndarray) -> np.ndarray:
    """The logistic function (P(match) of log-odds ``z``)."""
    return 1.0 / (1.0 + np.exp(-z))


def _top_contributions(
    rows: pd.DataFrame, model: MatchModel, top: int, skip: tuple[str, ...] = ()
) -> list[list[dict[str, Any]]]:
    """The ``top`` largest non-zero contributions (feature value times weight, to three decimals, halves away
    from zero) of each row under ``model``, largest first (equal ones in the model's order of features)."""
    used = [(f, c) for f, c in zip(model.features, model.coef, strict=True) if c != 0 and f not in skip]
    if not used:
        return [[] for _ in range(len(rows))]
    x = np.nan_to_num(rows[[f for f, _ in used]].to_numpy(dtype=float) * np.array([c for _, c in used]), nan=0.0)
    x = np.sign(x) * np.floor(np.abs(x) * 1000 + 0.5) / 1000
    order = np.argsort(-np.abs(x), axis=1, kind="stable")[:, :top]
    labels = [FEATURE_LABELS.get(f, f) for f, _ in used]
    out = []
    for vals, idx in zip(x, order, strict=True):
        out.append([{"label": labels[j], "contribution": float(vals[j])} for j in idx if vals[j] != 0])
    return out
