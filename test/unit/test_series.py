"""The series table names real samples.csv columns, each with the unit its kind implies."""

from __future__ import annotations

from dataclasses import fields

from harness.rundir import Sample
from harness.series import BYTES, COUNT, HEAP_SERIES, MEMORY, RESOURCE, SERIES


def test_every_series_is_a_sample_column_or_the_memray_heap() -> None:
    columns = {f.name for f in fields(Sample)}
    assert set(SERIES) - columns == {HEAP_SERIES}  # memray's heap is joined in from heap.csv


def test_memory_is_bytes_and_resources_are_counts() -> None:
    for series in SERIES.values():
        assert (series.kind, series.unit) in {(MEMORY, BYTES), (RESOURCE, COUNT)}
