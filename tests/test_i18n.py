"""Languages: the French catalogue is complete and faithful, the language is chosen as documented, the
CLI, an audit report and the handover pack read entirely in French or in English, plurals and formats
follow the language, and parsing does not depend on it.

Regenerate the French ``itref --help`` snapshot with:
``ITREF_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_i18n.py -k snapshot``
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import string
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

from itref import i18n

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "src" / "itref" / "locale" / "fr" / "LC_MESSAGES" / "itref.po"
SNAPSHOT = Path(__file__).with_name("snapshots") / "help.fr.txt"
LANG_VARS = ("ITREF_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def load_script() -> ModuleType:
    """Import ``scripts/i18n`` (a script without .py) as a module."""
    loader = importlib.machinery.SourceFileLoader("itref_i18n_script", str(ROOT / "scripts" / "i18n"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script() -> ModuleType:
    import babel  # noqa: F401  (a test dependency: a missing one must fail, not skip)

    return load_script()


@pytest.fixture(scope="module")
def french(script: ModuleType):
    """The French catalogue as Babel reads it; the compiled .mo of a checkout is refreshed when older."""
    mo = i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "itref.mo"
    if i18n.LOCALE_DIR.resolve() == PO.parents[2].resolve() and (
            not mo.exists() or mo.stat().st_mtime < PO.stat().st_mtime):
        script.compile_po(PO, mo)
    return script.read(PO)


@pytest.fixture
def english_process(monkeypatch):
    """Run the test in English whatever the machine's locale, and restore the language afterwards."""
    for var in LANG_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(i18n, "_translation", None)
    yield
    monkeypatch.setattr(i18n, "_translation", None)


def forms(message) -> tuple[str, ...]:
    return tuple(message.string) if isinstance(message.string, list | tuple) else (message.string,)


def problems(template, catalogue) -> list[str]:
    """Return every text of ``template`` that ``catalogue`` lacks, leaves empty or marks fuzzy."""
    out = []
    for message in template:
        if not message.id:
            continue
        found = catalogue.get(message.id)
        if found is None:
            out.append(f"missing: {message.id!r} ({message.locations[0][0] if message.locations else '?'})")
        elif found.fuzzy:
            out.append(f"fuzzy: {message.id!r}")
        elif not all(forms(found)):
            out.append(f"untranslated: {message.id!r}")
    return out


# ------------------------------------------------------------------ (a) completeness


def test_every_text_of_the_source_is_translated_into_french(script, french) -> None:
    """Extracted now, from the source as it is: a text added without its translation fails here
    (then run scripts/i18n update and translate it in the .po)."""
    template = script.extract()
    assert len(template) > 1000
    missing = problems(template, french)
    assert not missing, "run scripts/i18n update, then translate:\n" + "\n".join(missing)


def test_a_new_untranslated_text_is_caught(script, french, tmp_path) -> None:
    package = tmp_path / "itref"
    package.mkdir()
    (package / "new.py").write_text(textwrap.dedent('''
        from itref.i18n import _, ngettext

        def hello(n):
            already = _("Disk space")  # known to the catalogue
            fresh = f"{_('A brand-new text nobody has translated yet')}"  # inside an f-string
            return ngettext("{n} new thing", "{n} new things", n), already, fresh
    '''), encoding="utf-8")
    template = script.extract(package, docstrings=False)
    found = problems(template, french)
    assert "missing: 'A brand-new text nobody has translated yet' (itref/new.py)" in found
    assert any("'{n} new thing'" in p for p in found)
    assert not any("Disk space" in p for p in found)


def test_fuzzy_and_empty_translations_do_not_count(script, french) -> None:
    from babel.messages.catalog import Catalog

    template = Catalog(locale="fr")
    template.add("Disk space")
    template.add("Memory and swap")
    partial = Catalog(locale="fr")
    partial.add("Disk space", "Espace disque", flags=["fuzzy"])
    partial.add("Memory and swap", "")
    assert problems(template, partial) == ["fuzzy: 'Disk space'", "untranslated: 'Memory and swap'"]
    assert problems(template, french) == []


