"""The deploy/ folder as shipped agrees with the application: the nginx site is exactly what
`ecabinet nginx-config` makes, the systemd units and the compose services run real `ecabinet` commands
with the hardening the operator's guide promises, and every setting they name is one the application
reads. The container recipe cannot be built here (no registry for its base images): it is parsed and
what it copies must exist. `systemd-analyze verify` checks the units where systemd is installed."""

from __future__ import annotations

import argparse
import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from backend import cli
from backend.config import Settings
from backend.deploy import NginxOptions, render_nginx

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
UNITS = DEPLOY / "systemd"
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
             "PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
             "ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
             "LockPersonality": "yes", "CapabilityBoundingSet": "", "SystemCallFilter": "@system-service"}


def _setting_names() -> set[str]:
    """Every environment variable the application reads (backend/config.py is the one place)."""
    return set(re.findall(r'"((?:ECABINET_[A-Z0-9_]+)|DATABASE_URL|REDIS_URL)"',
                          (REPO / "backend" / "config.py").read_text()))


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep, f"{path.name}: not NAME=value: {line!r}"
            out[name.strip()] = value
    return out


def _unit(path: Path) -> configparser.ConfigParser:
    unit = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read_string(path.read_text())
    return unit


def _parses(argv: list[str]) -> argparse.Namespace:
    """`ecabinet ARGV` as the real command line parser reads it (a wrong option exits)."""
    return cli.parser().parse_args(argv)


def test_the_shipped_nginx_site_is_what_ecabinet_nginx_config_makes() -> None:
    shipped = (DEPLOY / "nginx" / "ecabinet.conf").read_text()
    expected = render_nginx(NginxOptions(max_upload_bytes=Settings().max_document_bytes))
    assert shipped == expected, "regenerate it: ecabinet nginx-config > deploy/nginx/ecabinet.conf"
    # What the units and the compose file start is what it routes to.
    assert re.findall(r"server (127\.0\.0\.1:\d+) max_fails", shipped) == [
        "127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003"]
    assert "location /relay/main/" in shipped and "server 127.0.0.1:8090;" in shipped


def test_the_settings_files_name_only_settings_the_application_reads() -> None:
    known = _setting_names()
    assert {"ECABINET_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ECABINET_RELAY_PATH"} <= known
    env = _env_file(DEPLOY / "ecabinet.env")
    assert set(env) <= known, sorted(set(env) - known)
    assert env["ECABINET_MODE"] == "production" and env["DATABASE_URL"].startswith("postgresql://")
    # The example is a real configuration once its secret is set.
    settings = Settings.from_env({**env, "ECABINET_SECRET_KEY": "x" * 48})
    assert settings.relay_path == "/relay" and settings.trusted_proxies == ("127.0.0.1/32",)
    assert _env_file(UNITS / "relay-main.env") == {"RELAY_PORT": "8090"}


@pytest.mark.parametrize("name", ["ecabinet-migrate.service", "ecabinet-worker@.service", "ecabinet-relay@.service"])
def test_each_systemd_unit_runs_a_real_command_hardened(name: str) -> None:
    unit = _unit(UNITS / name)
    service = unit["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, f"{name}: {key}={service.get(key)!r}, want {value!r}"
    assert service["User"] == "ecabinet" and "ProtectSystem" in service and service["StateDirectory"] == "ecabinet"
    argv = shlex.split(service["ExecStart"].replace("%i", "8001" if "worker" in name else "main")
                       .replace("${RELAY_PORT}", "8090"))
    assert argv[0] == "/opt/ecabinet/.venv/bin/ecabinet"
    args = _parses(argv[1:])
    if "worker" in name:
        assert args.command == "serve" and args.port == 8001 and args.no_migrate and args.workers == 1
        assert service["Restart"] == "always"
    elif "relay" in name:
        assert args.command == "relay" and args.name == "main" and args.port == 8090
        assert service["Restart"] == "always"
    else:
        assert args.command == "migrate"
    assert unit["Install"]["WantedBy"] == "ecabinet.target"


def test_the_target_starts_the_workers_nginx_routes_to_and_the_relay() -> None:
    wants = _unit(UNITS / "ecabinet.target")["Unit"]["Wants"].split()
    assert wants == ["ecabinet-migrate.service", "ecabinet-worker@8001.service", "ecabinet-worker@8002.service",
                     "ecabinet-worker@8003.service", "ecabinet-relay@main.service"]


def test_systemd_analyze_verifies_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    for path in UNITS.iterdir():
        if path.suffix in (".service", ".target"):
            # The program is installed on the server, not here: any executable stands in for it.
            (tmp_path / path.name).write_text(path.read_text().replace("/opt/ecabinet/.venv/bin/ecabinet", "/bin/true"))
    for name in ["ecabinet-migrate.service", "ecabinet-worker@8001.service", "ecabinet-relay@main.service",
                 "ecabinet.target"]:
        done = subprocess.run([analyze, "verify", "--man=no", name], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)
        problems = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
        assert done.returncode == 0 and problems == [], problems


def test_the_compose_file_runs_every_part_on_the_applications_own_commands_and_settings() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "relay", "nginx"}
    known = _setting_names()
    for name in ("migrate", "web", "relay"):
        service = services[name]
        assert service["build"]["dockerfile"] == "deploy/Dockerfile" and service["build"]["target"] == "app"
        assert service["env_file"] == "ecabinet.env" and (DEPLOY / service["env_file"]).exists()
        assert set(service["environment"]) <= known, sorted(set(service["environment"]) - known)
        assert service["network_mode"] == "host"
        _parses(service["command"])
    web = _parses(services["web"]["command"])
    assert (web.command, web.workers, web.port) == ("serve", 3, 8001)
    relay = _parses(services["relay"]["command"])
    assert (relay.command, relay.name, relay.port) == ("relay", "main", 8090)
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["nginx"]["build"]["target"] == "proxy"
    assert services["postgres"]["image"].startswith("postgres:") and services["redis"]["image"].startswith("redis:")
    assert "cannot be built or run on the project's development" in (DEPLOY / "compose.yaml").read_text()


def test_the_dockerfile_copies_what_exists_and_runs_ecabinet() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "cannot be built on the project's development" in text
    logical = re.sub(r"\\\n", " ", text)
    stages, copies, entry = [], [], None
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, _, rest = line.strip().partition(" ")
        assert word in {"ARG", "FROM", "RUN", "WORKDIR", "COPY", "ENV", "USER", "VOLUME", "EXPOSE", "ENTRYPOINT",
                        "CMD"}, f"unexpected instruction {word}"
        if word == "FROM":
            stages.append(rest.split(" AS ")[-1].strip())
        elif word == "COPY" and not rest.startswith("--from"):
            copies += rest.split()[:-1]
        elif word == "ENTRYPOINT":
            entry = rest
    assert stages == ["frontend", "app", "proxy"]
    missing = [src for src in copies if not (REPO / src).exists()]
    assert missing == [], missing
    assert entry == '["/opt/ecabinet/.venv/bin/ecabinet"]'
    cmd = re.search(r'^CMD (\[.*"--no-migrate"\])$', text, re.M)
    assert cmd is not None
    _parses(yaml.safe_load(cmd.group(1)))
    env = dict(re.findall(r"(ECABINET_[A-Z_]+)=(\S+)", text))
    assert set(env) <= _setting_names() and env["ECABINET_MODE"] == "production"
