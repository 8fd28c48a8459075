"""`python -m adw_tui.agents.sim`: the simulated agent CLI."""

from adw_tui.agents.sim.cli import main

raise SystemExit(main())