def test_the_catalogue_has_the_french_plural_rule(french) -> None:
    assert french.num_plurals == 2 and french.plural_expr.replace(" ", "") in ("(n>1)", "n>1")
    assert str(french.locale) == "fr"


def test_each_text_is_translated_once_in_the_catalogue() -> None:
    """A merge that keeps both sides of the catalogue leaves one text twice; gettext's msgfmt then refuses it."""
    seen: dict[tuple[str, str], int] = {}
    twice = []
    for block in PO.read_text(encoding="utf-8").split("\n\n"):
        lines = [line.removeprefix("#~ ") for line in block.splitlines()  # obsolete entries count too
                 if line.startswith("#~ ") or not line.startswith("#")]
        key, part = {"msgctxt": "", "msgid": ""}, None
        for line in lines:
            word = line.split(" ", 1)[0]
            if word in ("msgctxt", "msgid"):
                part = word
                key[part] += line[len(word) + 1:]
            elif word.startswith("msg"):
                part = None
            elif part and line.startswith('"'):
                key[part] += line
        if key["msgid"] not in ("", '""'):
            ident = (key["msgctxt"], key["msgid"])
            if ident in seen:
                twice.append(key["msgid"][:60])
            seen[ident] = 1
    assert twice == []
    assert len(seen) > 1000  # the catalogue was read


# ------------------------------------------------------------------ (b) placeholders and spacing


def fields(text: str) -> set[str]:
    """Return the replacement fields of a str.format template ("name!r:spec"), raising on a broken one."""
    out = set()
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            out.add(name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else ""))
    return out


def test_translations_keep_the_placeholders_and_the_edges(french) -> None:
    wrong = []
    for message in french:
        if not message.id or not all(forms(message)):
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        expected = [fields(i) for i in ids]
        for i, text in enumerate(forms(message)):
            try:
                got = fields(text)
            except ValueError as exc:
                wrong.append(f"{ids[0]!r}: broken braces in {text!r} ({exc})")
                continue
            allowed = expected[min(i, len(expected) - 1)]
            if got != allowed and not (len(expected) > 1 and got in expected):
                wrong.append(f"{ids[0]!r}: {sorted(got)} instead of {sorted(allowed)}")
            for edge, test in (("leading", str.startswith), ("trailing", str.endswith)):
                if any(test(ids[0], c) for c in " \n") != any(test(text, c) for c in " \n"):
                    wrong.append(f"{ids[0]!r}: {edge} space/line break not kept in {text!r}")
    assert not wrong, "\n".join(wrong)


def test_the_placeholder_check_sees_a_lost_or_renamed_field() -> None:
    assert fields("{n} problem(s) on {host}") == {"n", "host"}
    assert fields("{n} problème(s) sur {machine}") != fields("{n} problem(s) on {host}")
    assert fields("{name!r} in {mode:o}") == {"name!r", "mode:o"}
    assert fields("a {{literal}} brace") == set()
    with pytest.raises(ValueError):
        fields("{unclosed")


# ------------------------------------------------------------------ (c) choosing the language


