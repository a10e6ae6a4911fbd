from __future__ import annotations

import ctypes

import pytest

from resume_api.leaks import (
    DEFAULT_BYTES_PER_REQUEST,
    LEAKS,
    LeakInjector,
    LeakSpecError,
    NativeLeak,
    parse_leaks,
)


def test_parse_names_and_rates() -> None:
    spec = parse_leaks("unbounded-cache:1KiB, native-malloc:256 ,shm-spill, task-accumulation:2M")
    assert dict(spec.rates) == {
        "unbounded-cache": 1024,
        "native-malloc": 256,
        "shm-spill": DEFAULT_BYTES_PER_REQUEST,
        "task-accumulation": 2 * 1024 * 1024,
    }
    assert not parse_leaks("")
    assert not parse_leaks(" , ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no-such-leak", "unknown leak switch 'no-such-leak'"),
        ("unbounded-cache:lots", "is not a size"),
        ("unbounded-cache:0", "must be positive"),
    ],
)
def test_parse_rejects_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(LeakSpecError, match=message):
        parse_leaks(text)


def test_every_switch_of_the_issue_exists() -> None:
    assert set(LEAKS) >= {
        "unclosed-http-client",
        "task-accumulation",
        "telemetry-buffer",
        "unbounded-cache",
        "latency-by-raw-path",
        "shm-spill",
        "native-malloc",
    }


def test_debt_model_keeps_the_configured_rate_when_a_unit_costs_more() -> None:
    injector = LeakInjector(parse_leaks("task-accumulation:256"))
    unit_cost = LEAKS["task-accumulation"][1]
    leaked = 0
    for _ in range(10_000):
        injector.tick()
        padding = injector.take("task-accumulation")
        if padding is not None:
            leaked += unit_cost + padding
    assert injector.units["task-accumulation"] > 0
    assert leaked == pytest.approx(256 * 10_000, rel=0.01)


def test_debt_model_pads_each_unit_when_the_rate_exceeds_its_cost() -> None:
    injector = LeakInjector(parse_leaks("telemetry-buffer:4K"))
    injector.tick()
    assert injector.take("telemetry-buffer") == 4096 - LEAKS["telemetry-buffer"][1]
    assert injector.take("telemetry-buffer") is None  # paid off until the next request
    assert injector.take("native-malloc") is None  # switched off


def test_native_leak_chains_blocks_outside_the_python_heap() -> None:
    native = NativeLeak()
    native.leak(64)
    first = native._head
    native.leak(64)
    assert native.blocks == 2 and native.bytes == 128
    # each block starts with a pointer to the previous one: the list lives in native memory
    assert ctypes.c_void_p.from_address(native._head).value == first
