"""The command line: `aiops-maturity` (cli.py) and its subcommands that are more than a call."""
