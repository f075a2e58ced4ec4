"""``aftersales``: the operators' command.

aftersales run                         the whole suite on this machine (``make run``)
aftersales serve SERVICE               one service (migrates first)
aftersales migrate SERVICE|all         bring databases to the newest schema
aftersales relay SERVICE               an outbox relay as its own process
aftersales token --role ROLE [--sub]   a bearer token for the local services
aftersales dlq list|replay SERVICE     parked messages: look at them, put them back
aftersales events snapshot|docs        event schema snapshots and docs/events.md
aftersales demo                        scenarios 1 and 2 against a running suite (``make demo``)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from shared.auth.roles import Role
from shared.auth.tokens import issue_local_token
from shared.cli.demo import add_command as add_demo_command
from shared.cli.suite import SERVICE_NAMES, load_definition
from shared.db.engine import create_engine, create_session_factory
from shared.db.migrations import upgrade_to_head
from shared.db.unit_of_work import UnitOfWork
from shared.messaging.dead_letters import list_parked, replay_parked
from shared.messaging.topology import ServiceQueues
from shared.settings import AuthSettings, BrokerSettings

if TYPE_CHECKING:
    from services.intake.commands.catalogue import ImportReport

T = TypeVar("T")


def _token(args: argparse.Namespace) -> int:
    print(
        issue_local_token(AuthSettings(), args.sub, args.role, ttl=timedelta(hours=args.ttl_hours))
    )
    return 0


def _dlq(args: argparse.Namespace) -> int:
    broker = BrokerSettings()
    queues = ServiceQueues.for_service(args.service, broker)
    if args.action == "list":
        parked = asyncio.run(list_parked(broker.amqp_url, queues, limit=args.limit))
        if args.json:
            print(json.dumps([asdict(p) for p in parked], ensure_ascii=False, indent=2))
            return 0
        if not parked:
            print(f"{queues.dead_letter}: empty")
        for p in parked:
            print(f"{p.message_id}  {p.event_type or '-'}  retries={p.retries}  {p.parked_at}")
            print(f"    {p.error}")
        return 0
    replayed = asyncio.run(replay_parked(broker.amqp_url, queues, message_id=args.id))
    print(f"replayed {len(replayed)} message(s) to {queues.main}")
    for message_id in replayed:
        print(f"  {message_id}")
    return 0 if replayed or args.id is None else 1


def _migrate(args: argparse.Namespace) -> int:
    from shared.db.migrations import upgrade_to_head

    for service in SERVICE_NAMES if args.service == "all" else (args.service,):
        definition = load_definition(service)
        settings = definition.settings_from_env()
        upgrade_to_head(definition.migrations_dir, settings.service.database_url)
        print(f"{service}: database at the newest schema")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from shared.cli.serving import serve

    return serve(args.service, migrate=not args.no_migrate)


def _run(_args: argparse.Namespace) -> int:
    from shared.cli.serving import run_suite

    return run_suite()


def _relay(args: argparse.Namespace) -> int:
    from shared.cli.serving import run_relay

    return run_relay(args.service)


def _events(args: argparse.Namespace) -> int:
    from shared.cli.event_catalogue import write_docs, write_missing_snapshots

    if args.action == "snapshot":
        for path in write_missing_snapshots():
            print(f"wrote {path}")
        return 0
    path = write_docs()
    print(f"wrote {path}")
    return 0


async def _with_unit_of_work(database_url: str, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    engine = create_engine(database_url)
    try:
        return await work(UnitOfWork(create_session_factory(engine)))
    finally:
        await engine.dispose()


def _migrated_url(service: str) -> str:
    definition = load_definition(service)
    url = definition.settings_from_env().service.database_url
    upgrade_to_head(definition.migrations_dir, url)
    return url


def _seed(args: argparse.Namespace) -> int:
    if not args.demo:
        print("say which data: --demo", file=sys.stderr)
        return 2
    for service in SERVICE_NAMES:
        seed = load_definition(service).seed_demo
        if seed is not None:
            print(asyncio.run(_with_unit_of_work(_migrated_url(service), seed)))
    return 0


def _import(args: argparse.Namespace) -> int:
    from services.intake.commands.catalogue import import_models, import_units

    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    work = import_models if args.what == "models" else import_units

    async def run(uow: UnitOfWork) -> ImportReport:
        return await work(uow, text)

    report = asyncio.run(_with_unit_of_work(_migrated_url("intake"), run))
    print(
        f"{args.what}: {report.created} created, {report.updated} updated, "
        f"{len(report.rejected)} rejected"
    )
    for rejected in report.rejected:
        print(f"  line {rejected.line}: {'; '.join(rejected.errors)}", file=sys.stderr)
    return 1 if report.rejected else 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="aftersales", description=__doc__.splitlines()[0])
    commands = root.add_subparsers(dest="command", required=True)

    token = commands.add_parser("token", help="print a bearer token for the local services")
    token.add_argument(
        "--role",
        action="append",
        required=True,
        choices=[r.value for r in Role],
        help="repeat for several roles",
    )
    token.add_argument("--sub", default="dev", help="who the token names (default: dev)")
    token.add_argument("--ttl-hours", type=float, default=12.0)
    token.set_defaults(func=_token)

    dlq = commands.add_parser("dlq", help="a service's dead-letter queue")
    dlq.add_argument("action", choices=["list", "replay"])
    dlq.add_argument("service", choices=SERVICE_NAMES)
    dlq.add_argument("--id", help="replay only the message with this id")
    dlq.add_argument("--limit", type=int, default=100, help="list at most this many")
    dlq.add_argument("--json", action="store_true", help="list as JSON")
    dlq.set_defaults(func=_dlq)

    migrate = commands.add_parser("migrate", help="bring a service's database up to date")
    migrate.add_argument("service", choices=[*SERVICE_NAMES, "all"])
    migrate.set_defaults(func=_migrate)

    serve = commands.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=SERVICE_NAMES)
    serve.add_argument("--no-migrate", action="store_true", help="skip the migration step")
    serve.set_defaults(func=_serve)

    run = commands.add_parser("run", help="run the whole suite on this machine")
    run.set_defaults(func=_run)

    relay = commands.add_parser("relay", help="run a service's outbox relay alone")
    relay.add_argument("service", choices=SERVICE_NAMES)
    relay.set_defaults(func=_relay)

    events = commands.add_parser("events", help="event schema snapshots and documentation")
    events.add_argument("action", choices=["snapshot", "docs"])
    events.set_defaults(func=_events)

    importing = commands.add_parser("import", help="product models or units from CSV (intake)")
    importing.add_argument("what", choices=["models", "units"])
    importing.add_argument("file", type=Path)
    importing.set_defaults(func=_import)

    seed = commands.add_parser("seed", help="load demo data into every service's database")
    seed.add_argument("--demo", action="store_true", help="the realistic demo data set")
    seed.set_defaults(func=_seed)

    add_demo_command(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
