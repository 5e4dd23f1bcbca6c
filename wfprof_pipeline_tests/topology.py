"""docker-compose.yml's processes, started here without Docker: the command lines and environment variable names
are read from docker-compose.yml (and the Dockerfile), so what the tests and benchmarks start cannot drift
from what compose starts. Only addresses and paths are rewritten to this machine's.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from wfprof_pipeline_tests.dagster_env import BIN, PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
DOCKERFILE = (PROJECT_ROOT / "Dockerfile").read_text()
IMAGE_ROOT = re.search(r"^WORKDIR (\S+)", DOCKERFILE, flags=re.M).group(1)  # the checkout inside the image
# Variables the image sets for every service (ENV lines of the final stage), e.g. DAGSTER_HOME.
IMAGE_ENV = set(re.findall(r"^ENV (\w+)=", DOCKERFILE, flags=re.M))
SERVICE_ENV = set(COMPOSE["x-wfprof-env"])
DAGSTER_SERVICES = ("code_location", "webserver", "daemon")

LAUNCH = """
mutation Launch($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
  ... on LaunchRunSuccess { run { runId status } }
  ... on PythonError { message } ... on InvalidSubsetError { message } ... on PipelineNotFoundError { message }
  ... on RunConfigValidationInvalid { errors { message } } } }
