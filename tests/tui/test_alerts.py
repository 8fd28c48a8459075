"""The terminal's alerts: the bell and the desktop-notification escape, written once per
run ending by the real dashboard on a real pseudo-terminal; the escape's text made
harmless whatever an issue or an agent wrote; each switch of tui.toml read."""

import re
import sys
from pathlib import Path

import pytest

from adw_tui.domain.errors import AdwError
from adw_tui.tui.alerts import MAX_BODY, MAX_TITLE, desktop_notification
from adw_tui.tui.preferences import PREFERENCES_FILE, Notifications, Preferences
from bench.pty_app import PtyChild

ROOT = Path(__file__).parents[2]
HOSTILE = "fix \x1b]52;c;aGk=\x07 the\x9c bug\x1b\\; now\r\n\x1b[2Jplease\x00\x7f \u202e" * 20
OSC = re.compile(rb"\x1b\](\d+);([^\x1b\x07]*)(?:\x1b\\|\x07)")


@pytest.mark.parametrize("style", ["osc9", "osc777"])
def test_the_escape_holds_no_control_and_is_bounded(style: str):
    sequence = desktop_notification(style, "run failed; " + HOSTILE, HOSTILE)  # type: ignore[arg-type]
    start = "\x1b]9;adw: " if style == "osc9" else "\x1b]777;notify;adw: "
    assert sequence.startswith(start)
    assert sequence.endswith("\x1b\\")
    inside = sequence[len(start) : -2]
    assert not re.search("[\x00-\x1f\x7f-\x9f]", inside), inside
    assert len(inside) <= MAX_TITLE + MAX_BODY + 1
    assert "␛]52;c;aGk=␇" in inside  # shown, not acted on
    if style == "osc777":
        title, body = inside.split(";", 1)
        assert title.startswith("run failed, fix")
        assert body.startswith("fix ␛]52")


def test_off_writes_nothing():
    assert desktop_notification("off", "t", "b") == ""


def test_each_switch_is_read_from_tui_toml_and_a_misspelt_one_is_named(tmp_path: Path):
    (tmp_path / PREFERENCES_FILE).write_text(
        '[notifications]\ndesktop = "osc777"\nbell = false\nsucceeded = false\n'
    )
    assert Preferences.load(tmp_path).notifications == Notifications(
        desktop="osc777", bell=False, succeeded=False
    )
    (tmp_path / PREFERENCES_FILE).write_text("[notifications]\nsucceded = false\n")
    with pytest.raises(AdwError, match=r"tui\.toml: notifications\.succeded: Extra inputs"):
        Preferences.load(tmp_path)


def alerts_of(tmp_path: Path, scenario: str, toml: str) -> tuple[list[str], int]:
    """The OSC 9 texts and the bells the dashboard writes to its terminal in `scenario`
    (see tests/tui/alerts_app.py), with `toml` as tui.toml, until half a second after
    its first dead letter's alert (then `q`)."""
    config = tmp_path / "config"
    config.mkdir()
    (config / PREFERENCES_FILE).write_text(toml)
    child = PtyChild(
        [sys.executable, "-m", "tests.tui.alerts_app", str(tmp_path / "repo"), scenario],
        cwd=ROOT,
        env={"ADW_CONFIG_DIR": str(config), "ADW_SIM_STATE_DIR": str(tmp_path / "sim")},
        unset=["ADW_MAX_CONCURRENT", "ADW_SIM_DELAY", "ADW_SIM_FAULTS", "ADW_DB", "ADW_TRACKER"],
    )
    data = bytearray()
    quit_sent = False
    try:
        for chunk in child.output(90, quiet_s=0.5):
            data += chunk
            if not chunk and not quit_sent and b"dead-lettered" in data:
                child.type(b"q")  # after a quiet half second more: every alert is out
                quit_sent = True
    finally:
        child.close()
    osc9 = [body.decode() for number, body in OSC.findall(bytes(data)) if number == b"9"]
    return osc9, OSC.sub(b"", bytes(data)).count(b"\x07")


@pytest.mark.slow
def test_the_dashboard_alerts_once_per_run_ending_on_a_real_terminal(tmp_path: Path):
    # A dead letter alerts; a success rings nothing (its switch is off).
    osc9, bells = alerts_of(tmp_path, "endings", "[notifications]\nsucceeded = false\n")
    assert len(osc9) == 1, osc9
    assert re.fullmatch(
        r"adw: run dead-lettered: \w{8} \(#2 plan_build\) is a dead letter: .*", osc9[0]
    )
    assert "implement" in osc9[0]
    assert bells == 1


@pytest.mark.slow
def test_a_run_waiting_on_a_breaker_alerts_once_per_step(tmp_path: Path):
    osc9, bells = alerts_of(tmp_path, "breaker", "[notifications]\nbell = false\n")
    waiting, ended = osc9
    assert re.fullmatch(
        r"adw: run waiting: \w{8} classify waits 0s: breaker sim is open .*", waiting
    )
    assert ended.startswith("adw: run dead-lettered: ")
    assert bells == 0
