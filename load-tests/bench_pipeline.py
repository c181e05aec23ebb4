"""End to end: gateway receipt to alert produced, at half of peak throughput.

Starts a local Kafka (or uses `--bootstrap`), one gateway and one worker,
then runs the load simulator (`app.tools.loadtest`, as `vigil simulate --report`)
twice, side by side in one run:

1. peak: more load than the pipeline can take (`--peak-offer` readings/s);
   the peak is what the worker processed per second while it was saturated
   (from its `vigil_worker_readings_total`), or what the gateway acked if
   that is lower;
2. half: half of that peak, with more patients deteriorating, after the
   worker has caught up; then a quarter of it, to show where the latency
   target is met when it is not at half.

For each: offered and acked readings/s, readings the worker processed per
second, readings lost (reconciled by device and seq), the worker's
`vigil_end_to_end_latency_seconds` p99 (gateway receipt to alert produced,
the target's definition; read from the histogram's buckets, so an upper
bound), and the simulator's alert latency (reading sent to alert read back
from `vigil.alerts`) p50 and p99.

    .venv/bin/python load-tests/bench_pipeline.py [--devices 1000] [--duration 20] [--batch 1]

Devices send one reading per frame by default (`--batch`: readings per
frame), as a bedside monitor does once a second; the size of such a frame
on the websocket and as the gateway's Kafka record is printed first.

`--coalesce MS [MS ...]` compares the gateway's coalescing windows
(`VIGIL_GATEWAY_COALESCE_MS`; 0: one record per frame) side by side in one
run instead: for each window, a fresh broker, gateway and worker, and one
phase at each of the same `--offer` loads (readings/s), with the readings/s
acked and processed, ack latency p50/p99, the e2e p99 bound, the readings
per `vigil.readings` record, and the gateway's and the worker's CPU time per
reading processed (from /proc, the phase and the worker's catching up after it).

    .venv/bin/python load-tests/bench_pipeline.py --coalesce 0 2 --offer 2000 8000 --duration 15

The worker's rate is sampled while the devices send, from 2 s after they
start (all connected; connecting a thousand devices on a loaded machine takes
many seconds, which a window counted from the phase's start used to include,
so the peak, and the half and quarter loads, came out too low) to 1 s before
they stop: keep `--duration` at 15 s or more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import time
from pathlib import Path

import benchlib  # noqa: F401  (puts the repository root on sys.path)
import orjson
from benchlib import FLEET_CONFIRM_S, http_get, machine, machine_line, metric, table, vigil_services

from app.core.protocol import Reading  # noqa: E402
from app.core.records import encode_readings, pseudonym  # noqa: E402
from app.infra.settings import Settings  # noqa: E402
from app.tools import loadtest  # noqa: E402
from app.tools.simulate import Patient  # noqa: E402


def frame_bytes(batch: int) -> tuple[int, int]:
    """(websocket frame, Kafka record) bytes of one frame of `batch` readings
    of a stable patient, as the simulator sends it and the gateway stores it."""
    patient = Patient(random.Random(1))
    now = int(time.time() * 1000)
    readings = [
        {"type": "reading", "ts": ts, "vitals": patient.vitals(ts), "seq": 100_000 + k}
        for k, ts in enumerate(range(now, now + batch * 1000, 1000))
    ]
    frame = orjson.dumps(readings[0] if batch == 1 else {"type": "batch", "readings": readings})
    subject = pseudonym(secrets.token_bytes(32), "LOAD-00000")
    record = encode_readings(
        "load-00000", subject, now, [Reading(r["seq"], r["ts"], r["vitals"]) for r in readings]
    )
    return len(frame), len(record)


def scrape(url: str) -> str:
    answer = http_get(url, timeout=5.0)
    return answer[1].decode() if answer and answer[0] == 200 else ""


def processed(text: str) -> float:
    return sum(metric(text, "vigil_worker_readings_total").values())


def e2e_buckets(text: str) -> dict[float, float]:
    found = {}
    for labels, value in metric(text, "vigil_end_to_end_latency_seconds_bucket").items():
        bound = labels.split('le="', 1)[1].split('"', 1)[0]
        found[float("inf") if bound == "+Inf" else float(bound)] = value
    return found


def p99_bound(before: dict[float, float], after: dict[float, float]) -> float | None:
    """Upper bound of the bucket holding the 99th percentile of what was
    observed between two scrapes."""
    delta = {b: after.get(b, 0) - before.get(b, 0) for b in after}
    total = delta.get(float("inf"), 0)
    if not total:
        return None
    for bound in sorted(delta):
        if delta[bound] >= 0.99 * total:
            return bound
    return None


def wait_caught_up(url: str, timeout: float = 120.0) -> None:
    """Until the worker's processed count stops moving (its backlog is done)."""
    last, still = -1.0, 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and still < 3:
        now = processed(scrape(url))
        still = still + 1 if now == last else 0
        last = now
        time.sleep(1.0)


