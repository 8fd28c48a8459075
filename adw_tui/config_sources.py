"""The two sources of settings, read as they are: `ADW_*` variables and the repository's
`.adw/config.toml`.

Apart from `adw_tui.config`, which validates them with pydantic, so that `adw prompt` can
read the few its agent's command line needs before importing pydantic. They are read as
pydantic-settings read them: a variable is the field's name with the prefix, in any case;
a list or dict field's variable holds JSON; the TOML file's top-level keys are field
names.
"""

import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

CONFIG_FILE = Path(".adw") / "config.toml"
ENV_PREFIX = "ADW_"


def source_values(
    repo: Path | None,
    environ: Mapping[str, str],
    names: Iterable[str],
    json_names: Collection[str],
) -> dict[str, Any]:
    """The values of `repo`'s config file (every top-level key), under those the
    environment gives the fields `names` (`json_names` among them hold JSON). Raises
    tomllib's TOMLDecodeError for a broken file."""
    values: dict[str, Any] = {}
    toml_file = repo / CONFIG_FILE if repo is not None else None
    if toml_file is not None and toml_file.is_file():
        import tomllib  # here: most repositories have no config file

        values.update(tomllib.loads(toml_file.read_text(encoding="utf-8")))
    values.update(_environment_values(environ, names, json_names))
    return values


def _environment_values(
    environ: Mapping[str, str], names: Iterable[str], json_names: Collection[str]
) -> dict[str, Any]:
    """The values `ADW_<NAME>` variables (any case) give: JSON decoded for `json_names`
    (text that is not JSON is left for validation to refuse, naming the field), the text
    itself for the others."""
    by_name = {key.lower(): value for key, value in environ.items()}
    values: dict[str, Any] = {}
    for name in names:
        text = by_name.get(f"{ENV_PREFIX.lower()}{name}")
        if text is None:
            continue
        if name in json_names:
            try:
                values[name] = json.loads(text)
                continue
            except ValueError:
                pass
        values[name] = text
    return values
