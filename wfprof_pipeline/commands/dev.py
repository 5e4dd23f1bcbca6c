"""`wfprof dev`: the Dagster webserver and daemon on 127.0.0.1, stopped together on Ctrl-C."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dev", help="start the Dagster UI (webserver + daemon) on 127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; loopback only)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host: the UI has no authentication and anyone who reaches it "
                        "can launch runs (put an authenticating proxy in front)")
    p.set_defaults(handler=handle)


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback address (a name is resolved; unresolvable = no)."""
    import ipaddress
    import socket

    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def check_port_free(host: str, port: int) -> None:
    """Fail now, in one line, if `host:port` is taken: the webserver would only say so after its start-up,
    in a traceback, behind a URL already printed (and the URL would reach whatever holds the port)."""
    import errno
    import socket

    from wfprof_pipeline.cli import CliError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise CliError(f"--host {host}: cannot resolve it ({exc.strerror or exc})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Same option as the webserver's (uvicorn): a port left in TIME_WAIT is free, one with a listener is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(f"port {port} on {host} is already in use (another `wfprof dev` or Dagster UI?): "
                               "stop it, or choose another with --port") from None
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def handle(args: argparse.Namespace) -> int:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from wfprof_pipeline.cli import CliError
    from wfprof_pipeline.lib import environment

    if not args.allow_remote and not is_loopback(args.host):
        raise CliError(
            f"--host {args.host} is not a loopback address: the Dagster UI has no authentication and anyone who "
            "can reach it can launch runs as this user; keep 127.0.0.1 (and use an SSH tunnel or an "
            "authenticating proxy), or pass --allow-remote if you really mean it"
        )
    check_port_free(args.host, args.port)
    env = {**os.environ, **environment.apply()}
    bin_dir = Path(sys.executable).parent
    workspace = str(environment.PROJECT_ROOT / "workspace.yaml")
    commands = [
        [sys.executable, "-m", "wfprof_pipeline.webserver", "-w", workspace, "-h", args.host, "-p", str(args.port)],
        [str(bin_dir / "dagster-daemon"), "run", "-w", workspace],
    ]

    def reset_signals() -> None:
        # A shell that started us in the background may have left SIGINT ignored; Dagster would inherit it.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)

    procs = [
        subprocess.Popen(cmd, env=env, cwd=environment.PROJECT_ROOT, start_new_session=True,
                         preexec_fn=reset_signals)
        for cmd in commands
    ]
    print(f"Dagster UI on http://{args.host}:{args.port} (Ctrl-C stops webserver, daemon and their children)")
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        stopping = True
    died = [(cmd[0], p.returncode) for cmd, p in zip(commands, procs, strict=True) if p.poll() is not None]
    _stop_all(procs)
    if died and not stopping:
        name, rc = died[0]
        raise CliError(f"{Path(name).name} exited with code {rc} (its messages are above); wfprof dev stopped")
    return 0


def _stop_all(procs: list) -> None:
    import contextlib
    import os
    import signal
    import subprocess

    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=10)
    # Code servers outlive their parent until a heartbeat times out; end each whole process group.
    for p in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.pid, signal.SIGKILL)
