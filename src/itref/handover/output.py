"""Write a handover pack into a folder: index and one page per entity, each as Markdown and HTML.

A marker file lists what a generation wrote, so a later one recognises the folder as a previous pack,
replaces its pages and removes pages of entities no longer asked for, and nothing else. Files are
readable by their owner only: the pack maps the whole network, even though it holds no password.
"""

from __future__ import annotations

import json
from pathlib import Path

from itref.core.errors import UsageError
from itref.handover import html, markdown
from itref.handover.layout import entity_document, index_document, page_file
from itref.handover.pack import Pack
from itref.i18n import _

MARKER = ".itref-handover.json"
"""The file that marks a folder as a handover pack and lists its pages."""

RENDERERS = {"md": markdown.render, "html": html.render}


def check_folder(folder: Path, *, force: bool = False) -> None:
    """Refuse a folder that is a file, or that holds other things than a previous pack (unless ``force``).

    Raises UsageError.
    """
    if folder.exists() and not folder.is_dir():
        raise UsageError(_("{path} exists and is not a folder").format(path=folder))
    if force or not folder.is_dir() or (folder / MARKER).is_file():
        return
    if any(folder.iterdir()):
        raise UsageError(_("{path} is not empty and does not hold a previous handover pack; choose a new or empty "
                           "folder, or add --force to write into it anyway").format(path=folder))


def pages(pack: Pack) -> dict[str, str]:
    """Return file name → text of every page of the pack (index first)."""
    out: dict[str, str] = {}
    for ext, render in RENDERERS.items():
        out[f"index.{ext}"] = render(index_document(pack, ext))
    for entity in pack.entities:
        for ext, render in RENDERERS.items():
            out[page_file(entity.name, ext)] = render(entity_document(pack, entity, ext))
    return out


def write_pack(pack: Pack, folder: Path, *, force: bool = False) -> list[Path]:
    """Write the pack into ``folder`` (created if needed) and return the files written, index first.

    Raises UsageError when the folder is not fit (see :func:`check_folder`), OSError when the disk refuses.
    """
    check_folder(folder, force=force)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    previous = _previous(folder)
    texts = pages(pack)
    written = []
    for name, text in texts.items():
        _write(folder / name, text)
        written.append(folder / name)
    for name in previous - set(texts):
        (folder / name).unlink(missing_ok=True)
    marker = {"generator": "itref handover", "version": pack.version,
              "generated": pack.generated.isoformat(timespec="seconds"), "files": list(texts)}
    _write(folder / MARKER, json.dumps(marker, ensure_ascii=False, indent=2) + "\n")
    written.append(folder / MARKER)
    return written


def _previous(folder: Path) -> set[str]:
    """Return the page names a previous generation wrote (plain names inside the folder only)."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list):
        return set()
    return {f for f in files if isinstance(f, str) and f == Path(f).name and f not in ("", ".", "..", MARKER)
            and f.endswith((".md", ".html"))}


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` at once (a reader never sees half a page), owner-only (mode 0600, through
    :func:`itref.core.files.write_private`). Any secret value this process happened to read is masked all the
    same (the pack itself never reads one)."""
    from itref.core.files import write_private
    from itref.secrets import mask

    write_private(path, mask(text))
