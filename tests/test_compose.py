"""docker-compose.yml cannot be run here (no Docker engine), so it is checked for what can be
checked: it is a valid Compose file, every variable it gives a service is a setting that
service has (a typo would otherwise be ignored silently), and the image runs as a non-root
user with a health check that really probes the service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import eventsourcing.postgres
import pytest
import yaml

from crm_contracts.runtime.healthcheck import main as healthcheck
from crm_contracts.runtime.healthcheck import settings_classes
from tests.support.nats import NatsServer
from tests.support.services import ServiceProcess

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def compose() -> dict:
    loaded: dict = yaml.safe_load(COMPOSE.read_text())
    return loaded


def our_services() -> dict[str, dict]:
    """The services built from our image, by the console script they run."""
    return {
        spec["command"][0]: spec
        for spec in compose()["services"].values()
        if "build" in spec and spec.get("command")
    }


def eventsourcing_variables() -> set[str]:
    """What the `eventsourcing` library reads from the environment (the deal store)."""
    factory = eventsourcing.postgres.PostgresFactory
    return {getattr(factory, name) for name in dir(factory) if name.isupper()}


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema with its vendored copy of the compose-spec schema."""
    checker = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_compose_file_passes_the_compose_spec_schema():
    result = schema_check(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_misspelt_key(tmp_path):
    # The check above would be worthless if the schema let anything through.
    bad = tmp_path / "compose.yml"
    bad.write_text("services:\n  a:\n    image: x\n    enviroment: {A: '1'}\n")
    result = schema_check(bad)
    assert result.returncode == 1 and "enviroment" in result.stdout


def test_every_service_of_the_image_is_one_we_have():
    assert set(our_services()) == set(settings_classes())


@pytest.mark.parametrize("service", sorted(settings_classes()))
def test_every_variable_compose_sets_is_a_real_setting(service):
    settings = settings_classes()[service]
    prefix = settings.model_config["env_prefix"]
    fields = set(settings.model_fields)
    library = eventsourcing_variables() if service == "deal-pipeline" else set()
    environment = our_services()[service].get("environment", {})
    assert environment, f"{service} sets no environment in docker-compose.yml"
    unknown = [
        name
        for name in environment
        if not (
            (name.startswith(prefix) and name.removeprefix(prefix).lower() in fields)
            or name in library
        )
    ]
    assert unknown == [], f"not settings of {service} ({prefix}*): {unknown}"


def test_the_image_runs_as_a_non_root_user_with_a_health_check():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    healthcheck_line = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    command = " ".join(lines[healthcheck_line : healthcheck_line + 2])
    assert "crm_contracts.runtime.healthcheck" in command


def test_the_health_check_probes_the_running_service_on_its_configured_port(tmp_path):
    (tmp_path / "nats").mkdir()
    nats = NatsServer(tmp_path / "nats").start()
    service = ServiceProcess(
        "lead_intake",
        {"LEAD_INTAKE_NATS_URL": nats.url, "LEAD_INTAKE_DATA_DIR": str(tmp_path)},
        tmp_path / "intake.log",
    )
    try:
        service.start()
        service.wait_ready()
        env_port = {"LEAD_INTAKE_PORT": str(service.port)}
        probe = [sys.executable, "-m", "crm_contracts.runtime.healthcheck", "lead-intake"]
        assert subprocess.run(probe, env=env_port, timeout=30).returncode == 0
        service.stop()
        assert subprocess.run(probe, env=env_port, timeout=30).returncode == 1
    finally:
        service.stop()
        nats.stop()
    assert healthcheck(["no-such-service"]) == 2
