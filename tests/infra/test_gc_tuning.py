"""The collector settings of the gateway and the worker (app.infra.gc_tuning)."""

from __future__ import annotations

import gc

from app.infra import gc_tuning


def test_tune_freezes_what_exists_and_collects_the_young_generation_less_often() -> None:
    before = gc.get_threshold()
    try:
        gc_tuning.tune()
        assert gc.get_freeze_count() > 0  # startup's objects are out of every collection's scan
        assert gc.get_threshold() == (gc_tuning.GEN0, before[1], before[2])

        class Cycle:
            other: object = None

        a, b = Cycle(), Cycle()
        a.other, b.other = b, a
        del a, b
        assert gc.collect() >= 2  # cycles made after it are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
