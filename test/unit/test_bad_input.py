"""Every bad input of the table (test/support/bad_inputs.py): exit 2, one line on stderr that
says what to fix, no traceback, and no run directory made (nothing was started)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.bad_inputs import BAD_INPUTS, BadInput, expand, make_files

from harness.cli import main


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[" ".join(c.args) for c in BAD_INPUTS])
def test_bad_input_is_one_line_and_exit_2(
    case: BadInput,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_files(tmp_path)
    for name, value in case.env:
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    code = main(expand(case.args, tmp_path))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert case.says.replace("{tmp}", str(tmp_path)) in lines[0], err
    assert not (tmp_path / "out" / "runs").exists()  # refused before a run directory
