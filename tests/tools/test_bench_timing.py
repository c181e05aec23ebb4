"""How the benchmarks time and configure a run (load-tests/bench_worker.py,
bench_gateway.py): no broker needed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "load-tests"))

import bench_gateway  # noqa: E402
import bench_worker  # noqa: E402


def progress(*samples: tuple[float, int]) -> bench_worker.Progress:
    p = bench_worker.Progress()
    p.samples = list(samples)
    return p


def test_the_worker_is_timed_from_first_move_to_the_last_reading_between_samples() -> None:
    p = progress((100.0, 0), (100.1, 0), (100.2, 40), (100.3, 900), (100.4, 1000), (100.5, 1000))
    first, last, untimed = p.span(1000)
    assert first == pytest.approx(100.15)  # between the last 0 and the first count
    assert last == pytest.approx(100.35)  # between the last short count and the total
    assert untimed == 0


def test_a_worker_already_moving_at_its_first_sample_is_timed_from_that_sample() -> None:
    """Its /metrics answered late: what it had done by then is not in the
    time, so it is not in the rate either (60,000 readings once came out at
    52,751/s, counted over a run's last 1.14 s)."""
    first, last, untimed = progress((5.0, 10), (5.1, 20)).span(20)
    assert (first, last, untimed) == (5.0, pytest.approx(5.05), 10)


def test_a_worker_that_never_finished_is_an_error_not_a_figure() -> None:
    with pytest.raises(RuntimeError, match="never showed 30"):
        progress((1.0, 0), (1.1, 20)).span(30)


def test_medians_and_ratios_to_vigil_are_taken_within_each_round() -> None:
    def run(variant: str, round_no: int, rate: float) -> dict:
        return {
            "variant": variant,
            "round": round_no,
            "readings_per_s": rate,
            "records_per_s": rate,
            "seconds": 1.0,
            "to_commit_s": 1.0,
            "startup_s": 1.0,
            "readings": 10,
            "expected_readings": 10,
        }

    runs = [
        run("vigil", 1, 100),
        run("quix", 1, 400),
        run("vigil", 2, 200),
        run("quix", 2, 400),
        run("vigil", 3, 50),
        run("quix", 3, 300),
    ]
    vigil, quix = bench_worker.summarise(runs, ["vigil", "quix"])
    assert vigil["readings_per_s"] == 100 and quix["readings_per_s"] == 400
    assert quix["each_readings_per_s"] == [400, 400, 300]
    assert quix["ratio_to_vigil"] == 4.0  # median of 4x, 2x, 6x, not 400 / 100 by chance


def test_gateway_configurations_are_frames_and_rates() -> None:
    assert bench_gateway.configs("1:10,50:25") == ((1, 10.0), (50, 25.0))
    for bad in ("1", "0:5", "1:0", "a:b", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            bench_gateway.configs(bad)


def test_coalesced_bench_records_hold_frames_of_one_partition_and_every_reading() -> None:
    from app.core.records import partition_for, readable_frames

    records, _ = bench_worker.build_records(b"k" * 32, 600, 30, 1, seed=3)
    coalesced = bench_worker.coalesce(records, 10, 4)
    assert len(coalesced) < len(records) / 5
    frames = [f for _, value, _ in coalesced for f in readable_frames(value)]
    assert sum(n for _, _, n in coalesced) == sum(len(f.readings) for f in frames) == 600
    for key, value, _ in coalesced:
        partitions = {partition_for(f.patient.encode(), 4) for f in readable_frames(value)}
        assert partitions == {partition_for(key, 4)}
