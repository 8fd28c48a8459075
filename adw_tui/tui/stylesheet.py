"""The app's stylesheet: Textual's, with each CSS source parsed once per set of variables.

Textual's `Stylesheet.reparse` parses every source again in a fresh stylesheet, and so
drops the parse cache: at start-up the app's CSS and every widget's DEFAULT_CSS were
parsed anew for the theme being set, for the first screen's CSS and for each batch of
widget classes mounted (bench/tui_startup.py). Here the cache lives as long as the
variables it was parsed with (`set_variables` clears it only when they change), and a
reparse parses only the sources it has not seen.
"""

from textual.css.stylesheet import Stylesheet


class ParseOnceStylesheet(Stylesheet):
    """A `Stylesheet` whose reparse reuses what was parsed with the same variables."""

    def set_variables(self, variables: dict[str, str]) -> None:
        if variables != self._variables:
            super().set_variables(variables)

    def reparse(self) -> None:
        """Parse the sources into rules. As in Textual's, a source found invalid before is
        tried again, and one with an error raises and leaves the rules as they were."""
        invalid, self._invalid_css = self._invalid_css, set()
        try:
            self.parse()
        finally:
            self._invalid_css |= invalid
