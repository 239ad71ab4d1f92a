"""Schemas of the per-run YAML configs in `configs/`; validated before any pipeline starts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EtlParameters(_Strict):
    user_full_name: str = Field(min_length=1)
    links: list[str] = Field(default_factory=list)
    exports: list[str] = Field(default_factory=list)
    crawler_options: dict[str, dict] = Field(default_factory=dict)
    domain_map: dict[str, str] = Field(default_factory=dict)

    @field_validator("user_full_name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class EtlRunConfig(_Strict):
    """`configs/digital_data_etl_*.yaml`: one per person."""

    parameters: EtlParameters
    settings: dict | None = None
    enable_cache: bool | None = None
    run_name: str | None = None
