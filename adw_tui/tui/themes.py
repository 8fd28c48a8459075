"""Dashboard themes: TOML files (see themes/README.md) turned into Textual `Theme`s.

Read from the checkout's `themes/` folder when there is one, else from the copy a wheel
carries as package data (`adw_tui/tui/theme_files/`), so a change to a theme file in a
checkout shows at the next start without reinstalling.
"""

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from textual.theme import Theme

from adw_tui.domain.errors import AdwError

DEFAULT_THEME = "adw-dark"
_COLOR_KEYS = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
    "success",
    "warning",
    "error",
)
_CHECKOUT_THEMES = Path(__file__).resolve().parents[2] / "themes"


def theme_from_toml(text: str, source: str) -> Theme:
    """One theme from the text of a theme file; `source` names it in errors."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AdwError(f"theme {source}: invalid TOML: {error}") from error
    colors = data.get("colors", {})
    name = data.get("name")
    if not isinstance(name, str) or not isinstance(colors, dict) or "primary" not in colors:
        raise AdwError(f"theme {source}: needs `name` and `[colors] primary`")
    unknown = set(colors) - set(_COLOR_KEYS)
    if unknown:
        raise AdwError(f"theme {source}: unknown colors {', '.join(sorted(unknown))}")
    variables = {str(key): str(value) for key, value in data.get("variables", {}).items()}

    def color(key: str) -> str | None:
        value = colors.get(key)
        return None if value is None else str(value)

    return Theme(
        name=name,
        primary=str(colors["primary"]),
        secondary=color("secondary"),
        accent=color("accent"),
        foreground=color("foreground"),
        background=color("background"),
        surface=color("surface"),
        panel=color("panel"),
        boost=color("boost"),
        success=color("success"),
        warning=color("warning"),
        error=color("error"),
        dark=bool(data.get("dark", True)),
        variables=variables,
    )


def load_themes(directory: Path | None = None) -> list[Theme]:
    """Every `*.toml` theme in `directory` (default: the checkout's `themes/`, else the
    package's copy), sorted by file name. A broken bundled theme is a bug: it raises."""
    if directory is not None or _CHECKOUT_THEMES.is_dir():
        folder = directory or _CHECKOUT_THEMES
        return [
            theme_from_toml(path.read_text(encoding="utf-8"), str(path))
            for path in sorted(folder.glob("*.toml"))
        ]
    packaged = resources.files("adw_tui.tui").joinpath("theme_files")
    files = sorted(
        (item for item in packaged.iterdir() if item.name.endswith(".toml")),
        key=lambda item: item.name,
    )
    return [theme_from_toml(item.read_text(encoding="utf-8"), item.name) for item in files]


def load_user_themes(directory: Path) -> tuple[list[Theme], list[AdwError]]:
    """The user's own themes, and the problem of each file that is not one (they are
    skipped, so one broken file does not keep the dashboard from starting)."""
    themes: list[Theme] = []
    problems: list[AdwError] = []
    for path in sorted(directory.glob("*.toml")) if directory.is_dir() else ():
        try:
            themes.append(theme_from_toml(path.read_text(encoding="utf-8"), str(path)))
        except (AdwError, OSError, UnicodeDecodeError) as error:
            problems.append(error if isinstance(error, AdwError) else AdwError(f"{path}: {error}"))
    return themes, problems
