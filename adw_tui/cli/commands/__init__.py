"""One module per group of `adw` subcommands; each exposes `register(subparsers)`."""
