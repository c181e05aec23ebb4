"""Worker state: memory per patient, and the time to recover the state after
a crash (SIGKILL) and a restart, for --patients patients (default 100,000) in
one Vigil worker.

What it does, in one run:

1. Provisions a local Kafka in a temp dir (unless --bootstrap is given),
   Vigil's topics (`app.infra.topics.ensure_topics`), and the worker's changelog
   topic `<worker id>-patients-changelog`, compacted, with the worker's
   partition count (--partitions, Vigil's default 4), before any worker runs.
2. Builds realistic patient states with the pure core: --templates patients
   of the evaluation cohort (`app.tools.evaluation.cohort`) are each advanced
   through --readings-per-patient readings (default 200) with
   `app.core.patient.process`; every one of the --patients states is one of
   these, varied (reading count, last reading id, artifact share, baseline
   means and levels, latest values) so that no two are identical. Each is
   written straight to the changelog: key = the pseudonym bytes
   (`app.core.records.pseudonym(key, "patient-<i>")`), value =
   `app.core.patient.encode(state)`, partitioned by aiokafka's default
   partitioner (murmur2 of the key, as Java's). That is where Faust puts
   them too: a table write goes to the partition of the source record, and
   the gateway keys `vigil.readings` by the same pseudonym with the same
   partitioner.
3. Starts a worker with an empty table (another worker id) and measures its
   time to ready and its resident memory; stops it.
4. Starts the worker over the full changelog: time from process start to
   /readyz 200 (its table recovered), its RSS (VmRSS of /proc/<pid>/status)
   once ready, and `vigil_worker_patients` from its /metrics (the worker
   counts its table a slice at a time: polled until it shows the patients
   written, for up to 60 s).
5. SIGKILLs it (a crash), starts it again and measures the same: this
   includes Kafka waiting for the dead member's session to expire
   (VIGIL_WORKER_SESSION_TIMEOUT_S, default 10 s) before handing its
   partitions over.

Reports bytes per patient = (RSS with the patients - RSS with an empty table)
/ patients, beside the average encoded state size, the times to ready, and
the targets: 100,000 patients under 1 GiB resident (for another --patients,
the RSS projected to 100,000 from the bytes per patient), recovery after a
crash under 20 s. With few patients the per-process overheads (allocator
arenas, buffers) weigh more, and the bytes per patient come out higher (about
11 KB at 2,000 patients against 7.8 KB at 100,000 here): measure at the size
that matters. --json FILE writes the same figures. Exits 1 if a worker's
patient count differs from the number written. The machine is shared and
noisy: compare medians over runs.

    .venv/bin/python load-tests/bench_state.py                    # 100,000 patients
    .venv/bin/python load-tests/bench_state.py --patients 20000 --json /tmp/state.json

--bootstrap HOST:PORT uses an existing cluster (topic names carry a random
run id); --keep keeps the temp dir (worker logs, Kafka data).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib  # noqa: E402  (also puts the repository root on sys.path)
from aiokafka import AIOKafkaProducer  # noqa: E402
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from app.core import patient as core  # noqa: E402
from app.core import state as patient_state
from app.core.records import pseudonym, reading_id  # noqa: E402
from app.infra.settings import Settings  # noqa: E402
from app.infra.topics import ensure_topics  # noqa: E402
from app.tools.evaluation import cohort  # noqa: E402

TARGET_PATIENTS = 100_000
TARGET_RSS = 2**30  # 1 GiB resident for TARGET_PATIENTS
TARGET_RECOVERY_S = 20.0
MiB = 2**20


def templates(count: int, readings: int, seed: int) -> list[bytes]:
    """Encoded states of `count` cohort patients after `readings` readings each."""
    days = readings * 1.5 / 1440 + 0.05
    out = []
    for simulated in cohort(count, days, seed):
        state = patient_state.PatientState()
        for reading in simulated.readings[:readings]:
            core.process(state, simulated.subject, "bench", reading)
        out.append(patient_state.encode(state))
    return out


def patient_states(key: bytes, patients: int, bases: list[bytes], seed: int) -> Iterator[tuple[bytes, bytes]]:
    """(changelog key, encoded state) for each patient: a template, varied."""
    rng = random.Random(seed)
    for i in range(patients):
        state = patient_state.decode(bases[i % len(bases)])  # a fresh copy to change
        state.count += rng.randint(0, 50)
        state.last_id = reading_id(f"bench-dev-{i}", state.count)
        for entry in state.quality.values():  # [artifact share, no-signal since, notified]
            entry[0] = round(min(1.0, max(0.0, entry[0] + rng.uniform(-0.02, 0.02))), 4)
        for baseline in state.baselines.values():  # the learned level, moved a little
            shift = rng.gauss(0, 0.5)
            baseline.var.mean += shift
            baseline.recent += shift
            baseline.level += shift
        for latest in state.latest.values():  # name -> [value, ts, cadence]
            if isinstance(latest[0], float):
                latest[0] = round(latest[0] + rng.uniform(-0.2, 0.2), 1)
            elif isinstance(latest[0], int) and not isinstance(latest[0], bool):
                latest[0] += rng.randint(-2, 2)
        value = patient_state.encode(state)
        yield pseudonym(key, f"patient-{i}").encode(), value


async def write_changelog(
    bootstrap: str, topic: str, partitions: int, records: Iterator[tuple[bytes, bytes]]
) -> tuple[int, int, float]:
    """Create the compacted changelog topic and fill it; (records, value bytes, seconds)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, partitions, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    count = size = 0
    started = time.perf_counter()
    try:
        futures = []
        for key, value in records:  # the default partitioner: murmur2(key), as Faust and the gateway
            futures.append(await producer.send(topic, value=value, key=key))
            count += 1
            size += len(value)
        await producer.flush()
        for future in futures:
            future.result()  # raises if a record was not stored
    finally:
        await producer.stop()
    return count, size, time.perf_counter() - started


