"""`wfprof sandbox serve`: the seed's secure-js-sandbox HTTP API over the embedded QuickJS sandbox."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sandbox", help="the JS sandbox HTTP API (POST /evaluate, GET /health)")
    actions = p.add_subparsers(dest="sandbox_command", metavar="ACTION")
    actions.required = True
    serve = actions.add_parser("serve", help="serve POST /evaluate and GET /health")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=port, default=3001, help="port (default 3001, the seed's; 0 = any free)")
    serve.add_argument("--max-concurrency", type=int, help="evaluations at once (default: CPU count)")
    serve.add_argument("--max-body-bytes", type=int, default=1 << 20, help="request size limit (1 MiB)")
    serve.add_argument("--max-fuel", type=int, default=20_000_000_000, help="cap on requested fuel")
    serve.add_argument("--max-memory-mb", type=int, default=256, help="cap on requested memory (MiB)")
    serve.add_argument("--max-timeout-s", type=float, default=30.0, help="cap on requested wall time")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    serve.set_defaults(handler=handle_serve)


def port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is not in 0-65535")
    return port


def handle_serve(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib.fuel.server import ServerConfig, make_server

    options = {
        "max_body_bytes": args.max_body_bytes,
        "max_fuel": args.max_fuel,
        "max_memory_bytes": args.max_memory_mb << 20,
        "max_timeout_s": args.max_timeout_s,
        "verbose": args.verbose,
    }
    if args.max_concurrency is not None:
        options["max_concurrency"] = args.max_concurrency
    try:
        config = ServerConfig(**options)
    except ValidationError as exc:
        raise CliError("; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())) from None
    try:
        server = make_server(args.host, args.port, config)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"wfprof sandbox listening on {server.url} (POST /evaluate, GET /health; "
          f"{config.max_concurrency} concurrent evaluations)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
