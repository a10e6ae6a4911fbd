"""The Resume Advisor API routes; each parses its body and hands it to a service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from resume_api import __version__
from resume_api.envelope import envelope
from resume_api.resources import ResourceManager
from resume_api.schemas import (
    FormatRequest,
    GapAnalysisRequest,
    IndexRequest,
    KeywordsRequest,
    TailorRequest,
)
from resume_api.services import analysis, documents

router = APIRouter()


def _resources(request: Request) -> ResourceManager:
    manager: ResourceManager = request.app.state.resources
    return manager


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    return envelope({"status": "healthy", "version": __version__})


@router.post("/api/v1/extract-jd-keywords")
async def extract_jd_keywords(body: KeywordsRequest, request: Request) -> dict[str, Any]:
    return envelope(await analysis.extract_keywords(_resources(request), body))


@router.post("/api/v1/index-calculation")
async def index_calculation(body: IndexRequest, request: Request) -> dict[str, Any]:
    return envelope(await analysis.index_calculation(_resources(request), body))


@router.post("/api/v1/index-cal-and-gap-analysis")
async def index_cal_and_gap_analysis(body: GapAnalysisRequest, request: Request) -> dict[str, Any]:
    return envelope(await analysis.gap_analysis(_resources(request), body))


@router.post("/api/v1/format-resume")
async def format_resume(body: FormatRequest, request: Request) -> dict[str, Any]:
    return envelope(await documents.format_resume(_resources(request), body))


@router.post("/api/v1/tailor-resume")
async def tailor_resume(body: TailorRequest, request: Request) -> dict[str, Any]:
    return envelope(await documents.tailor_resume(_resources(request), body))
