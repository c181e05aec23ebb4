"""`vigil devices clocks`: which device's clock is off, from the frames on
`vigil.readings` (the gateway's receipt time against the readings' own)."""

from __future__ import annotations

from app.core.records import ReadingBatch
from app.tools import clocks

NOW = 1_764_374_400_000


def frame(device: str, received_ms: int, *ts: int) -> ReadingBatch:
    readings = [{"id": f"r{i}", "seq": i, "ts": t, "vitals": {"heart_rate": 70}} for i, t in enumerate(ts)]
    return ReadingBatch(device, "p-" + "0" * 32, received_ms, readings)


def test_a_device_stamping_readings_past_their_receipt_is_ahead_and_listed_first() -> None:
    frames = [
        frame("monitor", NOW + i * 60_000, NOW + i * 60_000 - 300)
        for i in range(5)  # live, 0.3 s old
    ] + [
        frame("cuff", NOW + i * 60_000, NOW + i * 60_000 + 45_000)
        for i in range(3)  # 45 s ahead
    ]
    rows = clocks.report(frames)
    assert [r["device_id"] for r in rows] == ["cuff", "monitor"]
    assert rows[0] == {
        "device_id": "cuff",
        "frames": 3,
        "age_s_median": -45.0,
        "age_s_min": -45.0,
        "ahead": True,
        "stepped_back": 0,
    }
    assert rows[1]["ahead"] is False and rows[1]["age_s_median"] == 0.3


def test_a_buffered_batch_is_late_not_ahead_and_its_newest_reading_counts() -> None:
    """A wearable sending ten minutes of readings on reconnecting: its frame's
    age is its newest reading's, and late is not ahead."""
    batch = frame("watch", NOW, *(NOW - 600_000 + i * 60_000 for i in range(10)))
    (row,) = clocks.report([batch])
    assert row["age_s_min"] == 60.0 and row["ahead"] is False


def test_a_clock_a_little_ahead_is_within_tolerance_and_frames_without_readings_are_ignored() -> None:
    rows = clocks.report([frame("probe", NOW, NOW + 2_000), frame("empty", NOW)])
    assert rows == [
        {
            "device_id": "probe",
            "frames": 1,
            "age_s_median": -2.0,
            "age_s_min": -2.0,
            "ahead": False,
            "stepped_back": 0,
        }
    ]


def numbered(device: str, received_ms: int, first_seq: int, *ts: int) -> ReadingBatch:
    readings = [{"id": f"r{first_seq + i}", "seq": first_seq + i, "ts": t, "vitals": {"heart_rate": 70}}
                for i, t in enumerate(ts)]  # fmt: skip
    return ReadingBatch(device, "p-" + "0" * 32, received_ms, readings)


def test_a_clock_stepped_back_is_counted_and_listed_first() -> None:
    """A monitor whose clock stepped back ten minutes while sending (a
    firmware time-zone bug): its later readings, numbered after ones
    stamped ten minutes later, are stored and acknowledged but scored only
    for channels with nothing newer, so the patient's detection waits (found
    by firmware written from the docs). The device is named first, with how
    many readings stepped back; a backlog resent newest first, with its own
    seqs, is not a step."""
    frames = [numbered("bed-f", NOW + i * 2_000, i, NOW + i * 2_000) for i in range(10)]
    frames += [numbered("bed-f", NOW + i * 2_000, i, NOW + i * 2_000 - 600_000) for i in range(10, 20)]
    backlog = [{"id": f"w{k}", "seq": 100 + k, "ts": NOW - 600_000 + k * 60_000, "vitals": {"heart_rate": 70}}
               for k in range(10)]  # fmt: skip
    frames += [ReadingBatch("watch", "p-" + "0" * 32, NOW + 20_000, backlog[::-1])]  # newest first
    frames += [numbered("monitor", NOW + i * 60_000, i, NOW + i * 60_000) for i in range(3)]
    rows = clocks.report(frames)
    assert [(r["device_id"], r["stepped_back"]) for r in rows][0] == ("bed-f", 10)
    assert {r["device_id"]: r["stepped_back"] for r in rows[1:]} == {"watch": 0, "monitor": 0}


def test_simulated_devices_do_not_step_back_from_one_run_to_the_next(tmp_path, monkeypatch) -> None:
    """Each simulation run re-creates 40 minutes of history. Sent under the
    same device ids as the run before (`sim-<n>`), it was a clock stepped
    back 40 minutes: after a few `make run`s `vigil devices clocks` gave
    every simulated device `stepped_back` in the hundreds, which the
    runbook (VigilReadingsNotScored) reads as a device to have fixed (a
    newcomer's report). Two runs here, their devices numbering their
    readings on from what the gateway stored of them (as its hello says),
    as the reference client does: none steps back."""
    import asyncio

    from app.cli import up
    from app.infra.settings import Settings
    from app.tools import simulate

    stored: dict[str, list[tuple[int, int]]] = {}  # device -> (seq, ts), as the gateway keeps them

    class Device:
        def __init__(self, device_id: str) -> None:
            self.device_id = device_id

        async def run(self, stop: asyncio.Event) -> None:
            await stop.wait()

        async def send(self, ts_ms: int, vitals: dict, seq: int | None = None) -> int:
            held = stored.setdefault(self.device_id, [])
            held.append((len(held), ts_ms))  # numbered after the gateway's last_seq
            return len(held) - 1

    async def clients_for(_settings, devices, _stats):
        return {d: Device(d) for d in devices}

    monkeypatch.setattr(simulate, "clients_for", clients_for)
    settings = Settings.from_env().with_(home=tmp_path)

    async def one_run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        await up.simulate_fleet(settings, 3, 1e6, stop)  # 40 minutes of history at once

    for _ in range(2):
        asyncio.run(one_run())
    now = max(ts for held in stored.values() for _, ts in held)
    frames = [
        ReadingBatch(d, "p-" + "0" * 32, now, [{"id": f"{d}-{s}", "seq": s, "ts": t, "vitals": {}}])
        for d, held in stored.items()
        for s, t in held
    ]
    rows = clocks.report(frames)
    assert {r["device_id"]: r["stepped_back"] for r in rows if r["stepped_back"]} == {}
    assert len(rows) == 6 and all(r["frames"] >= 240 for r in rows), rows  # 3 devices a run, 40 min each