async def phase(
    settings: Settings,
    url: str,
    devices: int,
    offered: float,
    batch: int,
    duration: float,
    deteriorate: float,
) -> dict:
    plan = loadtest.Plan(
        devices=devices,
        rate=offered / devices,
        duration_s=duration,
        batch=batch,
        deteriorate=deteriorate,
        drain_s=60.0,
    )
    before_text = scrape(url)
    run = loadtest.LoadRun(settings, plan, out=open(os.devnull, "w"))
    sampler = asyncio.ensure_future(_sample_processed(url, run, duration))
    report = await run.run(asyncio.Event())
    after_text = scrape(url)
    report["worker_rps"] = await sampler
    report["e2e_p99_bound_s"] = p99_bound(e2e_buckets(before_text), e2e_buckets(after_text))
    return report


async def _sample_processed(url: str, run: loadtest.LoadRun, duration: float) -> float:
    """Readings/s the worker processed while the devices were sending: from
    2 s after they started (all of them connected) to 1 s before they stop.
    Connecting a thousand devices takes many seconds on a loaded machine, so
    a window counted from the phase's start measured the connecting."""
    await run.sending_started.wait()
    sending = time.monotonic()
    await asyncio.sleep(min(2.0, duration / 4))
    first, t0 = processed(await asyncio.to_thread(scrape, url)), time.monotonic()
    await asyncio.sleep(max(1.0, sending + duration - 1.0 - time.monotonic()))
    last, t1 = processed(await asyncio.to_thread(scrape, url)), time.monotonic()
    return (last - first) / (t1 - t0)


PHASES = ("quarter", "half", "peak")


