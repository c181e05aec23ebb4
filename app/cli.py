"""The `vigil` command."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import orjson

from app import logs
from app.runtime import stop_on_signals
from app.settings import Settings
from app.topics import ensure_topics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vigil", description="Vigil: real-time health-data stream processing."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="run Kafka, the worker and the gateway together (the embedded default)")
    up.add_argument("--simulate", type=int, default=0, metavar="N", help="also run N simulated devices and print alerts")
    up.add_argument("--speed", type=float, default=60.0, help="simulated seconds per wall second until caught up (default 60)")

    sub.add_parser("gateway", help="run the websocket gateway")
    sub.add_parser("worker", help="run the Faust worker")

    devices = sub.add_parser("devices", help="register, list and revoke devices")
    dsub = devices.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = dsub.add_parser("add", help="register a device for a patient and print its token once")
    add.add_argument("device_id")
    add.add_argument("--patient", required=True, metavar="PATIENT_ID")
    dsub.add_parser("list", help="list registered devices (no tokens)")
    revoke = dsub.add_parser("revoke", help="revoke a device's token (open connections close at once)")
    revoke.add_argument("device_id")
    rotate = dsub.add_parser("rotate", help="issue a new token and print it once; the old one stops working")
    rotate.add_argument("device_id")

    alerts = sub.add_parser("alerts", help="print alert events from vigil.alerts as they arrive")
    alerts.add_argument("--from-beginning", action="store_true", help="start at the oldest retained event")
    alerts.add_argument("--json", action="store_true", help="print each event as one JSON line")
    alerts.add_argument("--fhir", action="store_true", help="print each event as a FHIR R4 DetectedIssue (JSON line)")

    sim = sub.add_parser(
        "simulate",
        help="run simulated devices against a running gateway; with --rate or --report, a measured load test",
    )
    sim.add_argument("--devices", type=int, default=10, metavar="N")
    sim.add_argument("--duration", type=float, default=60.0, metavar="S", help="seconds to run (default 60)")
    sim.add_argument("--speed", type=float, default=60.0, help="demo mode: simulated seconds per wall second")
    sim.add_argument("--rate", type=float, metavar="R", help="load test: readings per second per device (default 1)")
    sim.add_argument("--batch", type=int, default=1, metavar="B", help="load test: readings per frame (default 1)")
    sim.add_argument("--steps", type=int, default=1, metavar="K",
                     help="load test: K stages of rising load, from R/K to R per device (default 1)")
    sim.add_argument("--hiccups", type=float, default=0.0, metavar="P",
                     help="load test: chance per device per second of an abrupt disconnect (default 0)")
    sim.add_argument("--deteriorate", type=float, default=0.1, metavar="SHARE",
                     help="load test: share of patients with an injected deterioration (default 0.1)")
    sim.add_argument("--drain", type=float, default=20.0, metavar="S",
                     help="load test: seconds to wait for outstanding acks and processing (default 20)")
    sim.add_argument("--report", metavar="FILE.json", help="load test: write the report here (and a PNG beside it)")
    sim.add_argument("--plot", metavar="FILE.png", help="load test: where to draw latency against offered load")

    rp = sub.add_parser("replay", help="stream a recording (CSV, JSON lines, FHIR) through the live gateway")
    rp.add_argument("file")
    rp.add_argument("--speed", type=float, default=60.0, help="speed-up over recorded time; 0: as fast as acks allow")
    rp.add_argument("--shift-to-now", action="store_true", help="move the recording so that it ends now")
    rp.add_argument("--patient-prefix", default="", help="prepended to every patient id of the recording")

    ex = sub.add_parser("export", help="write a patient's cleaned readings and alerts over a time range")
    ex.add_argument("--patient", required=True, metavar="PATIENT_ID")
    ex.add_argument("--from", dest="start", required=True, metavar="ISO_TIME", help="inclusive, e.g. 2026-11-29T00:00:00Z")
    ex.add_argument("--to", dest="end", required=True, metavar="ISO_TIME", help="exclusive")
    ex.add_argument("--out", required=True, metavar="PREFIX", help="writes PREFIX-readings.EXT and PREFIX-alerts.EXT")
    ex.add_argument("--format", choices=["csv", "parquet"], default="csv")

    ev = sub.add_parser(
        "evaluate", help="run a labeled synthetic cohort through Vigil, static thresholds and NEWS2 alone"
    )
    ev.add_argument("--patients", type=int, default=60)
    ev.add_argument("--days", type=float, default=1.0, help="simulated days per patient (default 1)")
    ev.add_argument("--seed", type=int, default=2026)
    ev.add_argument("--json", action="store_true", help="print one JSON object keyed by method")

    kafka = sub.add_parser("kafka", help="run the local Kafka broker alone, or only fetch its jars")
    kafka.add_argument("action", nargs="?", choices=["run", "fetch"], default="run")

    args = parser.parse_args(argv)
    settings = Settings.from_env()
    services = args.command in ("gateway", "worker")
    logs.configure(args.command, settings.log_format, settings.log_level, quiet_libraries=not services)
    return COMMANDS[args.command](args, settings)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    from app import up

    return up.run(settings, args.simulate, args.speed)


def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
    from app.gateway import ConfigError, Gateway

    async def serve() -> None:
        await Gateway(settings).run(stop_on_signals())

    _use_uvloop(settings)
    try:
        asyncio.run(serve())
    except ConfigError as exc:
        print(f"vigil gateway: {exc}", file=sys.stderr)
        return 2
    return 0


def _use_uvloop(settings: Settings) -> None:
    """uvloop's event loop for the services (VIGIL_UVLOOP=0 keeps asyncio's):
    set before any loop exists, so Faust and websockets both run on it."""
    if settings.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    import faust

    # Faust makes its data folder (VIGIL_HOME/worker) without its parents.
    settings.home.mkdir(parents=True, exist_ok=True)
    # The topics it reads and writes (vigil.dead-letter included), before
    # Faust subscribes: a consumer would not see a topic created later for
    # minutes (its metadata refresh), and a cluster may not auto-create.
    asyncio.run(ensure_topics(settings))
    _use_uvloop(settings)

    from agents.app import create_app

    worker = faust.Worker(
        create_app(settings),
        loglevel=settings.log_level,
        quiet=True,
        logging_config=logs.stdlib_config(settings.log_format, settings.log_level),
        # mode would swap sys.stderr for a logging proxy, swallowing structlog's output.
        redirect_stdouts=False,
    )
    worker.execute_from_commandline()
    return 0


def cmd_devices(args: argparse.Namespace, settings: Settings) -> int:
    from app.registry import Registry, RegistryError

    registry = Registry(settings.registry_path)
    try:
        if args.action == "add":
            token = registry.add(args.device_id, args.patient)
            print(orjson.dumps({"device_id": args.device_id, "patient": args.patient, "token": token}).decode())
        elif args.action == "list":
            for device in registry.devices():
                print(
                    orjson.dumps(
                        {
                            "device_id": device.device_id,
                            "patient": device.patient,
                            "created": device.created,
                            "revoked": device.revoked,
                        }
                    ).decode()
                )
        elif args.action == "rotate":
            token = registry.rotate(args.device_id)
            print(orjson.dumps({"device_id": args.device_id, "token": token}).decode())
        elif args.action == "revoke":
            registry.revoke(args.device_id)
            print(orjson.dumps({"device_id": args.device_id, "revoked": True}).decode())
    except RegistryError as exc:
        print(f"vigil devices: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_alerts(args: argparse.Namespace, settings: Settings) -> int:
    from app import alert_view

    async def run() -> None:
        stop = stop_on_signals()
        show = alert_view.printer(args.json, fhir=args.fhir)
        await alert_view.tail(settings.bootstrap, show, stop, args.from_beginning)

    asyncio.run(run())
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from app import up

    if args.rate is not None or args.report or args.plot:
        return _load_test(args, settings)

    async def run() -> None:
        stop = stop_on_signals()
        asyncio.get_running_loop().call_later(args.duration, stop.set)
        await up.simulate_fleet(settings, args.devices, args.speed, stop)

    asyncio.run(run())
    return 0


def _load_test(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app import loadtest

    rate = 1.0 if args.rate is None else args.rate
    if args.devices < 1 or rate <= 0 or args.batch < 1 or args.steps < 1 or args.duration <= 0:
        print("vigil simulate: --devices, --rate, --batch, --steps and --duration must be positive", file=sys.stderr)
        return 2
    if rate > settings.device_rate:
        print(
            f"vigil simulate: note: {rate:g} readings/s per device is above the gateway's default "
            f"limit of {settings.device_rate:g}/s (VIGIL_DEVICE_RATE): expect rate_limited errors "
            "unless the gateway runs with a higher limit",
            file=sys.stderr,
        )
    plan = loadtest.Plan(
        devices=args.devices, rate=rate, duration_s=args.duration, batch=args.batch, steps=args.steps,
        hiccups=args.hiccups, deteriorate=args.deteriorate, drain_s=args.drain,
    )
    report = Path(args.report) if args.report else None
    plot = Path(args.plot) if args.plot else (report.with_suffix(".png") if report else None)

    async def run() -> None:
        await loadtest.run(settings, plan, stop_on_signals(), report, plot)

    try:
        asyncio.run(run())
    except RuntimeError as exc:
        print(f"vigil simulate: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app import replay

    try:
        rows = replay.read_recording(Path(args.file))
    except (OSError, replay.RecordingError) as exc:
        print(f"vigil replay: {exc}", file=sys.stderr)
        return 2
    stats = asyncio.run(replay.replay(settings, rows, args.speed, args.shift_to_now, args.patient_prefix))
    print(
        f"vigil: replayed {stats.sent} readings, {stats.acked} acknowledged; "
        f"errors {dict(sorted(stats.errors.items())) or 'none'}",
        file=sys.stderr,
    )
    return 0 if stats.acked + sum(stats.errors.values()) >= stats.sent else 1


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app import export
    from app.pseudonyms import load_key

    try:
        start, end = export.parse_time(args.start), export.parse_time(args.end)
        if end <= start:
            raise export.ExportError("--to must be after --from")
        readings, alerts, n_readings, n_alerts = asyncio.run(
            export.export(settings, load_key(settings), args.patient, start, end, Path(args.out), args.format)
        )
    except export.ExportError as exc:
        print(f"vigil export: {exc}", file=sys.stderr)
        return 2
    print(f"vigil: {n_readings} readings to {readings}, {n_alerts} alert events to {alerts}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    from app import evaluation

    result = evaluation.evaluate(args.patients, args.days, args.seed)
    print(orjson.dumps(result).decode() if args.json else evaluation.table(result))
    return 0


def cmd_kafka(args: argparse.Namespace, settings: Settings) -> int:
    from app.kafka_local import LocalKafka, LocalKafkaError, ensure_jars

    try:
        if args.action == "fetch":
            print(ensure_jars())
            return 0
        kafka = LocalKafka(
            settings.home / "kafka",
            settings.local_kafka_port,
            settings.local_kafka_controller_port,
            partitions=settings.partitions,
        )
        kafka.start()
    except LocalKafkaError as exc:
        print(f"vigil kafka: {exc}", file=sys.stderr)
        return 1
    print(f"vigil: Kafka running on {kafka.bootstrap}; Ctrl-C to stop", file=sys.stderr)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # so sigwait, not a handler, gets them
    try:
        signal.sigwait(stop_signals)
    finally:
        kafka.stop()
    return 0


COMMANDS = {
    "up": cmd_up,
    "gateway": cmd_gateway,
    "worker": cmd_worker,
    "devices": cmd_devices,
    "alerts": cmd_alerts,
    "simulate": cmd_simulate,
    "replay": cmd_replay,
    "export": cmd_export,
    "evaluate": cmd_evaluate,
    "kafka": cmd_kafka,
}

if __name__ == "__main__":
    sys.exit(main())
