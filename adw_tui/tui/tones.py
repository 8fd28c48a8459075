"""The transcript's tones (`adw_tui.agents.transcript.Tone`) in the theme's colours.

The transcript's markup names tones, not colours; parsed into rich Text its spans
carry the tone names, which `tone_text` replaces with the current theme's styles, so a
theme (`themes/`) covers the agent panes and the saved transcripts too.
"""

from collections.abc import Mapping
from typing import Any
from weakref import WeakKeyDictionary

from rich.style import Style
from rich.text import Span, Text
from textual.app import App

from adw_tui.agents.transcript import Tone
from adw_tui.tui.formatting import theme_style

TONE_STYLES: Mapping[Tone, str] = {
    Tone.MUTED: "dim",
    Tone.THINKING: "dim italic",
    Tone.TOOL: "$accent",
    Tone.WARNING: "$warning",
    Tone.FAILURE: "$error",
    Tone.ERROR: "bold $error",
    Tone.SUCCESS: "bold $success",
}

Palette = Mapping[str, Style]
"""A tone's name to its style in one theme."""

_palettes: "WeakKeyDictionary[App[Any], tuple[str, Palette]]" = WeakKeyDictionary()


def palette(app: App[Any]) -> Palette:
    """The tones in `app`'s current theme: the same object while the theme stays, so a
    widget can tell by identity that its painted rows are in an older theme."""
    cached = _palettes.get(app)
    if cached is not None and cached[0] == app.theme:
        return cached[1]
    variables = app.theme_variables
    styles = {tone.value: Style.parse(theme_style(s, variables)) for tone, s in TONE_STYLES.items()}
    _palettes[app] = (app.theme, styles)
    return styles


def tone_text(text: Text, styles: Palette) -> Text:
    """`text` with its tone spans in `styles` (in place; other spans stay)."""
    if text.spans:
        text.spans = [
            Span(span.start, span.end, styles.get(span.style, span.style))
            if isinstance(span.style, str)
            else span
            for span in text.spans
        ]
    return text
