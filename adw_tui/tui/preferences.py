"""The operator's own dashboard preferences, kept apart from any repository's settings.

They live in the user's config directory (`$ADW_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/adw`, else `~/.config/adw`):

- `tui.toml`: `theme = "adw-light"` (written when the theme is switched) and a
  `[keymap]` table of binding id -> keys, e.g. `"app.launch" = "ctrl+n"`;
- `themes/*.toml`: extra themes, in the format of the bundled ones.
"""

import os
import tomllib
from pathlib import Path

import tomli_w
from pydantic import Field, ValidationError

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


class Preferences(Model):
    theme: str | None = None
    keymap: dict[str, str] = Field(
        default_factory=dict, description="binding id -> comma-separated keys"
    )

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
