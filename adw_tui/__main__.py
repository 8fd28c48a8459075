"""`python -m adw_tui` runs the `adw` command."""

import sys

from adw_tui.cli import main

sys.exit(main())
