"""The operator's preferences: the theme kept across starts, user themes, remapped keys."""

from pathlib import Path

import pytest

from adw_tui.config import Settings
from adw_tui.domain.errors import AdwError
from adw_tui.runtime.orchestrator import Orchestrator
from adw_tui.store import Store
from adw_tui.tui.app import binding_ids, create_app
from adw_tui.tui.preferences import Preferences, config_dir
from adw_tui.tui.screens.launch import LaunchScreen
from adw_tui.tui.themes import DEFAULT_THEME
from tests.tui.conftest import record_notifications, until

# One engine: the dashboard's preferences file, whatever the engine.
from tests.tui.conftest import sqlite_alone as engine  # noqa: F401

USER_THEME = """
name = "solarized-night"
[colors]
primary = "#268bd2"
background = "#002b36"
"""


def test_the_config_dir_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, user_config_dir: Path
):
    assert config_dir() == user_config_dir
    monkeypatch.delenv("ADW_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_dir() == tmp_path / "xdg" / "adw"


def test_preferences_round_trip_and_broken_files_are_named(user_config_dir: Path):
    assert Preferences.load() == Preferences()
    path = Preferences(theme="adw-light", keymap={"app.launch": "ctrl+n"}).save()
    assert Preferences.load() == Preferences(theme="adw-light", keymap={"app.launch": "ctrl+n"})
    path.write_text("theme = [", encoding="utf-8")
    with pytest.raises(AdwError, match=r"tui\.toml: invalid TOML"):
        Preferences.load()
    path.write_text("keymap = 3", encoding="utf-8")
    with pytest.raises(AdwError, match="keymap"):
        Preferences.load()


async def test_switching_theme_is_kept_for_the_next_start(
    store: Store, repo: Path, settings: Settings, orchestrator: Orchestrator, user_config_dir: Path
):
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test() as pilot:
        assert app.theme == DEFAULT_THEME
        app.switch_theme("adw-light")
        await pilot.pause()
    assert Preferences.load(user_config_dir).theme == "adw-light"
    again = create_app(store, repo, settings, orchestrator=orchestrator)
    async with again.run_test():
        assert again.theme == "adw-light"


async def test_user_themes_load_and_a_broken_one_is_reported(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    user_config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    themes = user_config_dir / "themes"
    themes.mkdir(parents=True)
    (themes / "solarized.toml").write_text(USER_THEME, encoding="utf-8")
    (themes / "broken.toml").write_text('name = "x"\n', encoding="utf-8")
    Preferences(theme="solarized-night").save(user_config_dir)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == "solarized-night"
        assert "solarized-night" in app.available_themes
    (warning,) = notified
    assert "broken.toml" in warning["message"]
    assert warning["severity"] == "warning"


async def test_an_unknown_saved_theme_falls_back_to_the_default(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    user_config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    Preferences(theme="gone").save(user_config_dir)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.theme == DEFAULT_THEME
    assert '"gone" is not installed' in notified[0]["message"]


async def test_bindings_are_remapped_by_id(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    user_config_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    assert {"app.quit", "app.launch", "app.help", "dashboard.refresh"} <= binding_ids()
    Preferences(keymap={"app.launch": "ctrl+n", "app.nonsense": "x"}).save(user_config_dir)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    notified = record_notifications(app, monkeypatch)
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("n")  # no longer bound
        await pilot.pause()
        assert not isinstance(app.screen, LaunchScreen)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, LaunchScreen)
    assert any("app.nonsense" in n["message"] for n in notified)


async def test_notifications_show_their_text_as_written(
    store: Store,
    repo: Path,
    settings: Settings,
    orchestrator: Orchestrator,
    user_config_dir: Path,
):
    """Notifications quote names and errors, so `[/b]` in one is text: read as markup it
    would end the app with a markup error."""
    Preferences(theme="[/b]old").save(user_config_dir)
    app = create_app(store, repo, settings, orchestrator=orchestrator)
    async with app.run_test(notifications=True) as pilot:
        await until(pilot, lambda: bool(app.screen.query("Toast")), within_s=10)
        shown = [str(toast.render()) for toast in app.screen.query("Toast")]
    assert any('theme "[/b]old" is not installed' in text for text in shown), shown
