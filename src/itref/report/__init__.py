"""Renderers: turn result objects into tables, JSON and other formats. Formatting only."""
