"""The environment and options of every git command adw runs itself.

Apart from `adw_tui.runtime.git`, which imports asyncio: every command finds its
repository with one git call before it imports asyncio (`adw_tui.cli.repository`)."""

import os

from adw_tui.agents.environment import agent_environment

# Variables git reads for identity and configuration, beyond the agents' allow-list.
GIT_ENV_NAMES = (
    "GIT_AUTHOR_*",
    "GIT_COMMITTER_*",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CEILING_DIRECTORIES",
    "XDG_CONFIG_HOME",
    "SSH_AUTH_SOCK",  # pushes over ssh use the operator's agent and key
    "GIT_SSH_COMMAND",
)
# Before the subcommand, so no hook runs for any of adw's own operations.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def git_environment() -> dict[str, str]:
    """The environment of every git command adw runs itself."""
    return {
        **agent_environment(os.environ, GIT_ENV_NAMES),
        "LC_ALL": "C",  # stable messages: errors are recognised by their text
        "GIT_TERMINAL_PROMPT": "0",  # fail instead of asking for credentials
        "GIT_OPTIONAL_LOCKS": "0",  # `git status` must not contend with other runs for locks
    }
