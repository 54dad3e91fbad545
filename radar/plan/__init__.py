"""Inspection plans (双随机、一公开): risk-stratified random draws of entities and inspectors, verifiable by
anyone from the published seed, and unbiased estimates from their results.

Modules: ``population`` (the check-object library in a stable order), ``draw`` (entities by stratum,
the rounding rule), ``inspectors`` (assignment with recusal and balanced workload), ``verify`` (redraw
and compare), ``estimate`` (Horvitz-Thompson), ``files`` (CSV, JSON summary, lake), ``commands``
(what ``radar plan`` and ``radar plan verify`` do).
"""

from radar.plan.commands import draw_and_publish, verify_published
from radar.plan.draw import DRAW_METHOD, PLAN_COLUMNS, Plan, draw_entities, draw_plan, stratum_sample_size
from radar.plan.estimate import horvitz_thompson
from radar.plan.files import (
    INSPECTORS_TABLE,
    PLANS_TABLE,
    load_inspectors,
    publish_plan,
    read_inspectors,
    read_plan_csv,
    read_scores,
    summary_path,
    write_plan_csv,
)
from radar.plan.population import prepare_population
from radar.plan.verify import RowDifference, VerificationResult, verify_plan

__all__ = [
    "DRAW_METHOD",
    "INSPECTORS_TABLE",
    "PLANS_TABLE",
    "PLAN_COLUMNS",
    "Plan",
    "RowDifference",
    "VerificationResult",
    "draw_and_publish",
    "draw_entities",
    "draw_plan",
    "horvitz_thompson",
    "load_inspectors",
    "prepare_population",
    "publish_plan",
    "read_inspectors",
    "read_plan_csv",
    "read_scores",
    "stratum_sample_size",
    "summary_path",
    "verify_plan",
    "verify_published",
    "write_plan_csv",
]
