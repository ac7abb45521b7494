"""A stand-in colleague follows the CPAS onboarding routine in guided mode, through a real terminal
(pseudo-terminal), against the real Samba DC: explanations, previews, skip, stop, Ctrl-C and resume."""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from pathlib import Path

import pexpect
import pytest

from itref.lab.peers.samba import ldap_connection
from tests.conftest import journal_records, like_a_terminal

pytestmark = pytest.mark.peer

PROMPT = r"\[Enter\] do it · s skip this step · q stop here"


def routine_project(ad_project: Path) -> Path:
    book_path = ad_project.parent / "playbooks" / "cpas.yaml"
    book = json.loads(book_path.read_text())
    book["contacts"] = [{"name": "Helpdesk du fournisseur", "phone": "+32 4 000 00 09"}]
    book["routines"] = {"onboard-employee": {
        "description": "Onboard a new CPAS employee",
        "ask": {"first": {"prompt": "First name"}, "last": {"prompt": "Last name"}},
        "steps": [
            {"description": "Check that the CPAS director approved the access",
             "why": "Only the CPAS director may open access to social files.",
             "manual": "Check the signed request of {first} {last}."},
            {"description": "Note the arrival on this machine", "run": {"command": ["true"]}},
            {"id": "account", "description": "Create the account from the social-worker template",
             "why": "The template puts the account in the right OU and groups.",
             "ad": {"action": "user create", "params": {"template": "social-worker", "first": "{first}",
                                                          "last": "{last}"}}},
            {"description": "Hand over the first password", "manual": "Give the password to {first} in person."},
        ]}}
    book_path.write_text(json.dumps(book))
    inv = json.loads(ad_project.read_text())
    inv["entities"]["cpas"]["hosts"] = {"cpas-pc": {"connection": "local"}}
    ad_project.write_text(json.dumps(inv))
    return ad_project


def spawn(args: list[str], state_dir: Path) -> pexpect.spawn:
    env = {**os.environ, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "200"}
    return pexpect.spawn(sys.executable, ["-m", "itref", *args], env=env, encoding="utf-8", timeout=60,
                         dimensions=(50, 200), preexec_fn=like_a_terminal)



def users_named(dc, last: str) -> list[str]:
    conn = ldap_connection(dc)
    conn.search(dc.base_dn, f"(sn={last})", attributes=["sAMAccountName"])
    found = [e.sAMAccountName.value for e in conn.entries]
    conn.unbind()
    return found