"""
RUN_STATUS = "query S($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def compose_command(service: str) -> list[str]:
    return list(COMPOSE["services"][service]["command"])


@dataclass
class Topology:
    """The code location (gRPC), the webserver and the daemon, each its own process group, logs in `logs`."""

    env: dict[str, str]
    logs: Path
    grpc_port: int
    web_port: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @classmethod
    def prepare(cls, tmp: Path, service_env: dict[str, str], image_env: dict[str, str], *,
                grpc_port: int, web_port: int) -> Topology:
        """`service_env` must set exactly compose's x-wfprof-env names, `image_env` the Dockerfile's ENV names."""
        assert set(service_env) == SERVICE_ENV, set(service_env) ^ SERVICE_ENV
        assert set(image_env) == IMAGE_ENV, set(image_env) ^ IMAGE_ENV
        logs = tmp / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        # docker/workspace.yaml with the code location's service name resolved to this machine.
        workspace = yaml.safe_load((PROJECT_ROOT / "docker" / "workspace.yaml").read_text())
        for entry in workspace["load_from"]:
            entry["grpc_server"].update(host="127.0.0.1", port=grpc_port)
        (tmp / "workspace.yaml").write_text(yaml.safe_dump(workspace))
        inherited = {k: v for k, v in os.environ.items() if k not in SERVICE_ENV | IMAGE_ENV}
        env = {**inherited, **service_env, **image_env, "WFPROF_TOPOLOGY_WORKSPACE": str(tmp / "workspace.yaml")}
        return cls(env=env, logs=logs, grpc_port=grpc_port, web_port=web_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}/graphql"

    def command(self, service: str) -> list[str]:
        """The compose command with this machine's executable, loopback address, ports and workspace file."""
        command = compose_command(service)
        command[0] = str(BIN / command[0])
        if "-h" in command:
            command[command.index("-h") + 1] = "127.0.0.1"
        if "-p" in command:
            port = self.grpc_port if service == "code_location" else self.web_port
            command[command.index("-p") + 1] = str(port)
        if "-w" in command:
            command[command.index("-w") + 1] = self.env["WFPROF_TOPOLOGY_WORKSPACE"]
        return command

    def healthcheck(self, service: str) -> list[str]:
        """The service's compose healthcheck command (`CMD` form), with this machine's executable and port."""
        test = list(COMPOSE["services"][service]["healthcheck"]["test"])
        assert test[0] == "CMD", test
        command = test[1:]
        command[0] = str(BIN / command[0])
        if "-p" in command:
            command[command.index("-p") + 1] = str(self.grpc_port)
        return command

    def wait_healthy(self, service: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[service]
            assert proc.poll() is None, f"{service} exited with {proc.returncode}:\n{self.log(service)[-3000:]}"
            check = subprocess.run(self.healthcheck(service), env=self.env, capture_output=True, timeout=60)
            if check.returncode == 0:
                return
            time.sleep(1)
        raise AssertionError(f"{service} was not healthy within {timeout} s:\n{self.log(service)[-3000:]}")

    def start(self, service: str) -> subprocess.Popen:
        def reset_signals() -> None:  # a background shell may have left SIGINT ignored
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, signal.SIG_DFL)

        log = (self.logs / f"{service}.log").open("a")
        proc = subprocess.Popen(self.command(service), cwd=PROJECT_ROOT, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=reset_signals)
        self.procs[service] = proc
        return proc

    def kill(self, service: str) -> list[int]:
        """SIGKILL the service and every process under it, as `docker kill` ends a container (the runs it
        launched included); returns their pids."""
        import psutil

        proc = self.procs.pop(service)
        tree = [proc.pid, *(c.pid for c in psutil.Process(proc.pid).children(recursive=True))]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=30)
        return tree

    def stop(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)
        # Code servers spawned by them outlive their parent until a heartbeat times out.
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()

    def log(self, service: str) -> str:
        path = self.logs / f"{service}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
        answer = httpx.post(self.url, json={"query": query, "variables": variables or {}}, timeout=timeout).json()
        assert "errors" not in answer, answer
        return answer["data"]

    def wait_loaded(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}"
            with contextlib.suppress(httpx.HTTPError, KeyError, TypeError, ValueError, AssertionError):
                entries = self.graphql(LOCATIONS, timeout=5)["workspaceOrError"]["locationEntries"]
                # LOADED is also the status of a location whose load failed: the error is in locationOrLoadError.
                if entries and all(e["loadStatus"] == "LOADED" and
                                   e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries):
                    return
            time.sleep(0.5)
        raise AssertionError(f"the webserver did not load the code location in {timeout} s")

    def launch(self, job: str, *, asset_keys: list[str] | None = None, location: str = "wfprof") -> str:
        """launchRun through the webserver (the queued run coordinator queues it); returns the run id."""
        params: dict = {"selector": {"repositoryLocationName": location, "repositoryName": "__repository__",
                                     "jobName": job}, "runConfigData": {}}
        if asset_keys:
            params["selector"]["assetSelection"] = [{"path": [k]} for k in asset_keys]
        launched = self.graphql(LAUNCH, {"params": params})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        return launched["run"]["runId"]

    def status(self, run_id: str) -> str:
        return self.graphql(RUN_STATUS, {"id": run_id}, timeout=30)["runOrError"]["status"]

    def wait_status(self, run_id: str, statuses: set[str], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        status = "?"
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                status = self.status(run_id)
                if status in statuses:
                    return status
                if status in FINISHED:
                    break
            time.sleep(0.5)
        raise AssertionError(f"run {run_id} is {status}, expected {statuses}; daemon log:\n"
                             f"{self.log('daemon')[-4000:]}\ncode server log:\n{self.log('code_location')[-4000:]}")


def image_paths(tmp: Path) -> dict[str, str]:
    """The image's ENV values on this machine: DAGSTER_HOME with the project's dagster.yaml, as the image has."""
    home = tmp / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text((PROJECT_ROOT / "dagster.yaml").read_text())
    return {"DAGSTER_HOME": str(home)}


def in_checkout(value: str) -> str:
    """A compose default under the image's checkout (e.g. the bundled step corpus) mapped to this checkout."""
    return str(PROJECT_ROOT / Path(value).relative_to(IMAGE_ROOT)) if value.startswith(IMAGE_ROOT) else value


def compose_default(name: str) -> str:
    """The default compose gives `name` (`${VAR:-default}`), or its literal value."""
    value = str(COMPOSE["x-wfprof-env"][name])
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value