COUNTED_WITHIN_S = 60.0  # how long the patients gauge may take to show a full table
SCRAPES = 7  # /metrics requests timed once it does


def start_worker(
    name: str,
    procs: benchlib.Processes,
    env: dict[str, str],
    worker_id: str,
    timeout: float,
    expected: int = 0,
) -> tuple[Any, dict[str, Any]]:
    """Start `vigil worker`; wait for /readyz; measure. (process, figures)."""
    ports_file = procs.log_dir / f"{name}.ports.json"  # on port 0: it reports the port it bound
    started = time.monotonic()
    proc = procs.start(
        name,
        [sys.executable, "-m", "app.cli", "worker", "--ports-file", str(ports_file)],
        dict(env, VIGIL_WORKER_ID=worker_id, VIGIL_WORKER_WEB_PORT="0"),
    )
    try:
        web = f"http://127.0.0.1:{benchlib.reported_ports(ports_file, proc, timeout, name)['web']}"
        ready = benchlib.wait_ready(web + "/readyz", proc, timeout, interval=0.1)
    except RuntimeError as exc:
        raise RuntimeError(f"{name}: {exc}\n{procs.log_tail(name)}") from None
    rss, peak = benchlib.rss_bytes(proc.pid)
    patients, deadline = None, time.monotonic() + COUNTED_WITHIN_S
    while True:  # the census publishes each complete pass over the table (agents.cache.PatientCensus)
        answer = benchlib.http_get(web + "/metrics", timeout=30)
        if answer is None or answer[0] != 200:
            raise RuntimeError(f"{name}: no /metrics")
        patients = benchlib.metric(answer[1].decode(), "vigil_worker_patients").get("")
        if patients == expected or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    counted = time.monotonic()
    scrapes = []  # what a Prometheus scrape costs the worker (its event loop serves it)
    for _ in range(SCRAPES):
        began = time.perf_counter()
        benchlib.http_get(web + "/metrics", timeout=30)
        scrapes.append(time.perf_counter() - began)
    return proc, {
        "case": name,
        "ready_s": round(ready - started, 2),
        "counted_s": round(counted - ready, 2),  # ready to the patients gauge showing the table
        "scrape_ms": round(statistics.median(scrapes) * 1000, 1),
        "rss_bytes": rss,
        "peak_rss_bytes": peak,
        "patients_metric": int(patients) if patients is not None else None,
    }


async def bench(
    args: argparse.Namespace, bootstrap: str, tmp: Path, procs: benchlib.Processes
) -> dict[str, Any]:
    run = secrets.token_hex(3)
    key_hex = secrets.token_hex(32)
    settings = Settings.from_env().with_(
        home=tmp / "vigil-home", kafka_bootstrap=bootstrap, partitions=args.partitions
    )
    # The worker needs VIGIL_HOME to exist when the key comes from the environment.
    settings.home.mkdir(parents=True, exist_ok=True)
    await ensure_topics(settings)
    full_id, empty_id = f"bench-state-{run}", f"bench-state-empty-{run}"
    changelog = f"{full_id}-patients-changelog"

    print(
        f"building {args.templates} template states of {args.readings_per_patient} readings ...",
        file=sys.stderr,
    )
    bases = templates(args.templates, args.readings_per_patient, args.seed)
    print(f"writing {args.patients:,} patient states to {changelog} ...", file=sys.stderr)
    written, value_bytes, produce_s = await write_changelog(
        bootstrap,
        changelog,
        args.partitions,
        patient_states(bytes.fromhex(key_hex), args.patients, bases, args.seed),
    )
    print(f"  {written:,} states, {value_bytes / MiB:.1f} MiB in {produce_s:.1f} s", file=sys.stderr)

    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(
        VIGIL_HOME=str(settings.home),
        VIGIL_KAFKA_BOOTSTRAP=bootstrap,
        VIGIL_LOG_FORMAT="json",
        VIGIL_PARTITIONS=str(args.partitions),
        VIGIL_PSEUDONYM_KEY=key_hex,
    )
    cases = []
    print("worker with an empty table ...", file=sys.stderr)
    proc, figures = start_worker("empty", procs, env, empty_id, args.timeout)
    benchlib.Processes.stop(proc)
    cases.append(figures)

    print(f"worker with {written:,} patients ...", file=sys.stderr)
    proc, figures = start_worker("full", procs, env, full_id, args.timeout, written)
    cases.append(figures)
    print("SIGKILL, then restart ...", file=sys.stderr)
    benchlib.Processes.kill(proc)
    proc, figures = start_worker("after-crash", procs, env, full_id, args.timeout, written)
    benchlib.Processes.stop(proc)
    cases.append(figures)

    empty, full, crash = cases
    per_patient = (full["rss_bytes"] - empty["rss_bytes"]) / written
    projected = empty["rss_bytes"] + per_patient * TARGET_PATIENTS
    return {
        "changelog": {"records": written, "value_bytes": value_bytes, "produce_s": round(produce_s, 2)},
        "cases": cases,
        "bytes_per_patient": round(per_patient),
        "encoded_bytes_per_patient": round(value_bytes / written),
        "rss_for_target_patients_bytes": round(
            full["rss_bytes"] if written == TARGET_PATIENTS else projected
        ),
        "counts_ok": full["patients_metric"] == written
        and crash["patients_metric"] == written
        and empty["patients_metric"] == 0,
    }


