"""The AD actions a playbook's ``ad:`` step may ask for, and the parameters each needs (``playbook validate``
checks them before any routine runs; ``runner.ad_step`` performs them)."""

from __future__ import annotations

ACTIONS = ("user create", "user offboard", "user disable", "user enable", "user unlock", "user reset-password",
           "user set", "user move", "group add", "group remove")
NEEDS = {"user create": ("template", "first", "last"), "user offboard": ("login", "reason"),
         "user disable": ("login",), "user enable": ("login",), "user unlock": ("login",),
         "user reset-password": ("login",), "user set": ("login", "values"), "user move": ("login", "ou"),
         "group add": ("group", "logins"), "group remove": ("group", "logins")}
"""The parameters each action needs."""
