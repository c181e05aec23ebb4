"""Per-patient detection and the alert lifecycle, driven reading by reading."""

from __future__ import annotations

import random

import orjson

from app.cli.alert_view import describe
from app.core import news2
from app.core import patient as core
from app.core import state as patient_state
from app.core.alerts import SCHEMA, alert_id
from app.core.records import reading_id

T0 = 1_764_435_600_000
MINUTE = 60_000


def around(rng: random.Random, hr: tuple, spo2: float, rr: tuple, sbp: float = 122) -> dict[str, object]:
    """Vitals scattered around a patient's normal; hr and rr are (mean, sd)."""
    return {
        "heart_rate": round(hr[0] + rng.gauss(0, hr[1])),
        "spo2": round(spo2 + rng.gauss(0, 0.6)),
        "respiratory_rate": round(rr[0] + rng.gauss(0, rr[1])),
        "systolic_bp": round(sbp + rng.gauss(0, 4)),
        "temperature": round(36.8 + rng.gauss(0, 0.1), 1),
        "consciousness": "A",
    }


def normal(rng: random.Random) -> dict[str, object]:
    return around(rng, (72, 3), 97, (16, 1))


ABNORMAL = {"heart_rate": 142, "spo2": 85, "respiratory_rate": 29, "systolic_bp": 86}


def run(state: patient_state.PatientState, seq: int, ts: int, vitals: dict[str, object]) -> core.Outcome:
    reading = {"id": reading_id("dev-1", seq), "seq": seq, "ts": ts, "vitals": vitals}
    return core.process(state, "p-subject-1", "dev-1", reading, patient="patient-1")


def recording(n_normal: int = 120) -> list[tuple[int, dict[str, object]]]:
    rng = random.Random(11)
    rows = [(T0 + i * MINUTE, normal(rng)) for i in range(n_normal)]
    rows += [(T0 + (n_normal + i) * MINUTE, dict(ABNORMAL)) for i in range(3)]
    rows += [(T0 + (n_normal + 3 + i) * MINUTE, normal(rng)) for i in range(30)]
    return rows


def replay(rows, encode_every: int | None = None) -> list[dict[str, object]]:
    state = patient_state.PatientState()
    events = []
    for seq, (ts, vitals) in enumerate(rows):
        events += run(state, seq, ts, vitals).events
        if encode_every and seq % encode_every == 0:
            state = patient_state.decode(patient_state.encode(state))
    return events


def test_normal_readings_raise_nothing() -> None:
    rng = random.Random(2)
    state = patient_state.PatientState()
    events = [e for i in range(240) for e in run(state, i, T0 + i * MINUTE, normal(rng)).events]
    assert events == []


def test_abnormal_reading_opens_alerts_with_evidence() -> None:
    events = replay(recording())
    opened = {e["kind"]: e for e in events if e["status"] == "open"}
    news = opened["news2"]
    assert news["schema"] == SCHEMA
    assert news["severity"] == "high"
    assert news["patient"] == "patient-1" and news["device_id"] == "dev-1"
    assert news["subject"] == "p-subject-1"
    onset = T0 + 120 * MINUTE
    assert news["alert_id"] == alert_id("p-subject-1", "news2", onset)
    assert news["event_time"] == news["opened_at"] == "2025-11-29T19:00:00.000Z"
    assert news["evidence"]["score"] >= 7
    assert news["evidence"]["vitals"] == ABNORMAL
    assert opened["anomaly"]["evidence"]["z"]["heart_rate"] > 5


def test_alert_resolves_after_the_condition_is_gone_with_the_same_id() -> None:
    events = [e for e in replay(recording()) if e["kind"] == "news2"]
    assert [e["status"] for e in events] == ["open", "resolved"]
    assert events[0]["alert_id"] == events[1]["alert_id"]
    opened_ms = T0 + 120 * MINUTE
    # Last abnormal reading at +2 min; resolution waits 10 min of normal readings.
    assert events[1]["event_time"] == "2025-11-29T19:13:00.000Z"
    assert events[1]["opened_at"] == events[0]["opened_at"]
    assert opened_ms


