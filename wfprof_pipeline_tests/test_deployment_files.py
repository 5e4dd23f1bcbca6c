"""docker-compose.yml cannot run here (no Docker engine), so its wiring is checked statically."""

import re
import shutil
from pathlib import Path

import yaml

from wfprof_pipeline.lib import settings
from wfprof_pipeline_tests.dagster_env import PROJECT_ROOT

COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
DAGSTER_YAML = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())


def test_compose_has_the_four_services_and_a_buildable_image() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "code_location", "webserver", "daemon"}
    assert services["code_location"]["build"] == "."
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert int(re.search(r"^FROM node:(\d+)", dockerfile, flags=re.M).group(1)) >= 20  # wfprof needs Node >= 20
    for copied in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.M):
        for name in copied.split():
            assert (PROJECT_ROOT / name).exists(), f"Dockerfile copies missing {name}"


def test_every_mounted_file_exists_and_workspace_points_at_the_code_location() -> None:
    for service in COMPOSE["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).exists(), source
    workspace = yaml.safe_load((PROJECT_ROOT / "docker/workspace.yaml").read_text())
    grpc = workspace["load_from"][0]["grpc_server"]
    command = COMPOSE["services"]["code_location"]["command"]
    assert grpc["host"] == "code_location" and str(grpc["port"]) == command[command.index("-p") + 1]
    assert command[command.index("-m") + 1] == "wfprof_pipeline.definitions"


def test_commands_exist_in_the_environment() -> None:
    for name in ("code_location", "webserver", "daemon"):
        executable = COMPOSE["services"][name]["command"][0]
        assert shutil.which(executable, path=str(Path(__import__("sys").executable).parent)), executable


def test_environment_matches_dagster_yaml_and_settings() -> None:
    env = COMPOSE["x-wfprof-env"]
    assert DAGSTER_YAML["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}
    assert env["DAGSTER_PG_URL"].startswith("postgresql+psycopg2://")
    known = {v for k, v in vars(settings).items() if k.startswith("ENV_")}
    assert set(env) <= known, set(env) - known
    for service in ("code_location", "webserver", "daemon"):
        assert COMPOSE["services"][service]["environment"] == env
    user = COMPOSE["services"]["postgres"]["environment"]["POSTGRES_USER"]
    assert f"{user}:" in env["DAGSTER_PG_URL"]


def test_the_webserver_is_the_guarded_entry() -> None:
    """Not bare `dagster-webserver`, which answers a forged Host (DNS rebinding)."""
    command = COMPOSE["services"]["webserver"]["command"]
    assert command[command.index("-m") + 1] == "wfprof_pipeline.webserver"
