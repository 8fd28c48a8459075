"""GeminiEngine without the CLI: its command line, its environment and the home it keeps
for Gemini CLI, what it says when the CLI is missing, and its registry entry."""

import json
from pathlib import Path

import pytest

from adw_tui.agents.gemini import API_ATTEMPTS, GeminiEngine
from adw_tui.agents.registry import engine_for, interactive_resume
from adw_tui.config import Settings
from adw_tui.domain.agent import AgentRequest, AgentResult, ErrorClass


def environ(home: Path, **extra: str) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PATH": "/usr/bin:/bin",
        "GEMINI_API_KEY": "secret-gemini-key",
        "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9",
        "OPENAI_API_KEY": "not-for-gemini",
        "AWS_SECRET_ACCESS_KEY": "not-for-agents",
        "GITHUB_TOKEN": "not-for-agents",
        **extra,
    }


def request(tmp_path: Path, **fields: object) -> AgentRequest:
    return AgentRequest.model_validate(
        {
            "prompt": "hi",
            "adw_id": "a1b2c3d4",
            "agent_name": "planner",
            "model": "gemini-2.5-pro",
            "cwd": tmp_path,
            "output_dir": tmp_path / "agents",
            **fields,
        }
    )


def test_the_command_line(tmp_path: Path) -> None:
    engine = GeminiEngine(binary="/opt/gemini", environ=environ(tmp_path))
    expected = [
        "/opt/gemini",
        "--prompt",
        "",  # the prompt comes on stdin
        "--model",
        "gemini-2.5-pro",
        "--output-format",
        "stream-json",
        "--approval-mode",
        "yolo",
        "--skip-trust",
    ]
    assert engine.command(request(tmp_path)) == expected
    resumed = engine.command(request(tmp_path, resume_session_id="0594732e"))
    assert resumed == [*expected, "--resume", "0594732e"]
    assert engine.interactive_resume("0594732e") == ["/opt/gemini", "--resume", "0594732e"]
    assert (engine.name, engine.resumes_sessions, engine.expands_commands) == (
        "gemini",
        True,
        False,
    )


def test_the_binary_comes_from_adw_gemini_path(tmp_path: Path) -> None:
    engine = GeminiEngine(environ=environ(tmp_path, ADW_GEMINI_PATH="/somewhere/gemini"))
    assert engine.command(request(tmp_path))[0] == "/somewhere/gemini"


def test_adw_keeps_a_home_for_the_cli_with_settings_and_no_key(tmp_path: Path) -> None:
    env = GeminiEngine(
        environ=environ(tmp_path, XDG_STATE_HOME=str(tmp_path / "state"))
    ).environment()

    home = tmp_path / "state" / "adw" / "gemini"
    assert env["GEMINI_CLI_HOME"] == str(home)
    assert env["GEMINI_API_KEY"] == "secret-gemini-key"
    assert env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:9"
    assert env["HOME"] == str(tmp_path)
    assert not {"OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN"} & set(env)
    settings_file = home / ".gemini" / "settings.json"
    written = settings_file.read_text()
    assert "secret-gemini-key" not in written
    assert json.loads(written) == {
        "general": {
            "maxAttempts": API_ATTEMPTS,
            "disableAutoUpdate": True,
            "disableUpdateNag": True,
        },
        "privacy": {"usageStatisticsEnabled": False},
        "telemetry": {"enabled": False},
        "advanced": {"ignoreLocalEnv": True},
        "security": {"auth": {"selectedType": "gemini-api-key"}},
    }
    assert [p.name for p in settings_file.parent.iterdir()] == ["settings.json"]


def test_without_a_key_no_auth_method_is_chosen(tmp_path: Path) -> None:
    source = environ(tmp_path)
    del source["GEMINI_API_KEY"]
    env = GeminiEngine(environ=source, api_attempts=1).environment()
    written = json.loads((Path(env["GEMINI_CLI_HOME"]) / ".gemini" / "settings.json").read_text())
    assert "security" not in written
    assert written["general"]["maxAttempts"] == 1
    assert env["GEMINI_CLI_HOME"] == str(tmp_path / ".local" / "state" / "adw" / "gemini")


def test_the_users_own_configuration_is_respected(tmp_path: Path) -> None:
    own = tmp_path / ".gemini" / "settings.json"
    own.parent.mkdir()
    own.write_text('{"security": {"auth": {"selectedType": "oauth-personal"}}}')
    env = GeminiEngine(environ=environ(tmp_path)).environment()
    assert "GEMINI_CLI_HOME" not in env
    assert own.read_text() == '{"security": {"auth": {"selectedType": "oauth-personal"}}}'
    assert not (tmp_path / ".local").exists()

    chosen = GeminiEngine(environ=environ(tmp_path / "x", GEMINI_CLI_HOME="/srv/g")).environment()
    assert chosen["GEMINI_CLI_HOME"] == "/srv/g"
    assert not (tmp_path / "x").exists()


def test_extra_env_joins_the_allow_list(tmp_path: Path) -> None:
    source = environ(tmp_path, GOOGLE_CLOUD_PROJECT="p1", GOOGLE_CLOUD_LOCATION="eu")
    env = GeminiEngine(environ=source, extra_env=("GOOGLE_CLOUD_*",)).environment()
    assert (env["GOOGLE_CLOUD_PROJECT"], env["GOOGLE_CLOUD_LOCATION"]) == ("p1", "eu")


async def test_a_missing_cli_says_what_to_install(tmp_path: Path) -> None:
    engine = GeminiEngine(binary="no-such-gemini", environ=environ(tmp_path))
    problem = engine.check_installed()
    assert problem is not None
    assert "@google/gemini-cli" in problem
    assert "ADW_GEMINI_PATH" in problem
    items = [item async for item in engine.run(request(tmp_path))]
    assert items == [
        AgentResult(success=False, error_class=ErrorClass.NOT_INSTALLED, error_message=problem)
    ]
    assert not (tmp_path / "agents").exists()


async def test_a_home_adw_cannot_write_is_reported(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("a file, not a folder")
    source = environ(tmp_path, XDG_STATE_HOME=str(tmp_path / "state"))
    engine = GeminiEngine(binary="/bin/true", environ=source)
    [result] = [item async for item in engine.run(request(tmp_path))]
    assert isinstance(result, AgentResult)
    assert result.error_class is ErrorClass.NOT_INSTALLED
    assert result.error_message.startswith(
        f"cannot write Gemini CLI's settings in {tmp_path}/state/adw/gemini: "
    )
    assert "GEMINI_CLI_HOME" in result.error_message


def test_the_registry_builds_it_with_the_price_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(model_prices={"gemini-2.5-pro": (2.0, 20.0)})
    engine = engine_for("gemini", settings, environ(tmp_path))
    assert isinstance(engine, GeminiEngine)
    assert engine._prices == settings.price_table()
    assert settings.model_set("gemini") == {"base": "gemini-2.5-flash", "heavy": "gemini-2.5-pro"}

    binary = tmp_path / "bin" / "gemini"
    binary.parent.mkdir()
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    monkeypatch.delenv("GEMINI_CLI_HOME", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    env = {"HOME": str(tmp_path), "ADW_GEMINI_PATH": str(binary)}
    interactive = interactive_resume("gemini", settings, "0594732e", env)
    assert interactive.argv == [str(binary), "--resume", "0594732e"]
    assert interactive.env["GEMINI_CLI_HOME"] == str(tmp_path / "state" / "adw" / "gemini")
