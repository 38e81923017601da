"""The service files in deploy/ run the real command, with the paths and settings it uses."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
UNIT = REPO / "deploy" / "briefbot.service"
CONTAINERFILE = REPO / "deploy" / "Containerfile"
HOME = "/opt/briefbot"


def _unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def _runs_briefbot(argv: list[str]) -> None:
    """``argv`` is the installed ``briefbot`` script with arguments the CLI accepts."""
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert Path(argv[0]).name in scripts
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run"


def test_the_unit_starts_the_bot_from_the_checkouts_venv() -> None:
    service = _unit()["Service"]

    argv = shlex.split(service["ExecStart"])
    assert argv[0] == f"{HOME}/.venv/bin/briefbot"
    _runs_briefbot(argv)
    assert service["WorkingDirectory"] == HOME


def test_the_unit_may_write_where_the_default_settings_write() -> None:
    service = _unit()["Service"]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]

    writable = service["ReadWritePaths"].split()
    assert f"{HOME}/{defaults.corpus_dir}" in writable
    assert f"{HOME}/{defaults.data_dir}" in writable  # index, answers, feedback, trash
    assert service["EnvironmentFile"].lstrip("-") == f"{HOME}/.env"


def test_the_unit_does_not_restart_on_a_setting_error() -> None:
    assert _unit()["Service"]["RestartPreventExitStatus"] == "2"  # run_bot's exit code for settings


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    if not (REPO / ".venv" / "bin" / "briefbot").exists():
        pytest.skip("no .venv/bin/briefbot (run scripts/bootstrap.sh)")
    unit = tmp_path / "briefbot.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace(HOME, str(REPO)), encoding="utf-8")

    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr


def _instructions() -> list[tuple[str, str]]:
    text = CONTAINERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_container_runs_briefbot_run() -> None:
    steps = dict(_instructions())
    argv = [
        *shlex.split(steps["ENTRYPOINT"].strip("[]").replace(",", " ")),
        *shlex.split(steps["CMD"].strip("[]").replace(",", " ")),
    ]

    _runs_briefbot(argv)


def test_the_container_copies_only_what_exists_and_installs_cpu_torch_first() -> None:
    steps = _instructions()
    for word, rest in steps:
        if word == "COPY":
            *sources, _ = rest.split()
            assert all((REPO / s).exists() for s in sources), rest
    run = next(rest for word, rest in steps if word == "RUN")
    pin = re.search(r"torch==[\d.]+", (REPO / "scripts" / "bootstrap.sh").read_text(encoding="utf-8"))
    assert pin is not None and run.index(pin.group()) < run.index("pip install .")


def test_the_container_keeps_its_data_in_one_volume() -> None:
    steps = _instructions()
    env = " ".join(rest for word, rest in steps if word == "ENV")
    assert "BRIEFBOT_CORPUS_DIR=/data/corpus" in env and "BRIEFBOT_INDEX_DIR=/data/state/index" in env
    assert ("VOLUME", '["/data"]') in steps
