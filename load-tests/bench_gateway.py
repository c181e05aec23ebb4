"""Gateway throughput and ack latency with thousands of connected devices,
side by side for several frame sizes, in one run.

Starts a local Kafka (or uses `--bootstrap`) and one gateway process (no
worker: this measures the gateway), registers `--devices` devices, and runs
the load simulator (`app.tools.loadtest`, the same code as `vigil simulate
--report`) once per configuration: one reading per frame, batches of 10, and
batches of 50, each offering more than the previous. Every reading is acked
only after Kafka's `acks=all` acknowledgement, as in production.

Printed per configuration: offered and acked readings/s, ack latency p50, p99
and p99.9, readings never acked when the drain ended and readings acked but
not found on `vigil.readings` (reconciled by device and seq), and the
gateway's own CPU time per reading (from /proc), which says what one core
would sustain when the gateway has it to itself: on this shared two-core
machine the simulator and Kafka compete with it for the same cores; and the
bytes the gateway wrote to `vigil.device-seqs` per reading (its
`vigil_gateway_seq_window_bytes_total`; 0 for a gateway without that metric).

    .venv/bin/python load-tests/bench_gateway.py [--devices 2000] [--duration 15]
    .venv/bin/python load-tests/bench_gateway.py --configs 1:10,50:25   # issue 14's targets

`--configs` lists the configurations as READINGS_PER_FRAME:READINGS_PER_S_PER_DEVICE
(default 1:1,10:5,50:25); the gateway's per-device rate limit is raised to
allow them. Acked frames/s are printed beside readings/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

import benchlib  # noqa: F401  (puts the repository root on sys.path)
from benchlib import http_get, machine, machine_line, metric, table, vigil_services

from app.infra.settings import Settings  # noqa: E402
from app.tools import loadtest  # noqa: E402

CONFIGS = (  # (readings per frame, readings per second per device)
    (1, 1.0),
    (10, 5.0),
    (50, 25.0),
)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def configs(text: str) -> tuple[tuple[int, float], ...]:
    """ "1:10,50:25" -> ((1, 10.0), (50, 25.0))."""
    try:
        pairs = tuple((int(b), float(r)) for b, r in (item.split(":") for item in text.split(",") if item))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not READINGS_PER_FRAME:RATE[,...]: {text!r}") from None
    if not pairs or any(b < 1 or r <= 0 for b, r in pairs):
        raise argparse.ArgumentTypeError(f"frames of at least 1 reading at a positive rate: {text!r}")
    return pairs


async def measure(
    settings: Settings, devices: int, batch: int, rate: float, duration: float, pid: int
) -> dict:
    plan = loadtest.Plan(
        devices=devices,
        rate=rate,
        duration_s=duration,
        batch=batch,
        deteriorate=0.0,
        drain_s=15.0,
        worker=False,
    )
    run = loadtest.LoadRun(settings, plan, out=open(os.devnull, "w"))
    before, windows = cpu_seconds(pid), seq_window_bytes(settings)
    report = await run.run(asyncio.Event())
    report["gateway_cpu_s"] = cpu_seconds(pid) - before
    report["seq_window_bytes"] = seq_window_bytes(settings) - windows
    return report


def seq_window_bytes(settings: Settings) -> float:
    """Bytes the gateway has written to vigil.device-seqs so far (its metric; 0 if it has none)."""
    answer = http_get(f"http://127.0.0.1:{settings.gateway_http_port}/metrics")
    if answer is None or answer[0] != 200:
        return 0.0
    return sum(metric(answer[1].decode(), "vigil_gateway_seq_window_bytes_total").values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per configuration")
    parser.add_argument(
        "--configs",
        type=configs,
        default=CONFIGS,
        metavar="B:R,...",
        help="readings per frame : readings/s per device, per configuration (default 1:1,10:5,50:25)",
    )
    parser.add_argument("--bootstrap", help="an existing Kafka cluster instead of a local one")
    parser.add_argument("--json", metavar="FILE", help="also write the figures here")
    args = parser.parse_args()
    benchlib.stop_on_signals()

    rate_limit = max(20.0, 2 * max(rate for _, rate in args.configs))  # readings/s per device
    burst = max(1000, 100 * max(batch for batch, _ in args.configs))
    with vigil_services(
        args.bootstrap,
        "vigil-bench-gw-",
        args.devices,
        worker=False,
        DEVICE_RATE=str(rate_limit),
        DEVICE_BURST=str(burst),
    ) as services:
        broker, gateway = services.broker, services.gateway
        results = []
        for batch, rate in args.configs:
            print(f"... {args.devices} devices, {batch} per frame, {rate:g}/s each", file=sys.stderr)
            results.append(
                asyncio.run(measure(services.settings, args.devices, batch, rate, args.duration, gateway.pid))
            )

    m = machine()
    rows = []
    base = results[0]["throughput_rps"] or 1.0
    for r in results:
        ack = r["ack_latency_s"]
        us = r["gateway_cpu_s"] / r["acked"] * 1e6 if r["acked"] else float("nan")
        rows.append(
            [
                f"{r['batch']} per frame",
                f"{r['offered_rps']:,.0f}",
                f"{r['throughput_rps']:,.0f}",
                f"{r['throughput_rps'] / r['batch']:,.0f}",
                f"{r['throughput_rps'] / base:.1f}x",
                f"{ack['p50'] * 1000:.1f}",
                f"{ack['p99'] * 1000:.1f}",
                f"{ack['p999'] * 1000:.1f}",
                str(r["lost_detail"]["never_acked"]),
                str(r["lost_detail"]["acked_not_stored"]),
                f"{us:.1f}",
                f"{1e6 / us:,.0f}",
                f"{r['seq_window_bytes'] / r['acked']:,.0f}" if r["acked"] else "-",
            ]
        )
    print(machine_line(m))
    print(f"broker: {broker}; {args.devices} devices connected, {args.duration:g} s per configuration")
    print(
        table(
            [
                "configuration",
                "offered/s",
                "acked/s",
                "acked frames/s",
                "vs first",
                "p50 ms",
                "p99 ms",
                "p99.9 ms",
                "never acked",
                "acked, not stored",
                "gw CPU us/reading",
                "readings/s per gw core",
                "device-seqs bytes/reading",
            ],
            rows,
        )
    )
    print(
        "targets (issue 14): >= 10,000 frames/s per gateway process at 1 reading per frame, "
        ">= 50,000 readings/s at 50; acked after Kafka's acknowledgement"
    )
    if args.json:
        Path(args.json).write_text(
            __import__("json").dumps({"machine": m, "broker": broker, "results": results}, indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
