"""itref: a terminal-first toolkit for the IT referent of a commune, its CPAS and its ASBLs."""

__version__ = "0.1.0"