def test_escalation_keeps_the_alert_id() -> None:
    state = patient_state.PatientState()
    rng = random.Random(4)
    for i in range(60):
        run(state, i, T0 + i * MINUTE, normal(rng))
    # Three vitals moved at once: NEWS2 medium, open without waiting.
    first = run(state, 60, T0 + 60 * MINUTE, {"respiratory_rate": 22, "heart_rate": 112, "temperature": 38.5})
    worse = run(state, 61, T0 + 61 * MINUTE, {"respiratory_rate": 27, "spo2": 90})
    opened = [e for e in first.events if e["kind"] == "news2"]
    escalated = [e for e in worse.events if e["kind"] == "news2"]
    assert [(e["status"], e["severity"]) for e in opened] == [("open", "medium")]
    assert [(e["status"], e["severity"]) for e in escalated] == [("escalated", "high")]
    assert opened[0]["alert_id"] == escalated[0]["alert_id"]


def test_a_single_vital_trigger_waits_for_confirmation() -> None:
    state = patient_state.PatientState()
    rng = random.Random(5)
    for i in range(60):
        run(state, i, T0 + i * MINUTE, normal(rng))
    low = {**normal(rng), "spo2": 90}  # SpO2 alone scores 3: NEWS2 low-medium
    # The first is a sudden step nothing else corroborates: held back a reading.
    held = run(state, 60, T0 + 60 * MINUTE, low).events
    first = run(state, 61, T0 + 61 * MINUTE, low).events
    second = run(state, 62, T0 + 62 * MINUTE, low).events
    assert [e for e in held + first if e["kind"] == "news2"] == []
    opened = [e for e in second if e["kind"] == "news2"]
    assert [(e["status"], e["severity"]) for e in opened] == [("open", "low")]
    assert opened[0]["opened_at"] == "2025-11-29T18:01:00.000Z"  # when it was first scored


def test_a_single_abnormal_reading_on_one_sensor_never_alarms() -> None:
    state = patient_state.PatientState()
    rng = random.Random(12)
    events = []
    for i in range(120):
        vitals = normal(rng)
        if i == 90:
            vitals["spo2"] = 72  # a probe slipping: NEWS2 3 and a large z, for one reading
        events += run(state, i, T0 + i * MINUTE, vitals).events
    assert events == []


def test_a_multi_vital_high_news2_alarms_at_once() -> None:
    state = patient_state.PatientState()
    rng = random.Random(13)
    for i in range(60):
        run(state, i, T0 + i * MINUTE, normal(rng))
    now = run(state, 60, T0 + 60 * MINUTE, dict(ABNORMAL)).events
    assert [(e["kind"], e["status"], e["severity"]) for e in now if e["kind"] == "news2"] == [
        ("news2", "open", "high")
    ]


def test_replay_is_deterministic_and_survives_state_round_trips() -> None:
    rows = recording()
    assert replay(rows) == replay(rows) == replay(rows, encode_every=7)


def test_artifacts_are_marked_not_learned_and_raise_no_alert() -> None:
    state = patient_state.PatientState()
    rng = random.Random(6)
    for i in range(60):
        run(state, i, T0 + i * MINUTE, normal(rng))
    before = orjson.loads(patient_state.encode(state))["b"]["spo2"]
    outcome = run(state, 60, T0 + 60 * MINUTE, {"spo2": 0, "heart_rate": 300})
    assert outcome.artifacts == 2
    assert outcome.events == []
    assert orjson.loads(patient_state.encode(state))["b"]["spo2"] == before


def test_out_of_order_reading_is_not_scored() -> None:
    state = patient_state.PatientState()
    usual = {"heart_rate": 70, "spo2": 97, "respiratory_rate": 15, "systolic_bp": 120}
    run(state, 0, T0 + 10 * MINUTE, usual)
    late = run(state, 1, T0, dict(ABNORMAL))  # every value older than its channel's newest
    assert late.out_of_order and late.events == []
    assert state.latest["heart_rate"][:2] == [70, T0 + 10 * MINUTE]