def report(out: dict[str, Any]) -> str:
    n = out["changelog"]["records"]
    labels = {
        "empty": "empty table",
        "full": f"{n:,} patients, first start",
        "after-crash": f"{n:,} patients, after SIGKILL",
    }
    rows = [
        [
            labels[c["case"]],
            f"{c['ready_s']:.2f}",
            f"{c['rss_bytes'] / MiB:,.0f}",
            f"{c['peak_rss_bytes'] / MiB:,.0f}",
            f"{c['patients_metric']:,}" if c["patients_metric"] is not None else "-",
            f"{c['counted_s']:.1f}",
            f"{c['scrape_ms']:.1f}",
        ]
        for c in out["cases"]
    ]
    crash = out["cases"][2]
    rss_target = out["rss_for_target_patients_bytes"]
    rss_met = "met" if rss_target < TARGET_RSS else "not met"
    projected = "" if n == TARGET_PATIENTS else ", projected from the bytes per patient"
    recovery_met = "met" if crash["ready_s"] < TARGET_RECOVERY_S else "not met"
    lines = [
        benchlib.table(
            [
                "worker",
                "start to ready s",
                "RSS MiB",
                "peak RSS MiB",
                "vigil_worker_patients",
                "counted after s",
                "/metrics ms (median)",
            ],
            rows,
        ),
        (
            f"bytes per patient (RSS with patients - RSS empty) / {n:,}: {out['bytes_per_patient']:,} "
            f"(encoded state: {out['encoded_bytes_per_patient']:,} bytes; "
            f"changelog written in {out['changelog']['produce_s']:.1f} s)"
        ),
        f"patient counts match what was written: {'yes' if out['counts_ok'] else 'NO'}",
        f"{out['config']['partitions']} partitions; {out['kafka']}",
        benchlib.machine_line(out["machine"]),
        (
            f"target: {TARGET_PATIENTS:,} patients under 1 GiB resident -> {rss_met} "
            f"({rss_target / MiB:,.0f} MiB{projected})"
        ),
        (
            f"target: recovery after a crash under {TARGET_RECOVERY_S:.0f} s -> {recovery_met} "
            f"({crash['ready_s']:.1f} s, restart to ready, {n:,} patients)"
        ),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--patients", type=int, default=100_000, help="patient states in the changelog (default 100,000)"
    )
    parser.add_argument(
        "--templates",
        type=int,
        default=64,
        help="distinct cohort patients the states start from (default 64)",
    )
    parser.add_argument(
        "--readings-per-patient",
        type=int,
        default=200,
        help="readings each template has processed (default 200)",
    )
    parser.add_argument(
        "--partitions", type=int, default=4, help="partitions of the topics (default 4, Vigil's)"
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="seconds a worker may take to be ready (default 900)"
    )
    parser.add_argument("--bootstrap", help="use this Kafka cluster instead of a local one")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (worker logs, Kafka data)")
    args = parser.parse_args()

    benchlib.stop_on_signals()
    out, kafka_desc = benchlib.run_with_kafka(args, "vigil-bench-state-", bench)
    out = {
        "benchmark": "bench_state",
        "machine": benchlib.machine(),
        "kafka": kafka_desc,
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "targets": {"patients": TARGET_PATIENTS, "rss_bytes": TARGET_RSS, "recovery_s": TARGET_RECOVERY_S},
        **out,
    }
    print(report(out))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    if not out["counts_ok"]:
        sys.exit(1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted; every process this run started has been stopped", file=sys.stderr)
        sys.exit(130)