def plot_latency(runs: list[dict], path: Path) -> None:
    """Latency against load: each run's quarter, half and peak phases, the
    simulator's alert latency p50 and p99 and the worker's e2e p99 bound,
    against the readings/s the worker processed."""
    import logging

    import matplotlib

    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
    for i, run in enumerate(runs, 1):
        xs = [run[p]["worker_rps"] for p in PHASES]
        series = (
            ("alert latency p99", [run[p]["alert_latency_s"]["p99"] for p in PHASES], "o-"),
            ("alert latency p50", [run[p]["alert_latency_s"]["p50"] for p in PHASES], "s--"),
            ("e2e p99 (bucket bound)", [run[p]["e2e_p99_bound_s"] for p in PHASES], "^:"),
        )
        for j, (name, ys, style) in enumerate(series):
            points = [(x, y * 1000) for x, y in zip(xs, ys, strict=True) if y is not None]
            ax.plot(
                *zip(*points, strict=True),
                style,
                color=f"C{j}",
                alpha=0.4 + 0.6 * i / len(runs),
                label=f"{name}" if i == 1 else None,
            )
    ax.axhline(100, color="black", linewidth=0.8)
    ax.annotate(
        "target: e2e p99 < 100 ms at half of peak",
        (0.01, 100),
        xycoords=("axes fraction", "data"),
        textcoords="offset points",
        xytext=(0, 4),
        fontsize=8,
    )
    ax.set_yscale("log")
    ax.set_xlabel("readings/s processed by the worker (quarter, half and peak of each run)")
    ax.set_ylabel("ms (log scale)")
    first = runs[0]
    frame = first.get("frame", {})
    ax.set_title(
        f"bench_pipeline.py: {len(runs)} run(s), {frame.get('readings', '?')} reading(s) per frame, "
        "gateway and worker\n2 shared vCPUs, Kafka and the simulated devices on the same cores",
        fontsize=9,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def readings_per_record(text_before: str, text_after: str) -> float | None:
    """Readings the gateway stored per `vigil.readings` record between two scrapes of its metrics."""

    def totals(text: str) -> tuple[float, float]:
        readings = metric(text, "vigil_gateway_readings_total")
        accepted = sum(v for k, v in readings.items() if 'outcome="accepted"' in k)
        return accepted, sum(metric(text, "vigil_gateway_readings_records_total").values())

    (r0, n0), (r1, n1) = totals(text_before), totals(text_after)
    return (r1 - r0) / (n1 - n0) if n1 > n0 else None


def cpu_s(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def compare_coalescing(args: argparse.Namespace) -> list[list[str]]:
    """One row per (window, offered load): a fresh broker, gateway and worker per window."""
    rows = []
    for window in args.coalesce:
        with vigil_services(
            args.bootstrap,
            "vigil-bench-coalesce-",
            args.devices,
            worker=True,
            WORKER_ID=f"vigil-bench-coalesce-{window:g}",
            DEVICE_RATE="1000",
            DEVICE_BURST="5000",
            GATEWAY_COALESCE_MS=f"{window:g}",
            CONFIRM_S=FLEET_CONFIRM_S,
        ) as services:
            url = f"{services.worker_url}/metrics"
            gateway_url = f"http://127.0.0.1:{os.environ['VIGIL_GATEWAY_HTTP_PORT']}/metrics"
            for offer in args.offer:
                print(f"... coalescing {window:g} ms: offering {offer:,.0f} readings/s", file=sys.stderr)
                before = scrape(gateway_url)
                pids = (services.gateway.pid, services.worker.pid)  # type: ignore[union-attr]
                cpu0, readings0 = [cpu_s(p) for p in pids], processed(scrape(url))
                r = asyncio.run(
                    phase(services.settings, url, args.devices, offer, args.batch, args.duration, 0.3)
                )
                per_record = readings_per_record(before, scrape(gateway_url))
                wait_caught_up(url)
                done = max(1.0, processed(scrape(url)) - readings0)
                spent = [cpu_s(p) - c for p, c in zip(pids, cpu0, strict=True)]
                gateway_cpu, worker_cpu = (1e6 * s / done for s in spent)
                ack = r["ack_latency_s"]
                rows.append(
                    [
                        f"{window:g}",
                        f"{offer:,.0f}",
                        f"{r['throughput_rps']:,.0f}",
                        f"{r['worker_rps']:,.0f}",
                        "-" if per_record is None else f"{per_record:.1f}",
                        _ms(ack["p50"]),
                        _ms(ack["p99"]),
                        _ms(r["e2e_p99_bound_s"]),
                        _ms(r["alert_latency_s"]["p99"]),
                        str(r["lost"]),
                        f"{gateway_cpu:,.0f}",
                        f"{worker_cpu:,.0f}",
                    ]
                )
    return rows


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x * 1000:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1, help="readings per frame (default 1)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending per phase")
    parser.add_argument(
        "--peak-offer", type=float, default=20_000.0, help="readings/s offered in the peak phase"
    )
    parser.add_argument("--bootstrap", help="an existing Kafka cluster instead of a local one")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    parser.add_argument("--plot", type=Path, metavar="PNG", help="draw latency against load to PNG")
    parser.add_argument(
        "--from-json", type=Path, nargs="+", metavar="FILE", help="with --plot: draw saved --json runs"
    )
    parser.add_argument(
        "--coalesce",
        type=float,
        nargs="+",
        metavar="MS",
        help="compare these VIGIL_GATEWAY_COALESCE_MS windows (0: off) at the --offer loads",
    )
    parser.add_argument(
        "--offer",
        type=float,
        nargs="+",
        default=[2000.0, 8000.0],
        metavar="RPS",
        help="with --coalesce: readings/s offered, one phase each (default 2000 8000)",
    )
    args = parser.parse_args()
    if args.coalesce:
        benchlib.stop_on_signals()
        rows = compare_coalescing(args)
        print(machine_line(machine()))
        print(f"{args.devices} devices, {args.batch} reading(s) per frame, {args.duration:g} s per phase")
        print(
            table(
                [
                    "coalesce ms",
                    "offered/s",
                    "acked/s",
                    "worker/s",
                    "readings/record",
                    "ack p50 ms",
                    "ack p99 ms",
                    "e2e p99 ms (<=)",
                    "alert p99 ms",
                    "lost",
                    "gateway CPU µs/reading",
                    "worker CPU µs/reading",
                ],
                rows,
            )
        )
        return 0
    if args.from_json:
        if not args.plot:
            parser.error("--from-json needs --plot")
        plot_latency([json.loads(f.read_text()) for f in args.from_json], args.plot)
        return 0
    benchlib.stop_on_signals()
    ws_bytes, record_bytes = frame_bytes(args.batch)
    print(
        f"frame: {args.batch} reading(s), {ws_bytes} bytes on the websocket, "
        f"{record_bytes} bytes as a Kafka record",
        file=sys.stderr,
    )

    with vigil_services(
        args.bootstrap,
        "vigil-bench-e2e-",
        args.devices,
        worker=True,
        WORKER_ID="vigil-bench-e2e",
        DEVICE_RATE="1000",
        DEVICE_BURST="5000",
        CONFIRM_S=FLEET_CONFIRM_S,
    ) as services:
        broker, settings = services.broker, services.settings
        url = f"{services.worker_url}/metrics"
        print(f"... peak: offering {args.peak_offer:,.0f} readings/s", file=sys.stderr)
        offer = args.peak_offer
        peak = asyncio.run(phase(settings, url, args.devices, offer, args.batch, args.duration, 0.1))
        capacity = min(peak["worker_rps"], peak["throughput_rps"])
        wait_caught_up(url)
        print(f"... half: offering {capacity / 2:,.0f} readings/s", file=sys.stderr)
        half = asyncio.run(phase(settings, url, args.devices, capacity / 2, args.batch, args.duration, 0.3))
        wait_caught_up(url)
        print(f"... quarter: offering {capacity / 4:,.0f} readings/s", file=sys.stderr)
        quarter = asyncio.run(
            phase(settings, url, args.devices, capacity / 4, args.batch, args.duration, 0.3)
        )

    def ms(x: float | None) -> str:
        return "-" if x is None else f"{x * 1000:.0f}"

    rows = []
    for name, r in (("peak", peak), ("half of peak", half), ("quarter of peak", quarter)):
        rows.append(
            [
                name,
                f"{r['offered_rps']:,.0f}",
                f"{r['throughput_rps']:,.0f}",
                f"{r['worker_rps']:,.0f}",
                str(r["lost"]),
                ms(r["e2e_p99_bound_s"]),
                ms(r["alert_latency_s"]["p50"]),
                ms(r["alert_latency_s"]["p99"]),
                str(r["alert_latency_s"]["count"]),
            ]
        )
    print(machine_line(machine()))
    print(
        f"broker: {broker}; {args.devices} devices, {args.batch} reading(s) per frame "
        f"({ws_bytes} bytes on the websocket, {record_bytes} as a Kafka record), "
        f"{args.duration:g} s per phase"
    )
    print(
        table(
            [
                "phase",
                "offered/s",
                "acked/s",
                "worker/s",
                "lost",
                "e2e p99 ms (<=)",
                "alert p50 ms",
                "alert p99 ms",
                "alerts",
            ],
            rows,
        )
    )
    print("target: p99 from gateway receipt to alert produced under 100 ms at half of peak throughput")
    if args.json:
        frame = {"readings": args.batch, "websocket_bytes": ws_bytes, "kafka_record_bytes": record_bytes}
        figures = {
            "machine": machine(),
            "broker": broker,
            "frame": frame,
            "peak": peak,
            "half": half,
            "quarter": quarter,
        }
        Path(args.json).write_text(json.dumps(figures, indent=2))
    if args.plot:
        frame = {"readings": args.batch}
        plot_latency([{"frame": frame, "peak": peak, "half": half, "quarter": quarter}], args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