def test_benign_shift_is_adopted_and_harmful_one_is_not() -> None:
    rng = random.Random(8)
    state = patient_state.PatientState()
    seq = 0
    for _ in range(200):
        run(state, seq, T0 + seq * MINUTE, {"heart_rate": round(62 + rng.gauss(0, 2))})
        seq += 1
    drifts = []
    for _ in range(60):  # new medication: 62 -> 80, still NEWS2 0
        drifts += run(state, seq, T0 + seq * MINUTE, {"heart_rate": round(80 + rng.gauss(0, 2))}).events
        seq += 1
    adopted = [e for e in drifts if e["kind"] == "baseline_drift"]
    assert adopted and adopted[0]["evidence"]["adopted"] is True and "held" not in adopted[0]["evidence"]
    assert abs(state.baselines["heart_rate"].mean - 80) < 4

    harmful = []
    for _ in range(60):  # tachycardia: 80 -> 125, NEWS2 scores it
        harmful += run(state, seq, T0 + seq * MINUTE, {"heart_rate": round(125 + rng.gauss(0, 2))}).events
        seq += 1
    drift = [e for e in harmful if e["kind"] == "baseline_drift"]
    assert drift and all(e["evidence"]["adopted"] is False for e in drift)
    assert {e["evidence"]["held"] for e in drift} == {"unsafe_level"}  # why, for `vigil alerts`
    assert state.baselines["heart_rate"].mean < 90
    # HR 125 alone scores NEWS2 2 (band low), so the learned model carries it.
    assert "anomaly" in state.alerts


def test_state_is_small() -> None:
    state = patient_state.PatientState()
    rng = random.Random(1)
    for i in range(500):
        run(state, i, T0 + i * MINUTE, normal(rng))
    assert len(patient_state.encode(state)) < 4096


def test_a_reading_stored_twice_counts_once() -> None:
    once, twice = patient_state.PatientState(), patient_state.PatientState()
    rng = random.Random(3)
    for i in range(50):
        vitals = normal(rng)
        run(once, i, T0 + i * MINUTE, vitals)
        run(twice, i, T0 + i * MINUTE, vitals)
        assert run(twice, i, T0 + i * MINUTE, vitals).duplicate
    assert patient_state.encode(once) == patient_state.encode(twice)


def copd(rng: random.Random) -> dict[str, object]:
    return around(rng, (80, 2), 90, (21, 0.7), sbp=125)


def test_an_unusual_normal_is_one_alert_and_a_red_spo2_stays_told_without_scale_2() -> None:
    # COPD: SpO2 about 90 and breathing about 21 score NEWS2 3 + 2 = 5 (medium)
    # on scale 1, every minute. The chart alarms once, and the alert stays
    # open while the SpO2 stays red: scale 2, which scores 88-92 as the
    # target, is a clinician's prescription (RCP 2017), not a habit learned
    # (before 2026-12-06 the learned normal resolved it). No second alert,
    # no anomaly: the breathing rate's amber is hers once learned.
    state = patient_state.PatientState()
    rng = random.Random(21)
    events = [e for i in range(600) for e in run(state, i, T0 + i * MINUTE, copd(rng)).events]
    kinds = [(e["kind"], e["status"]) for e in events if e["kind"] != "baseline_drift"]
    assert ("news2", "open") in kinds[:2]
    assert kinds.count(("news2", "open")) == 1 and ("anomaly", "open") not in kinds
    assert ("news2", "resolved") not in kinds
    assert 89 < state.baselines["spo2"].mean < 91
    later = [e for i in range(600, 660) for e in run(state, i, T0 + i * MINUTE, copd(rng)).events]
    assert [e for e in later if e["status"] == "open"] == []
    # Prescribed scale 2, the same values score nothing, and the alert resolves.
    prescribed = [
        e
        for i in range(660, 720)
        for e in run(state, i, T0 + i * MINUTE, {**copd(rng), "spo2_scale": 2}).events
    ]
    assert ("news2", "resolved") in [(e["kind"], e["status"]) for e in prescribed]


