"""Windows checks over WinRM (filled in by the Windows family)."""
