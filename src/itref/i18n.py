"""The one translation function every user-facing string goes through, and locale-aware formatting.

``_("text")`` returns the text in the user's language and ``ngettext(singular, plural, n)`` picks
the plural form; ``N_("text")`` only marks a text for extraction (it is translated later, where it
is shown). Catalogues are ``itref/locale/<lang>/LC_MESSAGES/itref.po``, compiled to ``itref.mo``
when the package is built (see ``docs/translating.md``); a text missing from the catalogue is shown
in English, the source language.

The language is, first to last: ``--lang``, then ``ITREF_LANG``, then the inventory's ``language:``, then the
usual ``LANGUAGE``/``LC_ALL``/``LC_MESSAGES``/``LANG`` (``fr_BE.UTF-8`` gives French). The command-line entry
point calls :func:`set_language` before the commands are imported, because their help texts are translated on
import: it reads ``--lang`` from the arguments and, when neither it nor ``ITREF_LANG`` is given, the
``language:`` line of the inventory the command will use (:func:`peek_inventory_language`, a plain read of one
line, no YAML parser). Once the inventory is really loaded, :func:`use_inventory_language` applies its language
again (an inventory whose ``language:`` the quick read could not see). The same rule gives the language of
documents meant for others (report files, notifications, the handover pack): see :func:`document_language`.

Formatting follows the language in use, with the Belgian conventions in both languages: dates are
``28/11/2026`` and times ``14:05`` in French and in English; numbers have a decimal comma in French
(``1,5``) and a point in English (``1.5``); sizes count in powers of 1000 (``1,5 Go`` / ``1.5 GB``).
Only the standard library is used here, so importing this module costs nothing at start-up.
"""

from __future__ import annotations

import gettext
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date, datetime

DOMAIN = "itref"
LOCALE_DIR = Path(__file__).with_name("locale")
LANGUAGES = ("en", "fr")
"""The languages itref speaks: English (the source text) and French."""

_translation: gettext.NullTranslations | None = None


def normalize(lang: str | None) -> str | None:
    """Return the itref language of a locale name (``fr_BE.UTF-8`` → ``fr``, ``C`` → ``en``), or None
    when itref does not speak it."""
    if not lang:
        return None
    code = lang.split(":")[0].split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    if code in ("c", "posix"):
        return "en"
    return code if code in LANGUAGES else None


def _languages() -> list[str] | None:
    """Return the languages asked for by ``ITREF_LANG``, or None to let gettext read the environment."""
    forced = os.environ.get("ITREF_LANG")
    return [forced] if forced else None


def set_language(lang: str | None) -> None:
    """Switch the language for the rest of the process (``None`` goes back to ``ITREF_LANG``, then the
    environment). The choice is kept in ``ITREF_LANG``, so the processes itref starts share it."""
    global _translation
    if lang:
        os.environ["ITREF_LANG"] = lang
    _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=_languages(), fallback=True)


def use_inventory_language(lang: str | None) -> bool:
    """Show texts in the inventory's language ``lang`` from now on, unless ``--lang`` or ``ITREF_LANG`` chose one
    (they come first); return True when the language changed. Unlike :func:`set_language`, ``ITREF_LANG`` is
    left alone: the choice stays the inventory's, not the user's."""
    global _translation
    code = normalize(lang)
    if code is None or explicit_language() is not None or code == language():
        return False
    _translation = gettext.translation(DOMAIN, LOCALE_DIR, languages=[code], fallback=True)
    return True


_LANGUAGE_LINE = re.compile(r"""^language:[ \t]*["']?([A-Za-z_-]+)["']?[ \t]*(?:#.*)?$""", re.M)