def test_a_real_drop_still_alarms_for_a_patient_with_an_unusual_normal() -> None:
    state = patient_state.PatientState()
    rng = random.Random(22)
    for i in range(300):
        run(state, i, T0 + i * MINUTE, copd(rng))
    hypoxic = {**copd(rng), "spo2": 80, "respiratory_rate": 28}
    first = run(state, 300, T0 + 300 * MINUTE, hypoxic).events
    # SpO2 and breathing both moved: NEWS2 6 (medium) alarms without waiting (the alert her red
    # SpO2 of about 90 on scale 1 keeps open escalates).
    told = [(e["kind"], e["status"], e["severity"]) for e in first]
    assert ("news2", "escalated", "medium") in told or ("news2", "open", "medium") in told


HOUR = 60 * MINUTE


def test_a_red_value_is_not_the_normal_of_a_patient_whose_normal_scores_nothing() -> None:
    # Charted hourly after cardiac surgery, a heart rate wandering anywhere
    # from 42 to 118 (a learned spread of about 22) and then bradycardic at
    # 24-30 (PhysioNet 2012 set-b): 24 is within 2.5 spreads of 75, but NEWS2
    # scores it 3 and the patient's normal 0, so it is no personal normal and
    # the alert stays open until the rate is back.
    state = patient_state.PatientState()
    rng = random.Random(41)
    seq = 0
    for seq in range(48):
        run(state, seq, T0 + seq * HOUR, {"heart_rate": rng.randint(42, 118), "temperature": 36.8})
    assert state.baselines["heart_rate"].sd > 18  # wide enough to take 24 in under the old rule
    slow = [30, 25, 35, 27, 24, 28, 29]
    events = []
    for i, hr in enumerate(slow, start=seq + 1):
        events += [
            (i, e) for e in run(state, i, T0 + i * HOUR, {"heart_rate": hr, "temperature": 36.8}).events
        ]
    news = [(i, e["status"]) for i, e in events if e["kind"] == "news2"]
    assert news[0] == (seq + 1, "open")  # the first red value
    assert "resolved" not in [status for _, status in news]  # never resolved while red
    after = seq + len(slow) + 1
    back = [
        e for i in range(after, after + 3) for e in run(state, i, T0 + i * HOUR, {"heart_rate": 76}).events
    ]
    assert ("news2", "resolved") in [(e["kind"], e["status"]) for e in back]


def test_an_athlete_living_at_a_slow_pulse_has_red_values_of_his_own() -> None:
    # Resting at about 44 (NEWS2 scores 1), his pulse dips to 39-40 (scores 3)
    # once the model knows him: his normal scores too, so that is his own.
    state = patient_state.PatientState()
    rng = random.Random(42)

    def vitals(hr: int) -> dict[str, object]:
        return {"heart_rate": hr, "spo2": 98, "respiratory_rate": 14, "systolic_bp": 118, "temperature": 36.6}

    for i in range(180):
        run(state, i, T0 + i * MINUTE, vitals(round(44 + rng.gauss(0, 1.5))))
    later = [e for i in range(180, 200) for e in run(state, i, T0 + i * MINUTE, vitals(39 + i % 2)).events]
    assert [e for e in later if e["kind"] == "news2"] == []


def test_a_tachycardia_that_lasts_is_not_taken_for_the_patients_normal() -> None:
    # An eICU stay: a heart rate of 140 at admission, then 130-134 charted
    # every 5-15 minutes for hours. The learned normal (about 132) scores 3
    # too, so the old rule took 132 for the patient's own and NEWS2 resolved
    # while it lasted; no one lives at a heart rate of 131 or more.
    state = patient_state.PatientState()
    rng = random.Random(43)
    events = []
    for i in range(60):  # 10 hours, every 10 minutes
        hr = 140 if i == 0 else rng.choice([131, 132, 133, 134])
        events += run(state, i, T0 + i * 10 * MINUTE, {"heart_rate": hr, "spo2": 96}).events
    news = [e["status"] for e in events if e["kind"] == "news2"]
    assert news[0] == "open"
    assert "resolved" not in news  # open (with its reminders) while the rate is red
    back = [e for i in range(60, 66) for e in run(state, i, T0 + i * 10 * MINUTE, {"heart_rate": 96}).events]
    assert ("news2", "resolved") in [(e["kind"], e["status"]) for e in back]


