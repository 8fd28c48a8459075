"""The operator's own dashboard preferences, kept apart from any repository's settings.

They live in the user's config directory (`$ADW_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/adw`, else `~/.config/adw`):

- `tui.toml`: `theme = "adw-light"` (written when the theme is switched), a
  `[keymap]` table of binding id -> keys, e.g. `"app.launch" = "ctrl+n"`, and a
  `[notifications]` table switching the terminal's alerts (`Notifications`);
- `themes/*.toml`: extra themes, in the format of the bundled ones.
"""

import os
import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import ConfigDict, Field, ValidationError

from adw_tui.domain.errors import AdwError
from adw_tui.domain.modeling import Model

PREFERENCES_FILE = "tui.toml"
THEMES_DIR = "themes"


def config_dir() -> Path:
    """The user's adw config directory (it need not exist)."""
    explicit = os.environ.get("ADW_CONFIG_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".config"
    return base / "adw"


class Notifications(Model):
    """Which events ring the terminal's bell and ask it for a desktop notification."""

    model_config = ConfigDict(extra="forbid")  # a misspelt switch is named, not ignored

    bell: bool = True
    desktop: Literal["osc9", "osc777", "off"] = "osc9"
    """The desktop-notification escape: OSC 9 (iTerm2, WezTerm, Ghostty, kitty,
    Windows Terminal...), OSC 777 (urxvt, foot, Konsole...) or none."""
    succeeded: bool = True
    failed: bool = True
    dead_letter: bool = True
    waiting: bool = True
    """A run waiting for a person (a step held back by an open circuit breaker)."""


class Preferences(Model):
    theme: str | None = None
    keymap: dict[str, str] = Field(
        default_factory=dict, description="binding id -> comma-separated keys"
    )
    notifications: Notifications = Field(default_factory=Notifications)

    @classmethod
    def load(cls, directory: Path | None = None) -> "Preferences":
        """The preferences in `directory` (default: `config_dir()`); none when the file
        does not exist. A broken file is an AdwError naming it."""
        path = (directory or config_dir()) / PREFERENCES_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls()
        except OSError as error:
            raise AdwError(f"cannot read {path}: {error.strerror}") from error
        try:
            return cls.model_validate(tomllib.loads(text))
        except tomllib.TOMLDecodeError as error:
            raise AdwError(f"{path}: invalid TOML: {error}; fix or delete the file") from error
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, detail['loc']))}: {detail['msg']}" for detail in error.errors()
            )
            raise AdwError(f"{path}: {problems}") from error

    def save(self, directory: Path | None = None) -> Path:
        """Write the preferences back, atomically (a crash leaves the old file)."""
        folder = directory or config_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / PREFERENCES_FILE
        partial = path.with_suffix(".toml.partial")
        partial.write_text(tomli_w.dumps(self.model_dump(exclude_none=True)), encoding="utf-8")
        partial.replace(path)
        return path


def user_themes_dir(directory: Path | None = None) -> Path:
    return (directory or config_dir()) / THEMES_DIR
