"""The command line (Typer). Nothing below this package prints or exits."""
