"""Analysis: from a run directory alone, growth statistics, verdicts, suspects, checklist."""