def itref(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m itref`` with the language variables of this machine removed, then ``env`` set."""
    clean = {k: v for k, v in os.environ.items() if k not in LANG_VARS}
    clean.update(COLUMNS="80", NO_COLOR="1", **env)
    return subprocess.run([sys.executable, "-m", "itref", *args], capture_output=True, text=True, env=clean,
                          cwd=cwd, timeout=120, check=False)


FR_HELP = "Afficher ce message et quitter."
EN_HELP = "Show this message and exit."


@pytest.mark.parametrize(("args", "env", "lang"), [
    (("--lang", "fr", "--help"), {}, "fr"),
    (("--lang=fr", "--help"), {}, "fr"),
    (("--help",), {"ITREF_LANG": "fr"}, "fr"),
    (("--help",), {"LANG": "fr_BE.UTF-8"}, "fr"),
    (("--help",), {"LC_ALL": "fr_BE.UTF-8", "LANG": "en_GB.UTF-8"}, "fr"),
    (("--help",), {"LANGUAGE": "fr_BE:en", "LANG": "en_US.UTF-8"}, "fr"),
    (("--help",), {}, "en"),
    (("--help",), {"LANG": "C.UTF-8"}, "en"),
    (("--lang", "en", "--help"), {"LANG": "fr_BE.UTF-8"}, "en"),
    (("--lang", "en", "--help"), {"ITREF_LANG": "fr"}, "en"),
    (("--lang", "fr", "--help"), {"ITREF_LANG": "en"}, "fr"),
    (("--help",), {"ITREF_LANG": "en", "LANG": "fr_BE.UTF-8"}, "en"),
    (("audit", "--lang", "fr", "--help"), {}, "fr"),  # after the command name, like every global option
])
def test_the_language_follows_lang_then_itref_lang_then_the_locale(args, env, lang, tmp_path) -> None:
    result = itref(*args, cwd=tmp_path, **env)  # a folder with no inventory.yaml: the inventory says nothing
    assert result.returncode == 0, result.stderr
    assert (FR_HELP if lang == "fr" else EN_HELP) in result.stdout
    assert (EN_HELP if lang == "fr" else FR_HELP) not in result.stdout


@pytest.mark.parametrize(("inventory", "args", "env", "lang"), [
    ("fr", (), {"LANG": "C.UTF-8"}, "fr"),  # the inventory beats the locale
    ("en", (), {"LANG": "fr_BE.UTF-8"}, "en"),
    ("fr", (), {"ITREF_LANG": "en"}, "en"),  # ITREF_LANG beats the inventory
    ("en", ("--lang", "fr"), {"ITREF_LANG": "en"}, "fr"),  # --lang beats everything
    ("fr", ("--lang=en",), {"LANG": "fr_BE.UTF-8"}, "en"),
    (None, (), {"LANG": "fr_BE.UTF-8"}, "fr"),  # no language: in the inventory: the locale
])
def test_the_inventory_language_comes_after_lang_and_itref_lang_and_before_the_locale(inventory, args, env, lang,
                                                                                        tmp_path) -> None:
    inv = write_inventory(tmp_path / "site", language=inventory)
    for where in (("-i", str(inv)), ()):  # named with -i, or found as ./inventory.yaml
        result = itref(*args, *where, "--help", cwd=inv.parent, **env)
        assert result.returncode == 0, result.stderr
        assert (FR_HELP if lang == "fr" else EN_HELP) in result.stdout, (where, result.stdout)
    shown = itref(*args, "-i", str(inv), "audit", "explain", "linux.disk.free", cwd=tmp_path, **env)
    assert ("Pourquoi c'est important" if lang == "fr" else "Why it matters") in shown.stdout


def test_an_inventory_the_quick_read_cannot_see_still_sets_the_language_once_loaded(tmp_path) -> None:
    """A JSON inventory (YAML's flow style) has no 'language:' line; its language applies once it is loaded."""
    import json

    inv = tmp_path / "inventory.yaml"
    inv.write_text(json.dumps({"version": 1, "organisation": "Test", "language": "fr", "entities": {
        "commune": {"title": "Commune", "hosts": {"pc": {"connection": "local"}}}}}), encoding="utf-8")
    result = itref("-i", str(inv), "inventory", "validate", cwd=tmp_path, LANG="C.UTF-8")
    assert result.returncode == 0 and "valide" in result.stdout, result.stdout + result.stderr


def test_an_unknown_language_is_a_usage_error() -> None:
    result = itref("--lang", "de", "inventory", "show")
    assert result.returncode == 2
    assert "--lang" in result.stderr and "fr, en" in result.stderr


def test_usage_errors_are_in_french_too() -> None:
    result = itref("--lang", "fr", "audti")
    assert result.returncode == 2
    assert "Utilisation : itref [OPTIONS] COMMAND [ARGS]..." in result.stderr
    assert "Essayez « itref -h » pour obtenir de l'aide." in result.stderr
    assert "Erreur : Commande inconnue : 'audti'. Vouliez-vous dire 'audit' ?" in result.stderr
    result = itref("--lang", "fr", "audit", "--bogus")
    assert "Erreur : Option inconnue : --bogus" in result.stderr
    result = itref("--lang", "fr", "-i", "/nonexistent/inventory.yaml", "inventory", "show")
    assert result.returncode == 3 and "inventaire introuvable" in result.stderr


def test_nothing_after_the_double_dash_is_read_as_lang() -> None:
    from itref.cli.entry import lang_from_argv

    assert lang_from_argv(["run", "--", "tool", "--lang", "fr"]) is None
    assert lang_from_argv(["--lang", "en", "run", "--lang=fr", "--", "x"]) == "fr"
    assert lang_from_argv(["--lang"]) is None


def test_locale_names_map_to_the_languages_itref_speaks() -> None:
    assert i18n.normalize("fr_BE.UTF-8") == "fr" and i18n.normalize("fr-BE") == "fr"
    assert i18n.normalize("en_GB.UTF-8@euro") == "en" and i18n.normalize("C") == "en"
    assert i18n.normalize("POSIX") == "en" and i18n.normalize("de_DE") is None and i18n.normalize("") is None


# ------------------------------------------------------------------ (d) snapshot of the French help


def test_the_help_of_every_command_group_is_extracted_and_shown_in_french(script) -> None:
    """The groups are loaded lazily (itref.cli.lazy): their commands' docstrings must still be extracted, and
    a group's help in French must list its commands in French."""
    docs = {doc for _path, _line, doc in script.command_docstrings()}
    assert "Show the cron entries installed for this inventory." in docs  # itref schedule list
    assert "Run a command on hosts and show each host's result." in docs  # itref run, a one-function group
    assert len(docs) >= 40
    schedule = itref("--lang", "fr", "schedule", "--help")
    assert "Montrer les entrées cron installées pour cet inventaire." in schedule.stdout, schedule.stdout
    lab = itref("--lang", "fr", "lab", "--help")
    assert "Annuler tous les scénarios" in lab.stdout and "Undo every scenario" not in lab.stdout


def test_snapshot_of_the_french_help() -> None:
    result = itref("--lang", "fr", "--help")
    assert result.returncode == 0, result.stderr
    if os.environ.get("ITREF_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == SNAPSHOT.read_text(encoding="utf-8"), (
        "the French help changed; if on purpose: ITREF_UPDATE_SNAPSHOTS=1 pytest tests/test_i18n.py -k snapshot")


# ------------------------------------------------------------------ (e) an audit report in both languages


def english_leaks(text: str, catalogue, *, minimum: int = 14) -> list[str]:
    """Return the English phrases of the catalogue (the literal parts of each translated text, ``minimum``
    characters or more, that the translation does not also contain) found in ``text``."""
    leaks = set()
    for message in catalogue:
        if not message.id or not all(forms(message)):
            continue
        translation = " ".join(forms(message))
        for source in message.id if isinstance(message.id, tuple) else (message.id,):
            for literal, *_rest in string.Formatter().parse(source):
                chunk = literal.strip()
                if len(chunk) >= minimum and chunk not in translation and chunk in text:
                    leaks.add(chunk)
    return sorted(leaks)


def write_inventory(folder: Path, language: str | None = None) -> Path:
    """A local-connector inventory whose disk thresholds make every disk critical (why/fix are shown)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "inventory.yaml").write_text(
        "version: 1\norganisation: Commune d'Exemple\n" + (f"language: {language}\n" if language else "")
        + "entities:\n  commune:\n    title: Administration communale\n    hosts:\n"
          "      admin-pc:\n        connection: local\n", encoding="utf-8")
    (folder / "playbooks").mkdir(exist_ok=True)
    (folder / "playbooks" / "commune.yaml").write_text(
        "entity: commune\naudits:\n  thresholds:\n    linux.disk.free: {warning: 0, critical: 0}\n"
        "    linux.uptime: {warning_days: 0}\n", encoding="utf-8")
    return folder / "inventory.yaml"


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_an_audit_report_reads_entirely_in_one_language(lang, tmp_path, french) -> None:
    inventory = write_inventory(tmp_path / "site")
    result = itref("--lang", lang, "-i", str(inventory), "audit", "--checks", "linux.*", "--format", "markdown",
                   ITREF_STATE_DIR=str(tmp_path / "state"))
    assert result.returncode in (6, 7, 8), result.stderr
    report = result.stdout
    if lang == "fr":
        assert report.startswith("# Audit de Commune d'Exemple\n")
        assert "## Résumé" in report and "| Entité | CRITIQUE | AVERTISSEMENT | INCONNU | OK | DÉROGATION |" in report
        assert "pire résultat : CRITIQUE" in report
        assert re.search(r"\*\*CRITIQUE\*\* admin-pc: / est plein à \d+ % \(\d+,\d Go libres sur \d+,\d Go", report)
        assert "Pourquoi c'est important : Un disque plein arrête les bases de données" in report
        assert "Que faire : Supprimez ou déplacez les vieux fichiers" in report
        assert "allumée depuis" in report
        assert english_leaks(report, french) == []
        for english in ("Why it matters", "What to do", "Summary", "worst result", "Disk space", " full "):
            assert english not in report
    else:
        assert report.startswith("# Audit of Commune d'Exemple\n") and "## Summary" in report
        assert re.search(r"\*\*CRITICAL\*\* admin-pc: / is \d+% full \(\d+\.\d GB free of \d+\.\d GB", report)
        assert "Why it matters: A full disk stops databases" in report
        for french_text in ("Pourquoi", "Que faire", "Résumé", "pire résultat", "plein à", "Go libres"):
            assert french_text not in report


def test_a_report_file_follows_the_inventory_language_unless_lang_says(tmp_path) -> None:
    inventory = write_inventory(tmp_path / "site", language="fr")
    state = str(tmp_path / "state")
    out = tmp_path / "report.md"
    itref("-i", str(inventory), "audit", "--checks", "linux.disk.*", "--format", "markdown", "-o", str(out),
          ITREF_STATE_DIR=state)
    assert out.read_text(encoding="utf-8").startswith("# Audit de Commune d'Exemple")
    itref("--lang", "en", "-i", str(inventory), "audit", "--checks", "linux.disk.*", "--format", "markdown",
          "-o", str(out), ITREF_STATE_DIR=state)
    assert out.read_text(encoding="utf-8").startswith("# Audit of Commune d'Exemple")
    screen = itref("-i", str(inventory), "audit", "--checks", "linux.disk.*", "--format", "markdown",
                   ITREF_STATE_DIR=state, LANG="en_GB.UTF-8")  # on screen too: the inventory's, before the locale
    assert screen.stdout.startswith("# Audit de Commune d'Exemple")
    chosen = itref("-i", str(inventory), "audit", "--checks", "linux.disk.*", "--format", "markdown",
                   ITREF_STATE_DIR=state, ITREF_LANG="en")  # unless ITREF_LANG or --lang says otherwise
    assert chosen.stdout.startswith("# Audit of Commune d'Exemple")


# ------------------------------------------------------------------ the handover pack in both languages


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_handover_pack_in_both_languages(lang, tmp_path, french) -> None:
    example = ROOT / "docs" / "examples" / "commune" / "inventory.yaml"
    out = tmp_path / "pack"
    result = itref("--lang", lang, "-i", str(example), "handover", "--output", str(out),
                   ITREF_STATE_DIR=str(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    pages = sorted(out.glob("*.md"))
    assert pages
    text = "\n".join(p.read_text(encoding="utf-8") for p in pages)
    if lang == "fr":
        assert "Les machines et comment les joindre" in text and "Où sont gardés les mots de passe" in text
        assert "Dossier de passation écrit dans" in result.stderr
        assert english_leaks(text, french) == []
    else:
        assert "Machines and how to reach them" in text and "Where the passwords are kept" in text
        assert "Les machines et comment les joindre" not in text


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_handover_pack_renders_in_both_languages(lang, tmp_path, monkeypatch, english_process, french) -> None:
    """The pack's own code (collect, write) in each language, whether or not the command is registered."""
    from itref.config.project import load_project
    from itref.handover.output import write_pack
    from itref.handover.pack import collect

    monkeypatch.setenv("ITREF_STATE_DIR", str(tmp_path / "state"))
    project = load_project(ROOT / "docs" / "examples" / "commune" / "inventory.yaml")
    with i18n.use_language(lang):
        write_pack(collect(project, None), tmp_path / "pack", force=True)
    page = (tmp_path / "pack" / "cpas.md").read_text(encoding="utf-8")
    index = (tmp_path / "pack" / "index.md").read_text(encoding="utf-8")
    if lang == "fr":
        assert page.startswith("# CPAS — passation informatique")
        for title in ("Qui appeler, et pour quoi", "Notes de passation", "Les machines et comment les joindre",
                      "Où sont gardés les mots de passe", "Les routines, pas à pas", "Journal récent"):
            assert title in page
        assert "une sauvegarde jamais restaurée est un espoir, pas une sauvegarde" in page
        assert "dossier de passation informatique" in index and "0 sauvegarde," in index
        assert english_leaks(page + index, french) == []
    else:
        assert page.startswith("# CPAS — IT handover")
        assert "Machines and how to reach them" in page and "0 backups," in index
        assert "Les machines et comment les joindre" not in page


# ------------------------------------------------------------------ (f) plurals and formats


def test_plural_forms_follow_each_language(english_process, french) -> None:
    from itref.core.humanize import duration

    with i18n.use_language("fr"):
        assert [i18n.ngettext("{n} problem", "{n} problems", n).format(n=n) for n in (0, 1, 2)] == [
            "0 problème", "1 problème", "2 problèmes"]
        assert duration(timedelta(hours=1)) == "1 heure" and duration(timedelta(days=3)) == "3 jours"
        assert duration(timedelta(minutes=1)) == "1 minute" and duration(timedelta(seconds=30)) == "0 minute"
        assert i18n.language() == "fr"
    assert [i18n.ngettext("{n} problem", "{n} problems", n).format(n=n) for n in (0, 1, 2)] == [
        "0 problems", "1 problem", "2 problems"]
    assert duration(timedelta(seconds=30)) == "0 minutes" and i18n.language() == "en"


def test_numbers_sizes_and_dates_follow_the_language(english_process, french) -> None:
    from itref.core.humanize import size

    moment = datetime(2026, 11, 28, 14, 5)
    assert (size(512), size(1_500_000), size(2_345_000_000), size(None)) == ("512 B", "1.5 MB", "2.3 GB", "?")
    assert i18n.format_number(1234.5, 1, grouping=True) == "1,234.5" and i18n.format_percent(12.5, 1) == "12.5%"
    assert i18n.format_date(date(2026, 11, 28)) == "28/11/2026" and i18n.format_datetime(moment) == "28/11/2026 14:05"
    with i18n.use_language("fr"):
        assert (size(512), size(1_500_000), size(2_345_000_000)) == ("512 o", "1,5 Mo", "2,3 Go")
        assert i18n.format_number(1234.5, 1, grouping=True) == "1\u202f234,5"
        assert i18n.format_number(0.5, 2) == "0,50" and i18n.format_percent(12.5, 1) == "12,5 %"
        assert i18n.format_date(date(2026, 11, 28)) == "28/11/2026" and i18n.format_time(moment) == "14:05"
    assert size(1_500_000) == "1.5 MB"


def test_use_language_restores_the_language_and_the_environment(english_process, french) -> None:
    assert i18n._("Disk space") == "Disk space"
    with i18n.use_language("fr"):
        assert i18n._("Disk space") == "Espace disque" and os.environ["ITREF_LANG"] == "fr"
        with i18n.use_language("en"):
            assert i18n._("Disk space") == "Disk space"
        assert i18n._("Disk space") == "Espace disque"
    assert "ITREF_LANG" not in os.environ and i18n._("Disk space") == "Disk space"
    with i18n.use_language(None):
        assert i18n._("Disk space") == "Disk space"


def test_document_language_prefers_an_explicit_choice(monkeypatch) -> None:
    monkeypatch.delenv("ITREF_LANG", raising=False)
    assert i18n.document_language("fr") == "fr" and i18n.document_language(None) is None
    monkeypatch.setenv("ITREF_LANG", "en")
    assert i18n.document_language("fr") == "en"


# ------------------------------------------------------------------ parsing does not depend on the language

DF = """Filesystem     Type  1024-blocks      Used Available Capacity Mounted on
/dev/sda1      ext4    102400000  92160000  10240000      90% /
/dev/sdb1      xfs     2000000000 200000000 1800000000    10% /srv
"""
DF_INODES = """Filesystem      Inodes  IUsed   IFree IUse% Mounted on
/dev/sda1      6553600 6000000  553600   92% /
"""
MEMINFO = "MemTotal: 16000000 kB\nMemAvailable: 1000000 kB\nSwapTotal: 2000000 kB\nSwapFree: 500000 kB\n"


def parse_everything() -> list[object]:
    from itref.audit.base import Facts
    from itref.audit.registry import get
    from itref.backup.restic import parse_time
    from itref.backup.wbadmin import parse_versions
    from itref.config.project import HostSpec
    from tests.backup.test_parsers import WBADMIN_EN, WBADMIN_FR

    host = HostSpec("srv-fichiers", "commune", "ssh", "127.0.0.1", ("linux",), None)
    out: list[object] = [parse_versions(WBADMIN_EN), parse_versions(WBADMIN_FR),
                         parse_time("2026-11-28T01:00:03.123456789+01:00")]
    for check_id, output, rc in (("linux.disk.free", DF, 0), ("linux.disk.inodes", DF_INODES, 0),
                                 ("linux.memory", MEMINFO, 0), ("linux.load", "5.50 6.25 4.00 3/400 1234\n4\n", 0),
                                 ("linux.updates", "total=12\nsecurity=3\n", 0), ("linux.uptime", "1234567.89 1.0", 0),
                                 ("linux.systemd.failed", "cups.service loaded failed failed\n", 0),
                                 ("linux.time.sync", "no\n", 0)):
        check = get(check_id)
        assert check.evaluate is not None
        for f in check.evaluate(check, Facts(host, output, rc, dict(check.thresholds))):
            out.append((f.check, f.severity, f.subject, f.host, f.entity, f.evidence))
    return out


def test_parsing_gives_the_same_results_in_french_and_in_english(english_process, french) -> None:
    from itref.audit.registry import all_checks

    all_checks()  # the check modules are imported (their titles and texts read) in English, as in other tests
    english = parse_everything()
    with i18n.use_language("fr"):
        assert i18n._("Disk space") == "Espace disque"  # really in French
        in_french = parse_everything()
    assert in_french == english
    assert ("linux.disk.free", english[3][1], "/", "srv-fichiers", "commune",
            {"used_percent": 90, "type": "ext4", "available_kb": 10240000, "size_kb": 102400000}) == english[3]
    assert [e[1].value for e in english[3:] if isinstance(e, tuple)][:2] == ["critical", "ok"]
    assert english[0][-1] == english[1][-1] == datetime(2026, 11, 27, 22, 0, tzinfo=UTC)


def test_linux_findings_are_worded_in_french_with_decimal_commas(english_process, french) -> None:
    from itref.audit.base import Facts
    from itref.audit.registry import get
    from itref.config.project import HostSpec

    host = HostSpec("srv-fichiers", "commune", "ssh", "127.0.0.1", ("linux",), None)
    disk, load = get("linux.disk.free"), get("linux.load")  # imported in English, outside the French block
    with i18n.use_language("fr"):
        (root, _srv) = disk.evaluate(disk, Facts(host, DF, 0, dict(disk.thresholds)))
        (busy,) = load.evaluate(load, Facts(host, "5.50 6.25 4.00 3/400 1234\n4\n", 0, dict(load.thresholds)))
    assert root.message == ("/ est plein à 90 % (10,5 Go libres sur 104,9 Go ; avertissement à 80 %, "
                            "critique à 90 %)")
    assert busy.message.startswith("charge de 6,25 sur 5 minutes pour 4 cœur(s) (1,56 par cœur")


def test_a_threshold_from_the_playbook_is_written_with_the_languages_decimal_separator(monkeypatch) -> None:
    """Before: "charge de 1,97 ... avertissement à 1.5" on one French line."""
    from itref.i18n import format_threshold, set_language

    monkeypatch.setenv("ITREF_LANG", "fr")  # restored after the test (set_language keeps its choice there)
    set_language("fr")
    assert (format_threshold(1.5), format_threshold(85), format_threshold("x")) == ("1,5", "85", "x")
    monkeypatch.setenv("ITREF_LANG", "en")
    set_language("en")
    assert format_threshold(1.5) == "1.5"
