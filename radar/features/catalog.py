"""The feature catalog as documentation: rows for the lake (``features/catalog``) and a Markdown page.

Both are generated from conf/features.yaml (and the tag vocabulary of conf/policy.yaml), so the page the
README links to, the dashboard's catalog view and the features the model sees never disagree.
``radar features catalog --out FILE.md`` writes the page.
"""

from __future__ import annotations

from radar.config import FeatureCatalog, FeatureDef, FeaturePolicy

_REPORT_FIELDS = {
    "staff_count": "staff (从业人数)", "revenue_yuan": "revenue (营业总收入, yuan)",
    "tax_yuan": "tax (纳税总额, yuan)", "assets_yuan": "assets (资产总额, yuan)",
}


def _events(events: list[str], tags: list[str]) -> str:
    ev = "/".join(events) or "any"
    return f"{ev} tagged {'/'.join(tags)}" if tags else ev


def describe(f: FeatureDef, policy: FeaturePolicy | None = None) -> str:
    """A one-line English definition of a feature, generated from its declaration."""
    ev = _events(f.events, f.tags)
    w = f"in the {f.window_days} days up to T" if f.window_days else "up to T"
    k = f.kind
    if k == "annual_report":
        due = policy.annual_report_due if policy else "06-30"
        m = f.measure
        field = _REPORT_FIELDS.get(f.field or "", f.field or "")
        return {
            "missing": f"annual reports of the last {f.years} report year(s) due by T (deadline {due} of the next "
                       f"year) that were not filed by T, for an entity registered by the end of that year",
            "late": f"of the last {f.years} report year(s) due by T, reports filed by T after the deadline ({due})",
            "pending": f"1 if T lies in the filing window (1 Jan - {due}) and last year's report is not filed yet",
            "value": f"{'log(1 + ' if f.log else ''}{field}{')' if f.log else ''} in the latest annual report "
                     f"filed by T (empty if none or not published)",
            "zero": f"1 if the latest annual report filed by T shows {field} = 0",
            "shell_screen": (
                "1 if registered capital >= "
                f"{(policy.shell_screen_min_capital_yuan if policy else 1e8):,.0f} yuan and the latest annual "
                "report filed by T shows no tax, revenue below "
                f"{(policy.shell_screen_max_revenue_yuan if policy else 1e6):,.0f} yuan or no staff "
                "(Shandong shell screen)"
            ),
        }[m or "value"]
    return {
        "count": f"number of {ev} events {w}, known by T, still counting at T (not repaired, publicity not ended)",
        "ever": f"number of {ev} events up to T, known by T, still counting at T",
        "amount": f"sum of amounts (yuan) of {ev} events {w}, known by T, still counting at T",
        "current": f"1 if a {ev} record is in force at T (not removed, expired or repaired), else 0",
        "current_amount": f"sum of amounts (yuan) of the {ev} records in force at T",
        "days_since": f"days from the latest {ev} event to T, known and counting at T (empty if none)",
        "trend": f"({ev} in the last {f.window_days} days + 1) / (their rate over the {f.base_days} days before, "
                 f"scaled to {f.window_days} days, + 1)",
        "share": f"{ev} events / {_events(f.of_events, f.of_tags)} events {w} (0 when there are none)",
        "attribute": {
            "age_years": "years from the establishment date (成立日期) to T",
            "log_capital": "log(1 + registered capital in yuan at T): the registry's 注册资本, or the amount "
                           "before the first capital change after T",
            "entity_class": "entity class code: 0 enterprise, 1 individual business, 2 cooperative, 3 other",
            "industry_section": "GB/T 4754 industry section, coded A=0, B=1, ... (empty when unknown)",
            "district": "district of the registered address, coded in the order of the city's districts",
            "address_entity_count": "entities registered at the entity's address at T (itself included)",
            "shared_address": (
                f"1 if at least {policy.shell_address_min_entities if policy else 10} entities are registered "
                "at the entity's address at T (Shandong screen)"
            ),
            "is_new_entity": f"1 if registered less than {policy.new_entity_days if policy else 365} days before T",
        }.get(f.attribute or "", f"registry attribute: {f.attribute}"),
        "related": (
            f"{'share' if f.share else 'number'} of related entities (shared legal rep, shareholder, officer, "
            f"address or phone; hubs excluded)" + (f" with {ev} events {w}" if f.events else "")
        ),
        "cell_trend": f"the {' x '.join(f.cell)} cell's {ev} events in the last {f.window_days} days + 1, against "
                      f"its rate over the {f.base_days} days before (scaled, + 1), over the cell's entities at T",
        "when_new": f"the value of {f.of} for entities registered less than "
                    f"{policy.new_entity_days if policy else 365} days before T, else 0",
        "external": f"built by another stage (lake table {f.table}) and joined by the train and score jobs",
    }[k]


