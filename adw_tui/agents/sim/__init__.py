"""A simulated `claude` CLI: same flags, same stream-json lines, real edits, no network.

Run it as `python -m adw_tui.agents.sim -p PROMPT ...` or `adw-sim -p PROMPT ...`. It
understands the original ADW slash commands (classify_issue, feature, implement, test,
review, commit, ...), writes real files in its working directory through simulated tool
calls, and answers deterministically: the same prompt, directory and files give the same
lines. `ADW_SIM_DELAY` paces the output and `ADW_SIM_FAULTS` injects failures (see
`faults`). It is a standalone program: outside this package it imports only
`adw_tui.domain.command_templates` (Claude Code's template expansion, which adw shares,
standard library only), so it starts fast and can stand in for the real binary anywhere.
"""
