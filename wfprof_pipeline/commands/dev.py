"""`wfprof dev`: the Dagster webserver and daemon on 127.0.0.1, stopped together on Ctrl-C."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dev", help="start the Dagster UI (webserver + daemon) on 127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.add_argument("--host", default="127.0.0.1")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from wfprof_pipeline.lib import environment

    env = {**os.environ, **environment.apply()}
    bin_dir = Path(sys.executable).parent
    workspace = str(environment.PROJECT_ROOT / "workspace.yaml")
    commands = [
        [str(bin_dir / "dagster-webserver"), "-w", workspace, "-h", args.host, "-p", str(args.port)],
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
            try:
                procs[0].wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                pass
    except KeyboardInterrupt:
        pass
    return _stop_all(procs)


def _stop_all(procs: list) -> int:
    import os
    import signal
    import subprocess

    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    # Code servers outlive their parent until a heartbeat times out; end each whole process group.
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return 0
