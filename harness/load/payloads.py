"""Seeded generators of realistic payloads for the Resume Advisor API: job descriptions of a few
KB, resumes in HTML, OCR text. The same seed gives the same sequence, so runs compare."""

from __future__ import annotations

import random
from dataclasses import dataclass

TECH_SKILLS = (
    "Python",
    "FastAPI",
    "Django",
    "Flask",
    "asyncio",
    "PostgreSQL",
    "Redis",
    "Kafka",
    "Docker",
    "Kubernetes",
    "Terraform",
    "Azure",
    "AWS",
    "GCP",
    "TypeScript",
    "React",
    "Node.js",
    "GraphQL",
    "REST APIs",
    "gRPC",
    "CI/CD",
    "GitHub Actions",
    "Linux",
    "Prometheus",
    "Grafana",
    "OpenTelemetry",
    "Machine Learning",
    "PyTorch",
    "pandas",
    "SQL",
    "Spark",
    "Airflow",
    "Elasticsearch",
    "RabbitMQ",
    "Celery",
    "Go",
    "Java",
    "Microservices",
    "System Design",
    "Azure OpenAI",
    "LLM",
    "Prompt Engineering",
)
SOFT_SKILLS = (
    "Communication",
    "Mentoring",
    "Stakeholder Management",
    "Agile",
    "Scrum",
    "Problem Solving",
    "Technical Leadership",
    "Cross-functional Collaboration",
)
ROLES = (
    "Senior Backend Engineer",
    "Platform Engineer",
    "Machine Learning Engineer",
    "Full Stack Developer",
    "Site Reliability Engineer",
    "Data Engineer",
    "Staff Engineer",
)
COMPANIES = ("Contoso", "Fabrikam", "Northwind Traders", "Tailspin Toys", "Woodgrove Bank")
NAMES = ("Alex Chen", "Maria Garcia", "Wei-Ling Lin", "Jordan Smith", "Priya Patel", "Sam Okafor")
VERBS = (
    "Designed",
    "Built",
    "Led",
    "Migrated",
    "Optimised",
    "Automated",
    "Scaled",
    "Reduced",
    "Introduced",
    "Maintained",
    "Shipped",
    "Refactored",
)
OBJECTS = (
    "a multi-tenant API platform",
    "the payments ingestion pipeline",
    "an event-driven order system",
    "the observability stack",
    "a feature store for ranking models",
    "the CI/CD workflow",
    "customer-facing search",
    "a document processing service",
    "the authentication gateway",
)
OUTCOMES = (
    "cutting p95 latency by {n}%",
    "serving {n}k requests per minute",
    "saving {n}% of cloud cost",
    "raising test coverage to {n}%",
    "reducing incidents by {n}%",
    "onboarding {n} new teams",
)
FILLER = (
    "We value ownership, clear writing and pragmatic engineering.",
    "You will work closely with product, design and data science.",
    "Our stack runs on managed cloud services with strong automation.",
    "We invest in code review, testing and continuous delivery.",
    "The team supports a growing customer base across several regions.",
)


@dataclass(frozen=True)
class ResumeCase:
    job_description: str
    resume_html: str
    ocr_text: str
    keywords: list[str]


