"""`python -m wfprof_pipeline.webserver`: the Dagster UI behind the Host/Origin guard (lib/host_guard.py).

Dagster's own `dagster-webserver` answers any Host, so a page on another site can reach a loopback UI
through DNS rebinding and launch runs. This entry builds the same ASGI app (dagster_webserver's
DagsterWebserver) and serves it with uvicorn, wrapped in the guard. `wfprof dev` and docker-compose use it.
"""

from __future__ import annotations

import argparse
import logging

from wfprof_pipeline.lib.host_guard import allowed_hosts, guard
from wfprof_pipeline.lib.settings import Settings


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m wfprof_pipeline.webserver", description=__doc__.splitlines()[0],
                                add_help=False)  # -h is the host, as with dagster-webserver
    p.add_argument("-w", "--workspace", required=True, help="workspace.yaml")
    p.add_argument("-h", "--host", default="127.0.0.1")
    p.add_argument("-p", "--port", type=int, default=3000)
    p.add_argument("--help", action="help")
    p.add_argument("--log-level", default="warning")
    args = p.parse_args(argv)

    import uvicorn
    from dagster import DagsterInstance
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.version import __version__

    hosts = allowed_hosts(args.host, Settings.from_env().allowed_hosts)
    logging.getLogger("wfprof.webserver").info("answering Host: %s", ", ".join(hosts))
    with (DagsterInstance.get() as instance,
          WorkspaceProcessContext(instance, WorkspaceFileTarget(paths=[args.workspace]), version=__version__) as ctx):
        app = create_app_from_workspace_process_context(ctx)
        uvicorn.run(guard(app, hosts), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
