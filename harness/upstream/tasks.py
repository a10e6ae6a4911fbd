"""Task-aware answers for the bundled service's prompts.

Its system prompts start with ``Task: <name> (prompt vX.Y.Z)``; each task has a generator that
derives a deterministic, schema-valid answer from the tagged inputs of the user message."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

_TASK = re.compile(r"^Task: ([a-z][a-z-]*)", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9+#./-]*[A-Za-z0-9+#]|[A-Za-z]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_STOP_WORDS = """a about above after all an and any are as at be been being both but by can could do
    does for from has have having he her here how if in into is it its our of on or other
    ours she should so some such than that the their them then there these they this those
    through to too under up very was we were what when where which while who will with would
    you your years year experience strong skills ability work team role including plus using
    responsibilities requirements nice preferred required must etc"""
_STOP = frozenset(_STOP_WORDS.split())


def task_of(system_text: str) -> str | None:
    match = _TASK.search(system_text)
    return match.group(1) if match else None


def tag(text: str, name: str) -> str:
    match = re.search(rf"<{name}>(.*?)</{name}>", text, re.DOTALL)
    return match.group(1).strip() if match else ""


def line_value(text: str, name: str, default: str = "") -> str:
    match = re.search(rf"^{re.escape(name)}:\s*(.*)$", text, re.MULTILINE)
    return match.group(1).strip() if match else default


def _strip_tags(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)).strip()


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def candidate_keywords(text: str) -> list[str]:
    """Capitalised or technical-looking terms, most frequent first, then first seen."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    spelled: dict[str, str] = {}
    for position, word in enumerate(_WORD.findall(text)):
        lower = word.lower()
        if lower in _STOP or len(word) < 2:
            continue
        technical = word[0].isupper() or any(c in word for c in "+#./") or word.isupper()
        if not technical:
            continue
        counts[lower] += 1
        first_seen.setdefault(lower, position)
        spelled.setdefault(lower, word)

    def distinctive(word: str) -> bool:  # FastAPI, CI/CD, AWS, Node.js: not just a capital
        return any(c in word for c in "+#./") or sum(c.isupper() for c in word) > 1

    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    strong = [w for w in ranked if counts[w] > 1 or distinctive(spelled[w])]
    weak = [w for w in ranked if w not in set(strong)]
    return [spelled[w] for w in strong + weak]


