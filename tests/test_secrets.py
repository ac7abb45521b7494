"""Secret references resolve lazily, refuse unsafe sources and never show their values."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from itref.config.schema import SecretRef
from itref.core.errors import SecretError
from itref.secrets import Secret, SecretResolver, mask
from tests.conftest import journal_text

CANARY = "canary-Pa55w0rd-9f3e"


def ref(**kwargs) -> SecretRef:
    return SecretRef.model_validate(kwargs)


def test_secret_prints_as_stars_everywhere(caplog) -> None:
    secret = Secret(CANARY, "env $X")
    logging.getLogger("t").warning("value=%s %r", secret, secret)
    assert secret.reveal() == CANARY
    for text in (str(secret), repr(secret), f"{secret}", f"{secret!r}", caplog.text):
        assert CANARY not in text and "***" in text


def test_mask_scrubs_every_revealed_value() -> None:
    Secret(CANARY, "x")
    assert mask(f"auth failed for pw={CANARY}!") == "auth failed for pw=***!"


def test_env_reference(monkeypatch) -> None:
    monkeypatch.setenv("ITREF_T_PW", CANARY)
    assert SecretResolver().resolve(ref(env="ITREF_T_PW"), "test").reveal() == CANARY


def test_unset_env_variable_names_the_variable_and_the_use(monkeypatch) -> None:
    monkeypatch.delenv("ITREF_T_MISSING", raising=False)
    with pytest.raises(SecretError, match=r"ITREF_T_MISSING is not set") as exc:
        SecretResolver().resolve(ref(env="ITREF_T_MISSING"), "password of nas01")
    assert "password of nas01" in exc.value.message


def test_named_secret_goes_through_the_inventory_table(monkeypatch) -> None:
    monkeypatch.setenv("ITREF_T_PW", CANARY)
    resolver = SecretResolver({"ad-bind": ref(env="ITREF_T_PW")})
    assert resolver.resolve(ref(secret="ad-bind"), "AD").reveal() == CANARY


def test_file_reference_strips_the_newline(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(CANARY + "\n")
    path.chmod(0o600)
    assert SecretResolver().resolve(ref(file=str(path)), "t").reveal() == CANARY


def test_file_readable_by_others_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    path.write_text(CANARY)
    path.chmod(0o644)
    with pytest.raises(SecretError, match=r"mode 644.*chmod 600") as exc:
        SecretResolver().resolve(ref(file=str(path)), "t")
    assert CANARY not in exc.value.message


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SecretError, match="not found"):
        SecretResolver().resolve(ref(file=str(tmp_path / "nope")), "t")


def test_prompt_without_a_terminal_says_what_to_use_instead() -> None:
    with pytest.raises(SecretError, match=r"terminal.*env, file or keepass"):
        SecretResolver(interactive=False).resolve(ref(prompt="AD password?"), "AD bind")


def test_prompt_with_a_terminal_asks_once(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr("getpass.getpass", lambda q: calls.append(q) or CANARY)
    resolver = SecretResolver(interactive=True)
    assert resolver.resolve(ref(prompt="AD password?"), "t").reveal() == CANARY
    assert resolver.resolve(ref(prompt="AD password?"), "t").reveal() == CANARY
    assert calls == ["AD password?"]


@pytest.fixture
def kdbx(tmp_path: Path) -> tuple[Path, Path]:
    from pykeepass import create_database

    keyfile = tmp_path / "itref.key"
    keyfile.write_bytes(os.urandom(64))
    db = create_database(str(tmp_path / "itref.kdbx"), password=None, keyfile=str(keyfile))
    group = db.add_group(db.root_group, "Backups")
    entry = db.add_entry(group, "restic-nas", "restic", CANARY)
    entry.set_custom_property("repo-key", "custom-value")
    db.save()
    return tmp_path / "itref.kdbx", keyfile


def test_keepass_entry_opens_with_a_key_file_unattended(kdbx) -> None:
    db, keyfile = kdbx
    resolver = SecretResolver(interactive=False)
    value = resolver.resolve(ref(keepass={"database": str(db), "keyfile": str(keyfile), "entry": "Backups/restic-nas"}),
                             "restic repository")
    assert value.reveal() == CANARY
    custom = resolver.resolve(ref(keepass={"database": str(db), "keyfile": str(keyfile),
                                           "entry": "Backups/restic-nas", "attribute": "repo-key"}), "t")
    assert custom.reveal() == "custom-value"


def test_keepass_wrong_key_or_entry_is_a_clear_error(kdbx, tmp_path: Path) -> None:
    db, _keyfile = kdbx
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(64))
    with pytest.raises(SecretError, match="did not open"):
        SecretResolver().resolve(ref(keepass={"database": str(db), "keyfile": str(other), "entry": "x"}), "t")
    with pytest.raises(SecretError, match="no entry 'Backups/nope'"):
        SecretResolver().resolve(ref(keepass={"database": str(db), "keyfile": str(_keyfile),
                                              "entry": "Backups/nope"}), "t")


def test_canary_secret_never_appears_in_output_or_journal(make_inventory, cli, state_dir, monkeypatch) -> None:
    """A password used by a run must not show in stdout, stderr, or the journal, even when echoed."""
    monkeypatch.setenv("ITREF_CANARY", CANARY)
    inv = make_inventory("""\
        version: 1
        organisation: Test
        secrets:
          sudo-pw: {env: ITREF_CANARY}
        entities:
          shared:
            title: Shared
            hosts:
              here: {connection: local, sudo_password: {secret: sudo-pw}}
        """)
    # The command itself prints the secret (as a careless script might): it must come out masked.
    SecretResolver({"sudo-pw": ref(env="ITREF_CANARY")}).resolve(ref(secret="sudo-pw"), "t")
    result = cli("-i", str(inv), "run", "--", "sh", "-c", f"echo {CANARY}; echo {CANARY} >&2; exit 1")
    assert result.rc == 1, result.all
    journal = journal_text(state_dir)
    shown = cli("journal").out
    assert "***" in result.out
    for text in (result.out, result.err, journal, shown):
        assert CANARY not in text


def test_a_sudo_password_read_from_a_file_is_masked_even_when_the_run_does_not_use_sudo(tmp_path, cli) -> None:
    """Before: a local host whose only secret is its sudo password, run without sudo, printed that password in
    clear when a command showed the file holding it (it was never read, so never known to the masking)."""
    import uuid

    canary = f"zz-canary-{uuid.uuid4().hex[:10]}"
    secret = tmp_path / "sudo.txt"
    secret.write_text(canary + "\n", encoding="utf-8")
    secret.chmod(0o600)
    inv = tmp_path / "inventory.yaml"
    inv.write_text(f"version: 1\norganisation: T\nentities:\n  shared:\n    title: S\n    hosts:\n"
                   f"      here: {{connection: local, sudo_password: {{file: {secret}}}}}\n", encoding="utf-8")
    result = cli("-i", str(inv), "run", "--", "cat", str(secret))
    assert result.rc == 0, result.all
    assert canary not in result.all and "***" in result.out, result.all
