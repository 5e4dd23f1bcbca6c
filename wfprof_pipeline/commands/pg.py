"""`wfprof pg start|stop|status|url`: the embedded PostgreSQL of the default setup."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pg", help="start, stop or show the embedded PostgreSQL server")
    p.add_argument("action", choices=["start", "stop", "status", "url"])
    p.add_argument("--database", default="keeperhub", help="database for `url` (keeperhub or dagster)")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from wfprof_pipeline.lib import postgres
    from wfprof_pipeline.lib.settings import Settings

    home = Settings.from_env().home
    if args.action == "start":
        server = postgres.start_embedded(home)
        print(f"embedded PostgreSQL running, data in {server.pgdata}")
        print(f"DATABASE_URL={server.url(postgres.DEMO_DATABASE)}")
        print(f"DAGSTER_PG_URL={server.url(postgres.DAGSTER_DATABASE, driver='psycopg2')}")
        return 0
    if args.action == "stop":
        print("stopped" if postgres.stop_embedded(home) else "not running")
        return 0
    server = postgres.embedded_status(home)
    if server is None:
        print("not running")
        return 1 if args.action == "url" else 0
    if args.action == "url":
        print(server.url(args.database))
    else:
        print(f"running, data in {server.pgdata}, url {server.url(postgres.DEMO_DATABASE)}")
    return 0
