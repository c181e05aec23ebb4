"""load-tests/model_figure.py (docs/evaluation.md, "The model in one picture"):
the figure's series is what the core scored, and its alerts are the core's."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "load-tests"))

import model_figure  # noqa: E402

from app.tools.evaluation.methods import run_vigil  # noqa: E402


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The default figure (generic, seed 2026, series 20), written into a temporary directory."""
    out = tmp_path_factory.mktemp("figure") / "model-channel.png"
    argv = sys.argv
    sys.argv = ["model_figure.py", "--out", str(out)]
    try:
        assert model_figure.main() == 0
    finally:
        sys.argv = argv
    return {"png": out, "doc": json.loads(out.with_suffix(".json").read_text())}


def test_the_figure_is_a_small_png_with_its_series_beside_it(drawn: dict[str, Any]) -> None:
    png = drawn["png"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < 200_000
    doc = drawn["doc"]
    assert (doc["cohort"], doc["seed"], doc["index"], doc["channel"]) == ("generic", 2026, 20, "hrv_ms")
    series = doc["series"]
    n = len(series["t"])
    assert n > 1000
    for field in ("value", "forecast", "sd", "band", "z", "surprise", "scored"):
        assert len(series[field]) == n, field
    z_alert = doc["config"]["z_alert"]
    for forecast, sd, (lo, hi) in zip(series["forecast"], series["sd"], series["band"], strict=True):
        assert lo == pytest.approx(forecast - z_alert * sd, abs=0.01)
        assert hi == pytest.approx(forecast + z_alert * sd, abs=0.01)
    assert any(s is not None for s in series["surprise"])  # a custom channel has a calibrated surprise


def test_the_alerts_drawn_are_the_events_the_core_emitted(drawn: dict[str, Any]) -> None:
    doc = drawn["doc"]
    p = model_figure.series("generic", 2026, 20)
    emitted = [(str(status), ts, str(kind)) for status, ts, kind in run_vigil(p, [])]
    drawn_events = [(e["status"], e["t"], e["kind"]) for e in doc["events"] if e["kind"] != "baseline_drift"]
    assert drawn_events == emitted
    opened = [(ts, kind) for status, ts, kind in emitted if status == "open"]
    resolved = [(ts, kind) for status, ts, kind in emitted if status == "resolved"]
    spans = [s for s in doc["spans"] if s["opened"] is not None]
    assert [(s["opened"], s["kind"]) for s in spans] == opened
    assert sorted((s["resolved"], s["kind"]) for s in spans if s["resolved"]) == sorted(resolved)
    assert {s["kind"] for s in spans} >= {"anomaly", "signal_quality"}  # a level shift, and a flat-line


@pytest.mark.parametrize("index", [20, 21])  # 21: an anomaly opened by the calibrated surprise
def test_the_z_and_surprise_drawn_are_what_the_core_alerted_on(index: int) -> None:
    """At every anomaly event naming the channel, the figure's z-score (and
    surprise, where the evidence has one) for that reading is the evidence's:
    the forecast and band drawn are the ones the core scored against."""
    p = model_figure.series("generic", 2026, index)
    traced = model_figure.trace(p, p.profile)
    at = {q["t"]: q for q in traced["points"]}
    checked = surprised = 0
    for e in traced["events"]:
        if e["kind"] != "anomaly" or p.profile not in e.get("z", {}):
            continue
        q = at[e["t"]]
        assert q["z"] == e["z"][p.profile]
        if "surprise" in e:
            assert q["surprise"] == e["surprise"][p.profile]
            surprised += 1
        elif e["status"] == "open":
            assert not q["band"][0] < q["value"] < q["band"][1]  # opened outside the band
        checked += 1
    assert checked >= 2
    assert surprised or index == 20