def test_an_spo2_far_below_what_anyone_lives_at_is_never_the_normal() -> None:
    # A learned SpO2 whose spread is wide (on the eICU stay, a probe's 53 in
    # its first hours did it; since warm-up winsorises, it takes a patient
    # charted at 93 +- 8 for three days), whose normal NEWS2 scores: a 73
    # within 2.5 spreads of it was taken for the patient's own. People live
    # at an SpO2 of 85-91, not 73.
    state = patient_state.PatientState()
    rng = random.Random(3)
    for i in range(72):
        spo2 = max(60, min(100, round(93 + rng.gauss(0, 8))))
        run(state, i, T0 + i * HOUR, {"spo2": spo2, "heart_rate": 80})
    for i in range(72, 78):  # steady at 95 (NEWS2 1)
        run(state, i, T0 + i * HOUR, {"spo2": 95, "heart_rate": 80})
    learned = state.baselines["spo2"]
    # Its values under 85 are not learned (no one lives there): the spread is still wide.
    assert learned.sd >= 4 and learned.mean <= 95
    low = [e for i in (78, 79) for e in run(state, i, T0 + i * HOUR, {"spo2": 73, "heart_rate": 80}).events]
    told = [e for e in low if e["kind"] == "news2"]
    # Told at once: opened, or (an alert still open since an earlier red
    # value, held while the SpO2 is off the normal established) escalated for it.
    assert len(told) == 1 and told[0]["status"] in ("open", "escalated")
    assert told[0]["status"] == "open" or "spo2" in told[0]["evidence"]["newly"]


def test_a_copd_patient_breathing_at_26_lives_there() -> None:
    # The red range's part people do live in stays personal: breathing at
    # 25-27 with COPD, once learned, raises nothing; a rate of 8 never is.
    state = patient_state.PatientState()
    rng = random.Random(44)

    def vitals(rr: int) -> dict[str, object]:
        return {"heart_rate": 84, "spo2": 95, "respiratory_rate": rr, "systolic_bp": 128, "temperature": 36.7}

    for i in range(180):
        run(state, i, T0 + i * MINUTE, vitals(rng.choice([24, 25, 25, 26, 26, 27])))
    later = [e for i in range(180, 200) for e in run(state, i, T0 + i * MINUTE, vitals(26)).events]
    assert [e for e in later if e["kind"] == "news2"] == []


def test_one_spike_does_not_move_the_baseline_or_alarm_on_top_of_a_chronic_score() -> None:
    state = patient_state.PatientState()
    rng = random.Random(23)
    for i in range(300):
        run(state, i, T0 + i * MINUTE, copd(rng))
    before = state.baselines["heart_rate"].mean
    spike = run(state, 300, T0 + 300 * MINUTE, {**copd(rng), "heart_rate": 205}).events
    after = [e for i in range(301, 320) for e in run(state, i, T0 + i * MINUTE, copd(rng)).events]
    assert [e for e in spike + after if e["kind"] != "baseline_drift"] == []
    assert not [e for e in spike + after if e["kind"] == "baseline_drift"]
    assert abs(state.baselines["heart_rate"].mean - before) < 1


def test_an_artifact_ridden_device_mutes_physiology_alerts_until_its_signal_is_good() -> None:
    state = patient_state.PatientState()
    rng = random.Random(31)
    for i in range(60):
        run(state, i, T0 + i * MINUTE, normal(rng))
    events = []
    for i in range(60, 80):  # a loose probe: SpO2 0 every other reading, and one real-looking low
        vitals = normal(rng)
        vitals["spo2"] = 0 if i % 2 else 89
        events += run(state, i, T0 + i * MINUTE, vitals).events
    opened = [(e["kind"], e["status"]) for e in events]
    assert ("signal_quality", "open") in opened
    first_quality = next(i for i, k in enumerate(opened) if k == ("signal_quality", "open"))
    assert ("news2", "open") not in opened[first_quality:]
    later = [e for i in range(80, 120) for e in run(state, i, T0 + i * MINUTE, normal(rng)).events]
    assert ("signal_quality", "resolved") in [(e["kind"], e["status"]) for e in later]


