"""Build hook: compile the message catalogues (``src/itref/locale/*/LC_MESSAGES/itref.po``) into ``itref.mo``.

The ``.po`` files are the only source kept in git; every wheel gets ``.mo`` files compiled from them by
Babel (a build requirement, see ``[tool.hatch.build.targets.wheel.hooks.custom]`` in pyproject.toml).
A normal wheel carries them inside ``itref/locale``; an editable install (``pip install -e .``) runs
the package from ``src/``, so they are written beside the ``.po`` there (ignored by git; refresh them
with ``scripts/i18n compile`` after editing a catalogue).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def compile_catalogue(po: Path, mo: Path) -> None:
    """Compile one ``.po`` into ``.mo`` (fuzzy translations left out: they show in English)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as f:
        catalog = read_po(f, locale=po.parent.parent.name, domain=po.stem)
    mo.parent.mkdir(parents=True, exist_ok=True)
    with mo.open("wb") as f:
        write_mo(f, catalog, use_fuzzy=False)


class CatalogueHook(BuildHookInterface):
    """Compile each catalogue and put the ``.mo`` in the wheel (or beside the ``.po`` for an editable one)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        catalogues = sorted((root / "src" / "itref" / "locale").glob("*/LC_MESSAGES/*.po"))
        if version == "editable":
            for po in catalogues:
                compile_catalogue(po, po.with_suffix(".mo"))
            return
        self._tmp = Path(tempfile.mkdtemp(prefix="itref-mo-"))
        for po in catalogues:
            relative = po.with_suffix(".mo").relative_to(root / "src")
            compile_catalogue(po, self._tmp / relative)
            build_data["force_include"][str(self._tmp / relative)] = relative.as_posix()

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        tmp = getattr(self, "_tmp", None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
