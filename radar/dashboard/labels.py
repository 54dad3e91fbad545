"""Chinese labels for the codes the dashboard shows (identifiers stay English in code and data)."""

from __future__ import annotations

from functools import cache

from radar.errors import RadarError
from radar.reference import industry_sections
from radar.store import OUTCOME_LABELS, STATUS_LABELS

GRADES = ("A", "B", "C", "D")
GRADE_LABELS = {"A": "A 信用风险低", "B": "B 信用风险一般", "C": "C 信用风险较高", "D": "D 信用风险高"}
GRADE_COLORS = {"A": "#2e7d32", "B": "#1565c0", "C": "#ef6c00", "D": "#c62828"}

SEVERITY_LABELS = {"high": "高", "medium": "中", "low": "低"}
SEVERITY_ORDER = ("high", "medium", "low")

RULE_LABELS = {
    "grade_d": "评为D级",
    "grade_up": "风险等级上升",
    "complaint_surge": "投诉激增",
    "new_listing": "新列入名单",
}

ACTION_LABELS = {
    "created": "生成预警",
    "reraised": "再次触发",
    "assigned": "指派",
    "status": "状态变更",
    "outcome": "处理结论",
    "note": "备注",
}

FLAG_LABELS = {
    "phoenix": "换壳重生（关联人员新设主体）",
    "ring": "关联团伙",
    "shell_address": "集中注册地址",
    "cross_region": "跨区域关联",
    "cross_industry": "跨行业关联",
}

# record types not in conf/sources.yaml (that file's labels win)
_EXTRA_SOURCE_LABELS = {"registration": "登记信息", "annual_report": "年报", "licence": "行政许可"}


@cache
def _source_labels() -> dict[str, str]:
    try:
        from radar.config import sources

        return {name: rt.label for name, rt in sources().record_types.items()}
    except RadarError:
        return {}


def source_label(source_type: str | None) -> str:
    """The Chinese name of a record type (penalty -> 行政处罚), from conf/sources.yaml."""
    if source_type is None:
        return "—"
    return _source_labels().get(source_type) or _EXTRA_SOURCE_LABELS.get(source_type, source_type)


# GB/T 4754-2017 sections, from the shipped reference table
INDUSTRY_SECTIONS = industry_sections()


def industry_label(section: str | None) -> str:
    """F -> F 批发和零售业."""
    if not section:
        return "—"
    name = INDUSTRY_SECTIONS.get(str(section))
    return f"{section} {name}" if name else str(section)


MODEL_ACTION_LABELS = {
    "registered": "登记",
    "promoted": "上线（冠军）",
    "refused": "未通过准入",
    "rollback": "回滚",
}

ROLE_LABELS_FALLBACK = {
    "admin": "系统管理员",
    "supervisor": "监管人员",
    "planner": "抽查计划人员",
    "analyst": "数据分析人员",
}

DQ_COLUMNS = {
    "source": "来源",
    "source_file": "来源文件",
    "record_type": "记录类型",
    "rows_in": "读入行数",
    "accepted": "接收行数",
    "quarantined": "隔离行数",
    "invalid_uscc_rate": "信用代码无效率",
    "missing_uscc_rate": "信用代码缺失率",
    "duplicate_rate": "重复率",
    "unknown_columns": "未识别列",
    "late_publication": "逾期公示",
}


def label(mapping: dict[str, str], code: object) -> str:
    """The Chinese label of a code, or the code itself when it has none."""
    if code is None:
        return "—"
    return mapping.get(str(code), str(code))


__all__ = [
    "ACTION_LABELS",
    "DQ_COLUMNS",
    "FLAG_LABELS",
    "GRADES",
    "GRADE_COLORS",
    "GRADE_LABELS",
    "INDUSTRY_SECTIONS",
    "MODEL_ACTION_LABELS",
    "OUTCOME_LABELS",
    "ROLE_LABELS_FALLBACK",
    "RULE_LABELS",
    "SEVERITY_LABELS",
    "SEVERITY_ORDER",
    "STATUS_LABELS",
    "industry_label",
    "label",
    "source_label",
]
