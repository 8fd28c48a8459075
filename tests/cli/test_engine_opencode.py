"""`--engine opencode`, `ADW_ENGINE=opencode` and `adw doctor`'s OpenCode line."""

import json
import subprocess
from pathlib import Path

import pytest

from adw_tui.agents.registry import engine_for
from adw_tui.cli import main
from adw_tui.cli.parser import build_parser
from adw_tui.config import Settings, load_settings


def test_engine_choices_take_opencode():
    parser = build_parser()
    assert parser.parse_args(["run", "1", "--engine", "opencode"]).engine == "opencode"
    assert parser.parse_args(["prompt", "hi", "--engine", "opencode"]).engine == "opencode"
    assert load_settings(None, {"ADW_ENGINE": "opencode"}).engine == "opencode"
    engine = engine_for("opencode", Settings())
    assert (engine.name, engine.resumes_sessions, engine.expands_commands) == (
        "opencode",
        True,
        False,
    )


def test_doctor_shows_the_opencode_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo)
    fake = tmp_path / "opencode"
    fake.write_text("#!/bin/sh\necho 1.18.33\n")
    fake.chmod(0o755)
    monkeypatch.setenv("ADW_OPENCODE_PATH", str(fake))
    main(["doctor", "--json"])
    checks = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    assert checks["opencode"] == {"name": "opencode", "level": "ok", "detail": f"1.18.33 ({fake})"}
    monkeypatch.setenv("ADW_OPENCODE_PATH", str(tmp_path / "missing"))
    main(["doctor", "--json"])
    checks = {check["name"]: check for check in json.loads(capsys.readouterr().out)}
    assert checks["opencode"]["level"] == "warn"
    assert "npm install -g opencode-ai" in checks["opencode"]["detail"]
