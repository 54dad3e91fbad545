"""What the ``radar plan`` commands do, so the command line stays a thin layer of options.

``radar plan``: read the scores from the lake, draw, write the CSV and its summary, publish to the lake.
``radar plan verify``: read a plan CSV, redraw it from its seed with the scores of its as-of date and the
inspector library it was drawn with, and report.
"""

from __future__ import annotations

from pathlib import Path

from radar.config import PlanPolicy, policy
from radar.errors import InputError
from radar.lake import Lake
from radar.plan.draw import Plan, Strata, draw_plan
from radar.plan.files import (
    load_inspectors,
    publish_plan,
    read_plan_csv,
    read_scores,
    write_plan_csv,
)
from radar.plan.verify import VerificationResult, published_parameter, verify_plan


def draw_and_publish(
    lake: Path | str,
    seed: int,
    out: Path | str,
    as_of: str | None = None,
    inspectors: Path | str | None = None,
    plan_id: str | None = None,
    districts: list[str] | None = None,
    industries: list[str] | None = None,
    strata: Strata = "grade",
    plan_policy: PlanPolicy | None = None,
) -> Plan:
    """Draw a plan from the lake's scores (``as_of`` or the newest) and write it to ``out``, its
    ``.summary.json`` and the lake. Without ``inspectors`` the library of the lake's last plan is used."""
    opened = Lake(lake).open()
    scores, as_of = read_scores(opened, as_of)
    library = load_inspectors(inspectors, opened)
    plan = draw_plan(
        scores,
        library,
        plan_policy or policy().plan,
        seed=seed,
        as_of=as_of,
        plan_id=plan_id,
        districts=districts,
        industries=industries,
        strata=strata,
    )
    write_plan_csv(plan, out)
    publish_plan(plan, opened)
    return plan


def verify_published(
    lake: Path | str,
    plan_csv: Path | str,
    inspectors: Path | str | None = None,
    plan_policy: PlanPolicy | None = None,
) -> VerificationResult:
    """Verify a plan CSV against the lake's scores of its as-of date and the inspector library it was
    drawn with (``inspectors`` overrides the library kept in the lake)."""
    rows = read_plan_csv(plan_csv)
    if rows.empty or "as_of" not in rows.columns:
        raise InputError(f"{plan_csv}: not a plan (no rows, or no as_of column)")
    opened = Lake(lake).open()
    scores, as_of = read_scores(opened, published_parameter(rows, "as_of"))
    library = load_inspectors(inspectors, opened, as_of)
    return verify_plan(rows, scores, library, plan_policy or policy().plan)