def test_an_alert_that_stays_open_is_renotified_after_an_hour_then_less_often() -> None:
    state = patient_state.PatientState()
    rng = random.Random(32)
    for i in range(60):
        run(state, i, T0 + i * MINUTE, normal(rng))
    sick = {"respiratory_rate": 26, "heart_rate": 125, "spo2": 92}
    events = [e for i in range(60, 480) for e in run(state, i, T0 + i * MINUTE, dict(sick)).events]
    news = [(e["status"], e["event_time"]) for e in events if e["kind"] == "news2"]
    # opened at 18:00, reminded an hour later, then two hours after that (the next due four hours on)
    assert news == [
        ("open", "2025-11-29T18:00:00.000Z"),
        ("reminder", "2025-11-29T19:00:00.000Z"),
        ("reminder", "2025-11-29T21:00:00.000Z"),
    ]
    assert {e["alert_id"] for e in events if e["kind"] == "news2"} == {events[0]["alert_id"]}


def test_a_slow_harmful_decline_is_caught_and_a_slow_benign_drift_is_not() -> None:
    """Harmful and benign drift are told apart by where the level goes: a
    drift that stays where NEWS2 scores 0 is adopted as the new normal; one
    into ranges NEWS2 scores is never adopted, so the learned model keeps
    flagging it, and NEWS2 flags it on its own as it deepens."""
    rng = random.Random(41)
    benign, harmful = patient_state.PatientState(), patient_state.PatientState()
    benign_events, harmful_events = [], []
    for i in range(600):
        p = max(0.0, min(1.0, (i - 240) / 240))  # from hour 4, four hours of change
        base = normal(rng)
        calm = {**base, "heart_rate": base["heart_rate"] + round(12 * p)}  # 72 -> 84: still NEWS2 0
        sick = {
            **base,
            "heart_rate": base["heart_rate"] + round(40 * p),
            "respiratory_rate": base["respiratory_rate"] + round(10 * p),
            "systolic_bp": base["systolic_bp"] - round(35 * p),
            "temperature": round(base["temperature"] + 2 * p, 1),
        }
        benign_events += run(benign, i, T0 + i * MINUTE, calm).events
        harmful_events += run(harmful, i, T0 + i * MINUTE, sick).events
    assert [e for e in benign_events if e["kind"] != "baseline_drift"] == []
    assert all(e["evidence"]["adopted"] for e in benign_events if e["kind"] == "baseline_drift")
    opened = [e for e in harmful_events if e["status"] == "open" and e["kind"] in ("news2", "anomaly")]
    assert opened, "the decline was never flagged"
    first = min(core_ts(e) for e in opened)
    assert first < T0 + 420 * MINUTE  # within three hours of a four-hour decline
    # The model may follow the decline while it is still in the normal range,
    # but never adopts a level NEWS2 scores.
    scorers = {
        "heart_rate": news2.pulse,
        "respiratory_rate": news2.respiratory_rate,
        "systolic_bp": news2.systolic_bp,
        "temperature": news2.temperature,
        "spo2": news2.spo2_scale1,
    }
    drifts = [e["evidence"] for e in harmful_events if e["kind"] == "baseline_drift"]
    assert drifts  # the model noticed the levels moving
    assert all(scorers[d["vital"]](d["to"]) == 0 for d in drifts if d["adopted"] and d["vital"] in scorers)


def core_ts(event: dict) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(event["event_time"]).timestamp() * 1000)


def test_a_vital_heading_for_danger_warns_before_it_gets_there() -> None:
    rng = random.Random(17)
    state = patient_state.PatientState()
    seq = 0
    for _ in range(180):  # three hours of this patient's normal
        run(state, seq, T0 + seq * MINUTE, normal(rng))
        seq += 1
    events, crossed = [], None
    for minute in range(12):  # bradycardia: 72 -> 36 over 12 minutes
        vitals = {**normal(rng), "heart_rate": round(72 - 3 * minute + rng.gauss(0, 1))}
        if crossed is None and news2.pulse(vitals["heart_rate"]) == 3:
            crossed = T0 + seq * MINUTE
        events += run(state, seq, T0 + seq * MINUTE, vitals).events
        seq += 1
    trend = [e for e in events if e["kind"] == "trend" and e["status"] == "open"]
    assert trend, "no warning before the heart rate reached NEWS2's red range"
    assert crossed is not None and core_ts(trend[0]) < crossed
    heading = trend[0]["evidence"]["vitals"]["heart_rate"]
    assert heading["slope_per_min"] < 0 and heading["projected"] <= heading["limit"] == 40
    assert heading["level"] > 40 and 0 < heading["minutes_to_limit"] <= 15


