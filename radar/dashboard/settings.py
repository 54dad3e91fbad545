"""Dashboard settings (conf/dashboard.yaml), validated at load like the rest of conf/.

A bad value stops with one message naming the file and the key, e.g.
``conf/dashboard.yaml: roles.analyst.personal_data: Input should be 'full' or 'masked'``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from radar.config import conf_dir, load_yaml
from radar.errors import ConfigError
from radar.store.models import ROLES

SETTINGS_FILE = "dashboard.yaml"
PageName = Literal["overview", "alerts", "entity", "plans", "quality", "models", "features", "review"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSettings(_Strict):
    """What one role sees and may do."""

    label: str
    pages: list[PageName] = Field(min_length=1)
    alert_actions: bool
    personal_data: Literal["full", "masked"]

    @field_validator("pages")
    @classmethod
    def _pages_once(cls, v: list[str]) -> list[str]:
        twice = sorted({p for p in v if v.count(p) > 1})
        if twice:
            raise ValueError(f"pages listed more than once: {', '.join(twice)}")
        return v


class MaskingSettings(_Strict):
    """Where personal data sits, and whether free text is scanned for ID and phone numbers."""

    name_columns: list[str]
    id_columns: list[str]
    phone_columns: list[str]
    name_keys: list[str]
    id_keys: list[str]
    phone_keys: list[str]
    typed_label_key: str = "label"
    typed_label_kinds: dict[str, Literal["name", "id", "phone"]] = Field(default_factory=dict)
    scan_text: bool = True


class PageSettings(_Strict):
    """Limits that keep pages quick."""

    alerts_limit: int = Field(2000, ge=10)
    search_limit: int = Field(50, ge=1)
    table_rows: int = Field(500, ge=10)


class DashboardSettings(_Strict):
    """Everything conf/dashboard.yaml holds."""

    timezone: str = "Asia/Shanghai"
    session_timeout_minutes: int = Field(30, ge=1)
    districts: dict[str, str]
    roles: dict[str, RoleSettings]
    masking: MaskingSettings
    pages: PageSettings = PageSettings()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)") from None
        return v

    @field_validator("districts")
    @classmethod
    def _six_digit_codes(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if not (len(k) == 6 and k.isdigit())]
        if bad:
            raise ValueError(f"district codes must have 6 digits (quote them in YAML): {', '.join(bad)}")
        return v

    @model_validator(mode="after")
    def _every_role_described(self) -> DashboardSettings:
        missing = [r for r in ROLES if r not in self.roles]
        unknown = [r for r in self.roles if r not in ROLES]
        if missing or unknown:
            parts = []
            if missing:
                parts.append(f"missing roles: {', '.join(missing)}")
            if unknown:
                parts.append(f"unknown roles: {', '.join(unknown)} (the store knows {', '.join(ROLES)})")
            raise ValueError("; ".join(parts))
        return self

    def district_name(self, code: str | None) -> str:
        """The Chinese name of a district code (the code itself when unknown)."""
        if not code:
            return "未知辖区"
        return self.districts.get(str(code), str(code))


@cache
def dashboard_settings(directory: Path | None = None) -> DashboardSettings:
    """The dashboard settings (conf/dashboard.yaml)."""
    path = (directory or conf_dir()) / SETTINGS_FILE
    try:
        return DashboardSettings.model_validate(load_yaml(path))
    except ValidationError as e:
        lines = []
        for err in e.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"{path}: {key}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
