"""Resume formatting from OCR text, and tailoring a resume to a job description."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from resume_api import llm
from resume_api.prompts import load_prompt
from resume_api.resources import ResourceManager
from resume_api.schemas import FormatRequest, TailorRequest
from resume_api.services.analysis import keyword_coverage, similarity
from resume_api.services.text import split_keywords

_FENCE = re.compile(r"^```(?:html)?\s*|\s*```$")
_DISALLOWED = re.compile(r"</?(?:html|body|head|script|style)[^>]*>", re.IGNORECASE)


def clean_html(answer: str) -> str:
    return _DISALLOWED.sub("", _FENCE.sub("", answer.strip())).strip()


async def format_resume(resources: ResourceManager, body: FormatRequest) -> dict[str, Any]:
    started = time.perf_counter()
    supplement = body.supplement_info.model_dump(exclude_none=True) if body.supplement_info else {}
    messages = load_prompt("format-resume").messages(
        ocr_text=body.ocr_text,
        supplement_info=json.dumps(supplement, ensure_ascii=False) if supplement else "",
    )
    result = await llm.chat(resources, resources.settings.chat_deployment, messages)
    return {
        "formatted_resume": clean_html(result.content),
        "tokens_used": result.total_tokens,
        "processing_time_ms": int((time.perf_counter() - started) * 1000),
    }


async def tailor_resume(resources: ResourceManager, body: TailorRequest) -> dict[str, Any]:
    """Instructions (mini) and rewrite (main) in parallel, then before/after similarity."""
    started = time.perf_counter()
    covered = split_keywords(body.original_index.covered_keywords)
    missing = split_keywords(body.original_index.missing_keywords)
    common = {
        "job_description": body.job_description,
        "original_resume": body.original_resume,
        "missed_keywords": ", ".join(missing),
    }
    instructions_messages = load_prompt("tailor-instructions").messages(
        **common, covered_keywords=", ".join(covered), options=body.options.model_dump_json()
    )
    writer_messages = load_prompt("tailor-writer").messages(**common)
    settings = resources.settings
    instructions, written = await asyncio.gather(
        llm.chat(resources, settings.mini_deployment, instructions_messages, json_mode=True),
        llm.chat(resources, settings.chat_deployment, writer_messages, max_tokens=8000),
    )
    plan = llm.parse_json_answer(instructions, "tailoring instructions")
    tailored = clean_html(written.content)
    before, after = await asyncio.gather(
        similarity(resources, body.original_resume, body.job_description),
        similarity(resources, tailored, body.job_description),
    )
    keywords = covered + [keyword for keyword in missing if keyword not in covered]
    coverage_before = keyword_coverage(body.original_resume, keywords)
    coverage_after = keyword_coverage(tailored, keywords)
    return {
        "optimized_resume": tailored,
        "applied_improvements": plan.get("instructions", []),
        "similarity": {
            "before": before["similarity_percentage"],
            "after": after["similarity_percentage"],
            "improvement": round(
                after["similarity_percentage"] - before["similarity_percentage"], 2
            ),
        },
        "coverage": {
            "before": coverage_before["coverage_percentage"],
            "after": coverage_after["coverage_percentage"],
            "newly_added": [
                keyword
                for keyword in coverage_after["covered_keywords"]
                if keyword not in coverage_before["covered_keywords"]
            ],
        },
        "tokens_used": instructions.total_tokens + written.total_tokens,
        "processing_time_ms": int((time.perf_counter() - started) * 1000),
    }
