"""Built-in check families; each module registers its checks when imported."""
