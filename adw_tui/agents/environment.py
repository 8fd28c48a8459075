"""The environment agents (and adw's own git) see: the one place that builds it.

Kept apart from `adw_tui.agents.process`, which imports psutil to kill process trees, so
that finding the repository (a git command, in every `adw` command) imports no psutil."""

from collections.abc import Iterable, Mapping

ALLOWED_ENV_NAMES = (
    "PATH",
    "HOME",
    "USER",
    "SHELL",
    "TERM",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "IS_SANDBOX",
    "ANTHROPIC_*",
    "CLAUDE_CODE_*",
)


def agent_environment(source: Mapping[str, str], extra_names: Iterable[str] = ()) -> dict[str, str]:
    """The variables of `source` an agent may see: the allow-list plus `extra_names`.

    A name ending in `*` allows every variable with that prefix. Nothing else leaks to
    the agent (no cloud credentials, no tokens of other tools; not GitHub's token
    either: adw pushes and opens pull requests itself, and an agent reads issue text
    that anyone may have written).
    """
    patterns = (*ALLOWED_ENV_NAMES, *extra_names)
    exact = {name for name in patterns if not name.endswith("*")}
    prefixes = tuple(name[:-1] for name in patterns if name.endswith("*"))
    return {
        name: value
        for name, value in source.items()
        if name in exact or (prefixes and name.startswith(prefixes))
    }
