"""What the dashboard's start no longer repeats: the footer rebuilding the very same keys,
and the stylesheet parsing the same CSS again (bench/tui_startup.py)."""

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.color import Color
from textual.widgets._footer import FooterKey

from adw_tui.tui.stylesheet import ParseOnceStylesheet
from adw_tui.tui.widgets.key_footer import KeyFooter


class FooterApp(App[None]):
    BINDINGS = [Binding("x", "thing", "Thing")]  # noqa: RUF012 - Textual's declaration style

    def __init__(self) -> None:
        super().__init__()
        self.thing_enabled = True

    def compose(self) -> ComposeResult:
        yield KeyFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None: shown, greyed out (False would hide it).
        return None if action == "thing" and not self.thing_enabled else True

    def action_thing(self) -> None:
        pass


async def test_the_footer_rebuilds_its_keys_only_when_they_change():
    app = FooterApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        footer = app.screen.query_one(KeyFooter)
        keys = list(footer.query(FooterKey))
        assert [key.action for key in keys if key.action == "thing"] == ["thing"]
        app.screen.refresh_bindings()  # what focus and stack changes do at start
        await pilot.pause()
        await pilot.pause()
        assert list(footer.query(FooterKey)) == keys  # the very same widgets
        app.thing_enabled = False
        app.screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        rebuilt = list(footer.query(FooterKey))
        assert rebuilt != keys
        [thing] = [key for key in rebuilt if key.action == "thing"]
        assert thing.has_class("-disabled")


def test_a_reparse_parses_only_what_it_has_not_seen_with_these_variables():
    sheet = ParseOnceStylesheet(variables={"accent": "red"})
    sheet.add_source("Static { color: $accent; }", read_from=("a.tcss", ""))
    sheet.parse()
    [first] = sheet.rules
    sheet.set_variables({"accent": "red"})
    sheet.add_source("Label { color: $accent; }", read_from=("b.tcss", ""))
    sheet.reparse()
    assert sheet.rules[0] is first  # kept, not parsed again
    assert len(sheet.rules) == 2
    sheet.set_variables({"accent": "blue"})
    sheet.reparse()
    assert sheet.rules[0] is not first
    assert [rule.styles.color for rule in sheet.rules] == [Color.parse("blue")] * 2