def peek_inventory_language(path: str | os.PathLike[str]) -> str | None:
    """Return the itref language of the top-level ``language:`` line of the inventory at ``path`` (``fr``,
    ``en``), None when the file cannot be read or says nothing itref speaks. A plain read of at most 1 MB and one
    regular expression: cheap enough for ``itref --help``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(1_000_000)
    except OSError:
        return None
    m = _LANGUAGE_LINE.search(text)
    return normalize(m.group(1)) if m else None


def _get() -> gettext.NullTranslations:
    if _translation is None:
        set_language(None)
    assert _translation is not None
    return _translation


def language() -> str:
    """Return the language texts are shown in: ``fr``, or ``en`` (the source text) when no catalogue is used."""
    return normalize(_get().info().get("language")) or "en"


def explicit_language() -> str | None:
    """Return the language the user asked for by ``--lang`` or ``ITREF_LANG``, or None (environment only)."""
    return os.environ.get("ITREF_LANG") or None


def document_language(default: str | None) -> str | None:
    """Return the language of a document meant for others (a report file, a notification, the handover pack):
    the user's explicit choice (``--lang``, ``ITREF_LANG``), else ``default`` (the inventory's ``language:``),
    else None (the environment's)."""
    return explicit_language() or default or None


@contextmanager
def use_language(lang: str | None) -> Iterator[None]:
    """Show texts in ``lang`` inside the block, then go back to the language in use before (``None``: no change).

    Only texts translated inside the block follow ``lang``: the help texts, and the check texts of
    modules already imported, keep the language they were read in.
    """
    global _translation
    if not lang:
        yield
        return
    saved_env, saved = os.environ.get("ITREF_LANG"), _translation
    set_language(lang)
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop("ITREF_LANG", None)
        else:
            os.environ["ITREF_LANG"] = saved_env
        _translation = saved


def _(message: str) -> str:
    """Return ``message`` translated into the current language (the source text when untranslated)."""
    return _get().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """Return the singular or plural form for ``n``, translated into the current language."""
    return _get().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it now; pass it to ``_()`` where it is shown."""
    return message


# --------------------------------------------------------------------------- formatting

# (decimal separator, thousands separator) per language; French groups with a narrow no-break space (CLDR).
_NUMBERS = {"en": (".", ","), "fr": (",", "\u202f")}
_DATE = "%d/%m/%Y"
_TIME = "%H:%M"


def format_number(value: float, decimals: int = 0, *, grouping: bool = False) -> str:
    """Return ``value`` with ``decimals`` digits after the separator of the language (``1,5`` / ``1.5``);
    ``grouping`` separates thousands (``12 345`` / ``12,345``)."""
    point, thousands = _NUMBERS.get(language(), _NUMBERS["en"])
    text = f"{value:{',' if grouping else ''}.{decimals}f}"
    return text.translate({ord(","): thousands, ord("."): point})


def format_threshold(value: float | int | str) -> str:
    """Return a threshold as written in the playbook (``1.5``, ``85``) with the language's decimal separator
    (``1,5`` in French); anything that is not a number is returned as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    point, _thousands = _NUMBERS.get(language(), _NUMBERS["en"])
    return str(value).replace(".", point)


def format_percent(value: float, decimals: int = 0) -> str:
    """Return ``value`` (already in percent) as ``12,5 %`` in French and ``12.5%`` in English."""
    return _("{value}%").format(value=format_number(value, decimals))


def format_size(n: float | None) -> str:
    """Return a byte count as ``512 B``, ``1.5 MB``, ``2.3 GB`` (powers of 1000; ``1,5 Mo`` in French)."""
    if n is None:
        return "?"
    units = (_("{size} B"), _("{size} KB"), _("{size} MB"), _("{size} GB"), _("{size} TB"))
    value = float(n)
    for i, unit in enumerate(units):
        if value < 1000 or i == len(units) - 1:
            return unit.format(size=format_number(value, 0 if i == 0 else 1))
        value /= 1000
    raise AssertionError("unreachable")


def format_date(day: date | datetime) -> str:
    """Return a date as ``28/11/2026`` (the Belgian way, in both languages; ``datetime`` in local time)."""
    from datetime import datetime

    if isinstance(day, datetime) and day.tzinfo is not None:
        day = day.astimezone()
    return day.strftime(_DATE)


def format_time(moment: datetime) -> str:
    """Return the local time of day as ``14:05`` (24-hour clock)."""
    return (moment.astimezone() if moment.tzinfo is not None else moment).strftime(_TIME)


def format_datetime(moment: datetime) -> str:
    """Return a moment as ``28/11/2026 14:05`` in local time."""
    return f"{format_date(moment)} {format_time(moment)}"