class PayloadFactory:
    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)

    def _sentence(self, skills: list[str]) -> str:
        rng = self.rng
        outcome = rng.choice(OUTCOMES).format(n=rng.randint(10, 90))
        return f"{rng.choice(VERBS)} {rng.choice(OBJECTS)} with {' and '.join(skills)}, {outcome}."

    def skills(self, count: int) -> list[str]:
        return self.rng.sample(TECH_SKILLS, count)

    def job_description(self, size: int = 3000) -> str:
        rng = self.rng
        skills = self.skills(rng.randint(8, 14))
        soft = rng.sample(SOFT_SKILLS, 3)
        parts = [
            f"{rng.choice(ROLES)} at {rng.choice(COMPANIES)}",
            "",
            "About the role",
            " ".join(rng.sample(FILLER, 3)),
            "",
            "Responsibilities",
        ]
        parts += [f"- {self._sentence(rng.sample(skills, 2))}" for _ in range(6)]
        parts += ["", "Requirements"]
        parts += [
            f"- {rng.randint(2, 8)}+ years of experience with {skill}" for skill in skills[:8]
        ]
        parts += [f"- Strong {skill.lower()} skills" for skill in soft]
        parts += ["", "Nice to have", *(f"- Experience with {skill}" for skill in skills[8:])]
        text = "\n".join(parts)
        while len(text) < size:
            text += "\n" + " ".join(rng.sample(FILLER, 2))
        return text[: max(size, 200)]

    def resume_html(self, size: int = 4000) -> str:
        rng = self.rng
        name = rng.choice(NAMES)
        skills = self.skills(rng.randint(6, 12))
        html = [
            f"<h1>{name}</h1>",
            f"<p>{name.split()[0].lower()}@example.com | +1 555 {rng.randint(1000, 9999)} | "
            f"linkedin.com/in/{name.replace(' ', '').lower()}</p>",
            "<h2>Summary</h2>",
            f"<p>{rng.choice(ROLES)} with {rng.randint(3, 15)} years of experience in "
            f"{', '.join(skills[:3])}.</p>",
            "<h2>Experience</h2>",
        ]
        while sum(len(part) for part in html) < size - 400:
            company = rng.choice(COMPANIES)
            html.append(
                f"<h3>{rng.choice(ROLES)}, {company} ({rng.randint(2012, 2020)}-present)</h3>"
            )
            bullets = "".join(f"<li>{self._sentence(rng.sample(skills, 2))}</li>" for _ in range(4))
            html.append(f"<ul>{bullets}</ul>")
        html += [
            "<h2>Education</h2>",
            "<p>B.Sc. Computer Science, National Taiwan University</p>",
            "<h2>Skills</h2>",
            f"<p>{', '.join(skills)}</p>",
        ]
        return "".join(html)

    def ocr_text(self, resume_html: str) -> str:
        """The resume as OCR would read it: plain lines, a few character slips."""
        text = resume_html.replace("</h1>", "\n").replace("</h2>", "\n").replace("</h3>", "\n")
        text = text.replace("</li>", "\n").replace("</p>", "\n")
        for tag in ("<h1>", "<h2>", "<h3>", "<li>", "<p>", "<ul>", "</ul>"):
            text = text.replace(tag, "")
        chars = list(text)
        for _ in range(len(chars) // 400):
            i = self.rng.randrange(len(chars))
            if chars[i] == "l":
                chars[i] = "1"
        return "".join(chars)

    def case(self) -> ResumeCase:
        jd = self.job_description(self.rng.randint(1500, 6000))
        resume = self.resume_html(self.rng.randint(2500, 8000))
        keywords = [skill for skill in TECH_SKILLS if skill in jd][:12] or ["Python", "Docker"]
        return ResumeCase(jd, resume, self.ocr_text(resume), keywords)


#: what resume files look like on the wire: (Content-Type, the first bytes)
FILE_KINDS = (
    ("application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", b"PK\x03\x04"),
    ("text/html", b"<!DOCTYPE html><html><body>"),
)


@dataclass(frozen=True)
class ResumeFile:
    content_type: str
    content: bytes


def resume_files(
    seed: int, count: int = 12, low: int = 20_000, high: int = 3_000_000
) -> list[ResumeFile]:
    """Uploaded resume files, sizes log-uniform from tens of KB to a few MB (scans as PDF are
    the large ones); random bytes after the type's magic, so nothing compresses them away."""
    rng = random.Random(seed)
    files = []
    for index in range(count):
        size = int(low * (high / low) ** rng.random())
        content_type, magic = FILE_KINDS[index % len(FILE_KINDS)]
        files.append(ResumeFile(content_type, magic + rng.randbytes(size - len(magic))))
    return files
