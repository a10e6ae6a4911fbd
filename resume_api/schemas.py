"""Request bodies; pydantic's messages name the field, and the envelope passes them on."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Language = Literal["auto", "en", "zh-TW"]


class _Body(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")


class KeywordsRequest(_Body):
    job_description: str = Field(min_length=200, max_length=20000)
    max_keywords: int = Field(default=16, ge=5, le=25)
    language: Language = "auto"


def _keyword_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class IndexRequest(_Body):
    resume: str = Field(min_length=1, max_length=50000)
    job_description: str = Field(min_length=1, max_length=20000)
    keywords: list[str] = Field(min_length=1, max_length=100)

    _split = field_validator("keywords", mode="before")(_keyword_list)


class GapAnalysisRequest(_Body):
    resume: str = Field(min_length=200, max_length=50000)
    job_description: str = Field(min_length=200, max_length=20000)
    keywords: list[str] = Field(min_length=1, max_length=100)
    language: Language = "en"

    _split = field_validator("keywords", mode="before")(_keyword_list)


class SupplementInfo(_Body):
    name: str | None = None
    email: str | None = None
    linkedin: str | None = None
    phone: str | None = None
    location: str | None = None


class FormatRequest(_Body):
    ocr_text: str = Field(min_length=100, max_length=50000)
    supplement_info: SupplementInfo | None = None


class OriginalIndex(_Body):
    covered_keywords: list[str] = Field(default_factory=list)
    missing_keywords: list[str] = Field(default_factory=list)
    similarity_percentage: float | None = Field(default=None, ge=0, le=100)

    _split = field_validator("covered_keywords", "missing_keywords", mode="before")(_keyword_list)


class TailorOptions(_Body):
    language: Language = "en"
    include_visual_markers: bool = True


class TailorRequest(_Body):
    job_description: str = Field(min_length=200, max_length=20000)
    original_resume: str = Field(min_length=100, max_length=50000)
    original_index: OriginalIndex
    options: TailorOptions = Field(default_factory=TailorOptions)