def keyword_extraction(user: str, seed: int | None, _: str) -> str:
    job = tag(user, "job_description")
    try:
        limit = max(1, int(line_value(user, "Max keywords", "16")))
    except ValueError:
        limit = 16
    candidates = candidate_keywords(job)
    chosen = candidates[:limit]
    spare = candidates[limit:]
    if seed and spare and len(chosen) > 4:
        # A different seed swaps a few of the tail keywords: two runs mostly agree.
        swaps = max(1, len(chosen) // 8)
        for i in range(swaps):
            position = len(chosen) - 1 - ((seed * 3 + i * 2) % max(1, len(chosen) // 3))
            chosen[position] = spare[(seed + i) % len(spare)]
    cjk = len(_CJK.findall(job))
    answer = {
        "keywords": chosen,
        "keyword_count": len(chosen),
        "detected_language": "zh-TW" if cjk > len(job) * 0.3 else "en",
        "confidence": round(0.7 + 0.3 * min(1.0, len(candidates) / max(limit, 1)) * 0.9, 2),
    }
    return json.dumps(answer, ensure_ascii=False)


_SECTION_TYPES = (
    ("summary", "summary"),
    ("profile", "summary"),
    ("experience", "experience"),
    ("employment", "experience"),
    ("education", "education"),
    ("skill", "skills"),
    ("project", "projects"),
    ("certific", "certifications"),
)


def _headings(resume: str) -> list[str]:
    found = re.findall(r"<h[23][^>]*>(.*?)</h[23]>", resume, re.DOTALL | re.IGNORECASE)
    if found:
        return [_strip_tags(h) for h in found]
    lines = [line.strip() for line in resume.splitlines()]
    return [line for line in lines if 2 < len(line) < 40 and (line.istitle() or line.isupper())]


def resume_structure(user: str, _seed: int | None, _: str) -> str:
    resume = tag(user, "resume")
    sections = []
    for title in _headings(resume):
        kind = next((t for key, t in _SECTION_TYPES if key in title.lower()), "other")
        sections.append({"title": title, "type": kind, "item_count": 1 + len(title) % 4})
    years = [int(y) for y in re.findall(r"\b(19[89]\d|20[0-2]\d)\b", resume)]
    text = _strip_tags(resume).lower()
    answer = {
        "sections": sections,
        "contact": {
            "has_email": "@" in text,
            "has_phone": re.search(r"\+?\d[\d\s-]{7,}", text) is not None,
            "has_linkedin": "linkedin" in text,
        },
        "metadata": {
            "total_sections": len(sections),
            "estimated_years_experience": (2026 - min(years)) if years else 0,
        },
    }
    return json.dumps(answer)


def gap_analysis(user: str, _seed: int | None, _: str) -> str:
    covered = _list(tag(user, "keywords_covered"))
    missing = _list(tag(user, "keywords_missing"))
    score = line_value(user, "Similarity score", "0")
    strengths = [
        f"- Demonstrated hands-on experience with {kw}, which the role lists as a core need."
        for kw in covered[:6]
    ] or ["- Solid general engineering background relevant to the role."]
    gaps = [
        f"- No clear evidence of {kw}; the job description expects practical experience."
        for kw in missing[:6]
    ] or ["- No major gaps against the listed keywords."]
    improvements = [
        f"- Add a bullet showing a concrete result achieved with {kw}, with a number."
        for kw in (missing or covered)[:4]
    ]
    skills = [
        f"SKILL_{i}::{kw}::{'TECHNICAL' if kw[:1].isupper() else 'NON_TECHNICAL'}::"
        f"Build a small project that uses {kw} end to end and describe its outcome."
        for i, kw in enumerate(missing[:6], start=1)
    ]
    overall = (
        f"The resume matches the role at about {score}% similarity. It covers "
        f"{len(covered)} of {len(covered) + len(missing)} key requirements; closing the gaps "
        "listed above with measurable examples would make the application markedly stronger."
    )
    return "\n".join(
        [
            "<strengths>",
            *strengths,
            "</strengths>",
            "<key_gaps>",
            *gaps,
            "</key_gaps>",
            "<quick_improvements>",
            *improvements,
            "</quick_improvements>",
            "<overall_assessment>",
            overall,
            "</overall_assessment>",
            "<skill_development_priorities>",
            *skills,
            "</skill_development_priorities>",
        ]
    )


def format_resume(user: str, _seed: int | None, _: str) -> str:
    lines = [line.strip() for line in tag(user, "ocr_text").splitlines() if line.strip()]
    if not lines:
        return "<h1>Resume</h1>"
    html = [f"<h1>{lines[0]}</h1>"]
    if len(lines) > 1:
        html.append(f"<p>{lines[1]}</p>")
    items: list[str] = []
    for line in lines[2:]:
        heading = len(line) < 40 and (line.istitle() or line.isupper())
        if heading:
            if items:
                html.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
                items = []
            html.append(f"<h2>{line}</h2>")
        else:
            items.append(line)
    if items:
        html.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
    supplement = tag(user, "supplement_info")
    if supplement:
        html.append(f"<p>{_strip_tags(supplement)}</p>")
    return "".join(html)


def tailor_instructions(user: str, _seed: int | None, _: str) -> str:
    covered = _list(tag(user, "keywords_covered"))
    missing = _list(tag(user, "keywords_missing"))
    sections = _headings(tag(user, "original_resume")) or ["Experience"]
    instructions = [
        {
            "section": sections[i % len(sections)],
            "action": "add",
            "detail": f"Show real use of {kw}.",
        }
        for i, kw in enumerate(missing[:5])
    ] + [
        {"section": "Summary", "action": "emphasise", "detail": f"Lead with {kw}."}
        for kw in covered[:2]
    ]
    answer = {
        "instructions": instructions,
        "keywords_to_integrate": missing,
        "keywords_already_present": covered,
    }
    return json.dumps(answer)


def tailor_writer(user: str, _seed: int | None, _: str) -> str:
    resume = tag(user, "original_resume")
    missing = _list(tag(user, "keywords_missing"))
    if not missing:
        return resume
    added = ", ".join(f'<span class="opt-keyword-add">{kw}</span>' for kw in missing)
    block = f"<h2>Core Competencies</h2><p>{added}</p>"
    match = re.search(r"</p>", resume)
    if match is None:
        return resume + block
    return resume[: match.end()] + block + resume[match.end() :]


def generic(user: str, _seed: int | None, _: str) -> str:
    words = user.split()[:12]
    return "Acknowledged: " + " ".join(words)


Generator = Callable[[str, "int | None", str], str]

GENERATORS: dict[str, Generator] = {
    "keyword-extraction": keyword_extraction,
    "resume-structure": resume_structure,
    "gap-analysis": gap_analysis,
    "format-resume": format_resume,
    "tailor-instructions": tailor_instructions,
    "tailor-writer": tailor_writer,
}


def answer(messages: list[dict[str, object]], seed: int | None, json_mode: bool) -> tuple[str, str]:
    """(task name, content) for a chat request."""
    system = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") != "system")
    task = task_of(system) or "generic"
    generator = GENERATORS.get(task)
    if generator is None:
        content = generic(user, seed, system)
        if json_mode:
            content = json.dumps({"answer": content})
        return task, content
    return task, generator(user, seed, system)
