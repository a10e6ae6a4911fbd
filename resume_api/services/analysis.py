"""Keyword extraction, match index, and gap analysis: the service's analysis routes."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from resume_api import llm
from resume_api.envelope import ApiError
from resume_api.prompts import load_prompt
from resume_api.resources import ResourceManager
from resume_api.schemas import GapAnalysisRequest, IndexRequest, KeywordsRequest
from resume_api.services.text import (
    cosine,
    keyword_present,
    plain_text,
    similarity_score,
    split_keywords,
)

_GAP_SECTIONS = (
    ("strengths", "CoreStrengths"),
    ("key_gaps", "KeyGaps"),
    ("quick_improvements", "QuickImprovements"),
    ("overall_assessment", "OverallAssessment"),
    ("skill_development_priorities", "SkillSearchQueries"),
)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def extract_keywords(resources: ResourceManager, body: KeywordsRequest) -> dict[str, Any]:
    """Two completions of the same prompt with different seeds; keep what both agree on."""
    started = time.perf_counter()
    prompt = load_prompt("keyword-extraction")
    messages = prompt.messages(
        language=body.language, max_keywords=body.max_keywords, job_description=body.job_description
    )
    deployment = resources.settings.chat_deployment
    first, second = await asyncio.gather(
        *(llm.chat(resources, deployment, messages, json_mode=True, seed=seed) for seed in (1, 2))
    )
    answers = [llm.parse_json_answer(result, "keyword extraction") for result in (first, second)]
    lists = [split_keywords(answer.get("keywords") or []) for answer in answers]
    second_lower = {keyword.lower() for keyword in lists[1]}
    agreed = [keyword for keyword in lists[0] if keyword.lower() in second_lower]
    if len(agreed) < 3:  # too little agreement: fall back to the first answer, as the service does
        agreed = lists[0]
    keywords = agreed[: body.max_keywords]
    if not keywords:
        raise ApiError(
            503, "EXTERNAL_SERVICE_UNAVAILABLE", "keyword extraction returned no keywords"
        )
    return {
        "keywords": keywords,
        "keyword_count": len(keywords),
        "confidence": float(answers[0].get("confidence", 0.0) or 0.0),
        "detected_language": str(answers[0].get("detected_language", "en")),
        "extraction_method": "2_round_intersection",
        "round1_count": len(lists[0]),
        "round2_count": len(lists[1]),
        "intersection_count": len(agreed),
        "prompt_version": prompt.version,
        "processing_time_ms": _elapsed_ms(started),
        "tokens_used": first.total_tokens + second.total_tokens,
    }


def keyword_coverage(text: str, keywords: list[str]) -> dict[str, Any]:
    lowered = plain_text(text).lower()
    covered = [keyword for keyword in keywords if keyword_present(keyword, lowered)]
    missed = [keyword for keyword in keywords if keyword not in covered]
    return {
        "total_keywords": len(keywords),
        "covered_count": len(covered),
        "coverage_percentage": round(100.0 * len(covered) / len(keywords), 1) if keywords else 0.0,
        "covered_keywords": covered,
        "missed_keywords": missed,
    }


async def similarity(resources: ResourceManager, first: str, second: str) -> dict[str, float]:
    vectors = await llm.embeddings(resources, [plain_text(first), plain_text(second)])
    raw = cosine(vectors[0], vectors[1])
    return {
        "raw_similarity_percentage": round(raw * 100.0, 2),
        "similarity_percentage": round(similarity_score(raw), 2),
    }


async def index_calculation(resources: ResourceManager, body: IndexRequest) -> dict[str, Any]:
    started = time.perf_counter()
    keywords = split_keywords(body.keywords)
    scores = await similarity(resources, body.resume, body.job_description)
    return {
        **scores,
        "keyword_coverage": keyword_coverage(body.resume, keywords),
        "processing_time_ms": _elapsed_ms(started),
    }


def _section(text: str, tag: str) -> str:
    match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
    return match.group(1).strip() if match else ""


def parse_gap_analysis(text: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for tag, field in _GAP_SECTIONS:
        body = _section(text, tag)
        lines = [line.strip().removeprefix("- ").strip() for line in body.splitlines()]
        lines = [line for line in lines if line]
        if tag == "overall_assessment":
            result[field] = " ".join(lines)
        elif tag == "skill_development_priorities":
            skills = []
            for line in lines:
                parts = line.split("::")
                if len(parts) == 4 and parts[0].startswith("SKILL_"):
                    skills.append(
                        {
                            "skill_name": parts[1],
                            "skill_category": parts[2],
                            "description": parts[3],
                        }
                    )
            result[field] = skills
        else:
            result[field] = lines
    if not any(result[field] for _, field in _GAP_SECTIONS[:4]):
        raise ApiError(503, "EXTERNAL_SERVICE_UNAVAILABLE", "gap analysis answer has no sections")
    return result


async def gap_analysis(resources: ResourceManager, body: GapAnalysisRequest) -> dict[str, Any]:
    """Index first (the gap prompt needs its figures), then gap and structure chats together."""
    started = time.perf_counter()
    keywords = split_keywords(body.keywords)
    scores = await similarity(resources, body.resume, body.job_description)
    coverage = keyword_coverage(body.resume, keywords)
    gap_messages = load_prompt("gap-analysis").messages(
        language=body.language,
        similarity_score=scores["similarity_percentage"],
        covered_keywords=", ".join(coverage["covered_keywords"]),
        missed_keywords=", ".join(coverage["missed_keywords"]),
        job_description=body.job_description,
        resume=body.resume,
    )
    structure_messages = load_prompt("resume-structure").messages(resume=body.resume)
    settings = resources.settings
    gap, structure = await asyncio.gather(
        llm.chat(resources, settings.chat_deployment, gap_messages, max_tokens=6000),
        llm.chat(resources, settings.mini_deployment, structure_messages, json_mode=True),
    )
    return {
        **scores,
        "keyword_coverage": coverage,
        "gap_analysis": parse_gap_analysis(gap.content),
        "resume_structure": llm.parse_json_answer(structure, "resume structure"),
        "processing_time_ms": _elapsed_ms(started),
        "tokens_used": gap.total_tokens + structure.total_tokens,
    }