def catalog_rows(catalog: FeatureCatalog, policy: FeaturePolicy | None = None) -> list[dict[str, object]]:
    """The feature catalog as rows (name, dimension, label, kind, definition, window, events, tags, sources)."""
    rows = []
    for f in catalog.features:
        rows.append(
            {
                "name": f.name,
                "dimension": f.dimension,
                "dimension_label": catalog.dimensions[f.dimension],
                "label": f.label,
                "kind": f.kind,
                "definition": describe(f, policy),
                "window_days": f.window_days,
                "events": ", ".join(f.events),
                "tags": ", ".join(f.tags),
                "sources": ", ".join(f.sources),
            }
        )
    return rows


def _cell(v: object) -> str:
    return str(v if v is not None else "").replace("|", "\\|").replace("\n", " ")


def catalog_markdown(catalog: FeatureCatalog, policy: FeaturePolicy) -> str:
    """The catalog as a Markdown page: the rules every feature follows, one table per dimension, the tags."""
    rows = catalog_rows(catalog, policy)
    out = [
        "# 特征目录 (feature catalog)",
        "",
        "Generated from `conf/features.yaml` and `conf/policy.yaml` by `radar features catalog`; do not edit.",
        f"{len(rows)} features in {len(catalog.dimensions)} dimensions, modelled on SAMR's enterprise credit-risk "
        "classification (企业信用风险分类: 基础属性, 动态信息, 监管信息, 关联关系, 社会评价).",
        "",
        "Every feature of an entity at a snapshot date T:",
        "",
        "- uses only what was known by T: an event counts from the later of its date and the day it was known "
        "(publication, filing, case closure);",
        "- stops counting a record from its repair date (信用修复: publication and use stop)"
        + (", and from the end of its publicity (公示截止期) for "
           + ", ".join(policy.publicity_end_stops_counting) if policy.publicity_end_stops_counting else "")
        + ";",
        "- never counts a record retracted after an objection (异议 撤销), at any date;",
        f"- is built for {policy.snapshot_months} monthly snapshots in one Spark pass (radar.features.snapshots).",
        "",
    ]
    for dim, dim_label in catalog.dimensions.items():
        mine = [r for r in rows if r["dimension"] == dim]
        if not mine:
            continue
        out += [f"## {dim_label} ({dim})", "", "| feature | 名称 | definition | window | events (tags) | sources |",
                "|---|---|---|---|---|---|"]
        for r in mine:
            ev = str(r["events"]) + (f" ({r['tags']})" if r["tags"] else "")
            win = f"{r['window_days']} d" if r["window_days"] else ""
            out.append(
                f"| `{r['name']}` | {_cell(r['label'])} | {_cell(r['definition'])} | {win} | {_cell(ev)} "
                f"| {_cell(r['sources'])} |"
            )
        out.append("")
    tags = {
        **{t: f"处罚类别 {'、'.join(w)}" for t, w in policy.penalty_category_tags.items()},
        "large_amount": "罚没金额 >= " + ", ".join(f"{k} {v:,.0f}" for k, v in policy.large_penalty_yuan.items()),
        "severe": "处罚类别 " + "/".join(policy.severe_penalty_tags) + " or large_amount",
        **{t: f"指标名称 {'、'.join(w)}" for t, w in policy.signal_tags.items()},
        **{f"{t} (spot check)": f"检查结果 {'、'.join(w)}" for t, w in policy.spot_check_result_tags.items()},
        **{f"{t} (abnormal list)": f"列入原因 {'、'.join(w)}" for t, w in policy.abnormal_reason_tags.items()},
        "capital_cut": "注册资本变更 to a smaller amount",
        "capital_increase": f"注册资本变更 to at least {policy.capital_increase_ratio:g} times the amount",
        "late": f"annual report filed after {policy.annual_report_due} of the next year",
    }
    out += ["## Tags", "", "Events carry tags that features count by (conf/policy.yaml `features`).", "",
            "| tag | meaning |", "|---|---|"]
    out += [f"| `{t}` | {_cell(m)} |" for t, m in tags.items()]
    outcomes = "; ".join(f"{'、'.join(r.keywords)} -> {r.event or '(none)'}" for r in policy.complaint_outcomes)
    out += ["", f"12315 outcomes (处理结果, first rule wins): {outcomes}.", ""]
    return "\n".join(out)
