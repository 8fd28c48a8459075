"""`--engine opencode`, `ADW_ENGINE=opencode` and `adw doctor`'s OpenCode line."""

from adw_tui.agents.registry import engine_for
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