def test_guided_onboarding_with_ctrl_c_at_step_3_then_resume(ad_project, samba_dc, state_dir, tmp_path) -> None:
    inv = str(routine_project(ad_project))
    last = f"Lefèvre{uuid.uuid4().hex[:5]}"
    pw = tmp_path / "passwords.txt"
    child = spawn(["-i", inv, "playbook", "run", "cpas/onboard-employee", "--guided", "--password-file", str(pw)],
                  state_dir)
    child.expect("First name: ")
    child.sendline("Émilie")
    child.expect("Last name: ")
    child.sendline(last)
    child.expect(r"\[1/4\] Check that the CPAS director approved the access")
    child.expect("Why: Only the CPAS director may open access")
    child.expect(f"What it will do: a person does: Check the signed request of Émilie {last}")
    child.expect(PROMPT)
    child.sendline("")
    child.expect(r"\[Enter\] once it is done · q stop here")
    child.sendline("")
    child.expect(r"\[2/4\] Note the arrival")
    child.expect(PROMPT)
    child.sendline("s")  # skip
    child.expect("SKIPPED — skipped by the operator")
    child.expect(r"\[3/4\] Create the account from the social-worker template")
    child.expect(f"CN=Émilie {last},OU=Social,OU=CPAS")  # the preview is the AD plan, read-only
    child.expect(PROMPT)
    child.sendintr()  # Ctrl-C at step 3
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 or child.signalstatus is not None
    assert users_named(samba_dc, last) == []  # nothing created before the Ctrl-C

    child = spawn(["-i", inv, "playbook", "resume", "--guided", "--password-file", str(pw)], state_dir)
    child.expect("Resuming cpas/onboard-employee at step 3")
    child.expect(PROMPT)
    child.sendline("")
    child.expect("OK — Create the account")
    child.expect(r"\[4/4\] Hand over the first password")
    child.expect(PROMPT)
    child.sendline("")
    child.expect(r"\[Enter\] once it is done")
    child.sendline("")
    child.expect(r"Routine cpas/onboard-employee: 3 done, 1 skipped, 0 waiting, 0 failed \(of 4 steps\)")
    child.expect("Skipped: steps 2")
    child.expect("Next: nothing; every step is done.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    logins = users_named(samba_dc, last)
    assert len(logins) == 1 and logins[0].startswith("elefevre")
    assert pw.read_text().startswith(f"initial password of {logins[0]}: ")
    journal = journal_records(state_dir)
    assert [r["action"] for r in journal if r["action"].startswith("routine")][:2] == ["routine start",
                                                                                       "routine step"]
    assert any(r["action"] == "routine resume" for r in journal)


def test_guided_stop_with_q_and_dry_run_change_nothing(ad_project, samba_dc, state_dir, cli) -> None:
    inv = str(routine_project(ad_project))
    last = f"Nobody{uuid.uuid4().hex[:5]}"
    dry = cli("-i", inv, "playbook", "run", "cpas/onboard-employee", "--dry-run", "--set", "first=Ann",
              "--set", f"last={last}")
    assert dry.rc == 0 and f"CN=Ann {last}" in dry.err
    child = spawn(["-i", inv, "playbook", "run", "cpas/onboard-employee", "--guided"], state_dir)
    child.sendline("Ann")
    child.sendline(last)
    child.expect(PROMPT)
    child.sendline("q")
    child.expect(r"Routine cpas/onboard-employee: 0 done, 0 skipped, 4 waiting, 0 failed")
    child.expect("Next: continue at step 1 with 'itref playbook resume ")
    child.expect(pexpect.EOF)
    child.close()
    assert users_named(samba_dc, last) == []


# ------------------------------------------------------------------ one language on the screen

def catalogue_fragments() -> tuple[set[str], set[str]]:
    """Return the sentences of itref's own texts, English (the sources) and French (their translations), cut at
    their placeholders, kept when they have two words or more and are not the same in both languages."""
    import re

    from babel.messages.pofile import read_po

    po = Path(__file__).resolve().parents[2] / "src" / "itref" / "locale" / "fr" / "LC_MESSAGES" / "itref.po"
    with po.open("rb") as fh:
        catalogue = read_po(fh)

    def pieces(text: str) -> set[str]:
        return {p.strip(" :·—,.;()[]") for p in re.split(r"\{[^}]*\}", text)}

    english: set[str] = set()
    french: set[str] = set()
    for message in catalogue:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in ids:
            english |= pieces(text)
        for text in strings:
            french |= pieces(text)
    keep = lambda found, other: {f for f in found - other if len(f.split()) >= 3}  # noqa: E731
    return keep(english, french), keep(french, english)


def language_project(ad_project: Path, lang: str) -> Path:
    """The onboarding routine of a CPAS whose inventory says ``language: LANG``, written by its author in it."""
    import yaml

    base = routine_project(ad_project)
    inv = json.loads(base.read_text())
    inv["language"] = lang
    base.write_text(yaml.safe_dump(inv, sort_keys=False, allow_unicode=True))  # YAML, as a referent writes it
    if lang == "fr":
        book_path = ad_project.parent / "playbooks" / "cpas.yaml"
        book = json.loads(book_path.read_text())
        book["routines"]["onboard-employee"] = {
            "description": "Accueillir une nouvelle personne au CPAS",
            "ask": {"first": {"prompt": "Prénom"}, "last": {"prompt": "Nom"}},
            "steps": [
                {"description": "Vérifier que le directeur a approuvé l'accès",
                 "why": "Seul le directeur du CPAS ouvre l'accès aux dossiers sociaux.",
                 "manual": "Vérifiez la demande signée de {first} {last}."},
                {"description": "Noter l'arrivée sur ce poste", "run": {"command": ["true"]}},
                {"description": "Vérifier les sauvegardes avant tout changement", "backup": {"action": "check"}},
                {"id": "account", "description": "Créer le compte depuis le modèle",
                 "ad": {"action": "user create", "params": {"template": "social-worker", "first": "{first}",
                                                              "last": "{last}"}}},
                {"description": "Remettre le premier mot de passe", "manual": "Remettez-le à {first} en main propre."},
            ]}
        book_path.write_text(json.dumps(book))
    else:
        book_path = ad_project.parent / "playbooks" / "cpas.yaml"
        book = json.loads(book_path.read_text())
        steps = book["routines"]["onboard-employee"]["steps"]
        steps.insert(2, {"description": "Check the backups before any change", "backup": {"action": "check"}})
        book_path.write_text(json.dumps(book))
    return base


@pytest.mark.parametrize(("lang", "locale"), [("fr", "C.UTF-8"), ("en", "fr_BE.UTF-8")])
def test_a_whole_guided_onboarding_speaks_the_inventory_language_only(ad_project, samba_dc, state_dir, tmp_path,
                                                                      lang, locale) -> None:
    """--lang > ITREF_LANG > the inventory's language: > the locale. With no --lang and no ITREF_LANG, the
    inventory's language wins over the locale, for every line itref writes: prompts, step texts, previews, step
    outcomes, the summary."""
    from itref import i18n

    inv = str(language_project(ad_project, lang))
    with i18n.use_language(lang):
        step_prompt = i18n._("[Enter] do it · s skip this step · q stop here (you can resume later): ")
        manual_prompt = i18n._("[Enter] once it is done · q stop here: ")
    last = f"Lang{uuid.uuid4().hex[:5]}"
    env = {k: v for k, v in os.environ.items() if k not in ("ITREF_LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    env.update({"LANG": locale, "ITREF_STATE_DIR": str(state_dir), "NO_COLOR": "1", "TERM": "dumb",
                "COLUMNS": "200"})
    child = pexpect.spawn(sys.executable, ["-m", "itref", "-i", inv, "playbook", "run", "cpas/onboard-employee",
                                           "--guided", "--password-file", str(tmp_path / "pw.txt")],
                          env=env, encoding="utf-8", timeout=90, dimensions=(50, 200), preexec_fn=like_a_terminal)
    seen = []
    child.expect("Prénom: " if lang == "fr" else "First name: ")
    child.sendline("Zoé")
    child.expect("Nom: " if lang == "fr" else "Last name: ")
    child.sendline(last)
    while True:
        index = child.expect([re.escape(step_prompt[:24]), re.escape(manual_prompt[:24]), pexpect.EOF])
        seen.append(child.before or "")
        if index == 2:
            break
        child.expect(r": $")  # the rest of the prompt (the terminal may fold it)
        child.sendline("")
    child.close()
    screen = " ".join("".join(seen).split())  # lines folded by the terminal joined again
    assert child.exitstatus in (0, 6), screen  # 6: the backup step may warn (nothing is described here)
    assert users_named(samba_dc, last), screen
    english, french = catalogue_fragments()
    foreign = french if lang == "en" else english
    leaked = sorted(f for f in foreign if f in screen)
    assert not leaked, f"{'French' if lang == 'en' else 'English'} text on a {lang} screen: {leaked}\n{screen}"
    mine = english if lang == "en" else french
    assert len([f for f in mine if f in screen]) >= 5, screen  # the screen does hold itref's own sentences
