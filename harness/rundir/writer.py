"""Writing a run directory as the run goes: samples and events flushed line by line, run.json
rewritten atomically, secrets masked in all of it."""

from __future__ import annotations

import csv
import errno
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from harness.redaction import Redactor
from harness.rundir.layout import (
    EVENTS_JSONL,
    HEAP_DIR,
    RUN_JSON,
    SAMPLE_FIELDS,
    SAMPLES_CSV,
    Sample,
)

#: a file of the run directory over this is not scrubbed of secrets (run.json names it)
SCRUB_MAX_BYTES = 256 << 20


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class RunDirectory:
    """Writes one run. Create with `RunDirectory.create`, read back with `harness.runs`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.heap_dir = path / HEAP_DIR
        self.meta: dict[str, Any] = {}
        self._samples: TextIO | None = None
        self._writer: Any = None
        self._events: TextIO | None = None
        self.started = time.time()
        self.redactor = Redactor()  # what it masked, masked again wherever it shows up
        self._scrubbed = False

    @classmethod
    def create(cls, out: Path, scenario: str, meta: Mapping[str, Any]) -> RunDirectory:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        runs = out / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        path = runs / f"{stamp}-{scenario}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = runs / f"{stamp}-{scenario}-{suffix}"
        path.mkdir()
        run = cls(path)
        run.heap_dir.mkdir()
        run.redactor.learn_environment()  # a process target inherits the harness's
        run.meta = {
            "id": path.name,
            "started_at": _now_iso(),
            "outcome": {"status": "running"},
            **run.redactor.record(dict(meta)),
        }
        run.write_meta()
        run._samples = (path / SAMPLES_CSV).open("w", newline="", encoding="utf-8")
        run._writer = csv.DictWriter(run._samples, fieldnames=SAMPLE_FIELDS)
        run._writer.writeheader()
        run._samples.flush()
        run._events = (path / EVENTS_JSONL).open("a", encoding="utf-8")
        _point_latest(out, path)
        return run

    def write_meta(self) -> None:
        """Atomically (a reader never sees half a run.json). On a full disk, where the copy
        has no room, run.json is rewritten in place, compact, into the blocks it already
        holds: the outcome of a run that filled its disk is still recorded."""
        tmp = self.path / f".{RUN_JSON}.tmp"
        try:
            tmp.write_text(json.dumps(self.meta, indent=2, default=str) + "\n", encoding="utf-8")
            os.replace(tmp, self.path / RUN_JSON)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            tmp.unlink(missing_ok=True)
            with (self.path / RUN_JSON).open("r+", encoding="utf-8") as handle:
                handle.write(json.dumps(self.meta, separators=(",", ":"), default=str) + "\n")
                handle.truncate()

    def update(self, **items: Any) -> None:
        self.meta.update(self.redactor.record(items))
        self.write_meta()

    def sample(self, sample: Sample) -> None:
        if self._writer is None or self._samples is None:
            return
        self._writer.writerow(asdict(sample))
        self._samples.flush()

    def tail(self, name: str, lines: int = 20) -> str:
        """The last lines of one of its files (a log), for an error message."""
        try:
            text = (self.path / name).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def event(self, kind: str, /, **data: Any) -> dict[str, Any]:
        record = {
            "time": round(time.time(), 3),
            "elapsed_s": round(time.time() - self.started, 3),
            "event": kind,
            **self.redactor.record(data),
        }
        if self._events is not None:
            self._events.write(json.dumps(record, default=str) + "\n")
            self._events.flush()
        return record

    def finish(self, status: str, exit_code: int, **detail: Any) -> None:
        """Record how the run ended: completed, interrupted, oom-killed, target-exited, error."""
        self.meta["outcome"] = {
            "status": status,
            "exit_code": exit_code,
            "ended_at": _now_iso(),
            "duration_s": round(time.time() - self.started, 2),
            **self.redactor.record(detail),
        }
        self.event("run-end", status=status, **detail)
        self.write_meta()
        self.close()

    def close(self) -> None:
        """Close the files, then scrub the secrets out of what others wrote into the run
        directory (target.log, Locust's files, the upstreams'), and out of run.json again with
        all that was learned there."""
        for handle in (self._samples, self._events):
            if handle is not None and not handle.closed:
                handle.close()
        if self._scrubbed:
            return
        self._scrubbed = True
        try:
            scrub = self.redactor.scrub_tree(self.path, (RUN_JSON, SAMPLES_CSV), SCRUB_MAX_BYTES)
        except OSError as exc:
            scrub = {"skipped": [f"the run directory was not scrubbed of secrets: {exc}"]}
        self.meta = self.redactor.record(self.meta)
        if scrub:
            self.meta["redaction"] = scrub
        self.write_meta()


def _point_latest(out: Path, path: Path) -> None:
    latest = out / "latest"
    tmp = out / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(path.relative_to(out))
    os.replace(tmp, latest)