def test_a_benign_step_or_a_wobble_raises_no_trend() -> None:
    rng = random.Random(23)
    state = patient_state.PatientState()
    events = []
    for i in range(600):
        vitals = normal(rng)
        if i >= 300:  # new medication: heart rate 72 -> 60 at once, and stays
            vitals["heart_rate"] -= 12
        events += run(state, i, T0 + i * MINUTE, vitals).events
    assert [e for e in events if e["kind"] == "trend"] == []


def hypercapnic(rng: random.Random) -> dict[str, object]:
    """A hypercapnic COPD patient's normal: NEWS2 6 (medium, SpO2 alone 3) on scale 1, 3-4 on scale 2."""
    return around(rng, (95, 2), 90, (22, 0.4), sbp=125) | {"spo2": 90}


def news2_openings(events: list[dict[str, object]]) -> list[object]:
    return [e["severity"] for e in events if e["kind"] == "news2" and e["status"] == "open"]


def test_spo2_is_scored_on_scale_2_from_the_reading_that_prescribes_it_until_one_says_otherwise() -> None:
    rng = random.Random(5)
    rows = [(T0 + i * MINUTE, hypercapnic(rng)) for i in range(240)]
    on_scale_1 = replay(rows)
    assert news2_openings(on_scale_1)[:1] == ["medium"]

    prescribed = [(rows[0][0], rows[0][1] | {"spo2_scale": 2}), *rows[1:]]
    assert news2_openings(replay(prescribed, encode_every=7)) == []  # held across readings and encodings

    state = patient_state.PatientState()
    for seq, (ts, vitals) in enumerate(rows[:20]):
        run(state, seq, ts, vitals | {"spo2_scale": 2})  # said with every observation set, as charts do
    events = run(
        state, 999, rows[5][0] + 1, {"spo2_scale": 1}
    ).events  # said before the latest word: not the last
    for seq, (ts, vitals) in enumerate(rows[20:40], start=20):
        events += run(state, seq, ts, vitals).events
    assert news2_openings(events) == []
    for seq, (ts, vitals) in enumerate(rows[40:80], start=40):
        events += run(state, seq, ts, vitals | ({"spo2_scale": 1} if seq == 40 else {})).events
    assert news2_openings(events) == ["medium"]  # scale 1 again from the reading that says so


def test_a_news2_alert_says_which_spo2_scale_it_scored() -> None:
    """92 % scores 2 on scale 1 and 0 on scale 2: the consumer (and `vigil
    alerts`) sees which one an alert was scored on."""
    rng = random.Random(5)
    on_oxygen = [(T0 + i * MINUTE, hypercapnic(rng) | {"spo2": 97, "on_oxygen": True}) for i in range(60)]
    prescribed = [(on_oxygen[0][0], on_oxygen[0][1] | {"spo2_scale": 2}), *on_oxygen[1:]]
    told = [e for e in replay(prescribed) if e["kind"] == "news2" and e["status"] == "open"]
    assert told, "97 % on oxygen scores 3 on scale 2"
    assert told[0]["evidence"]["spo2_scale"] == 2 and told[0]["evidence"]["subscores"]["spo2"] == 3
    assert "spo2 97 (scale 2)" in describe(told[0])
    on_air = [e for e in replay([(ts, v | {"spo2": 90}) for ts, v in on_oxygen]) if e["kind"] == "news2"]
    assert on_air and on_air[0]["evidence"]["spo2_scale"] == 1
    assert "spo2 90," in describe(on_air[0]) and "scale" not in describe(on_air[0])
