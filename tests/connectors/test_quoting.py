"""Arguments stay literal whatever characters they hold, in POSIX sh and in PowerShell."""

from __future__ import annotations

import base64
import subprocess

import pytest

from itref.connectors.quoting import posix_join, powershell_encode, powershell_join, powershell_quote

HOSTILE = ["a b", "it's", '"quoted"', "$(reboot)", "`id`", "; rm -rf /", "*", "\\", "\n", "é ü ß", "$HOME", ""]


@pytest.mark.parametrize("arg", HOSTILE)
def test_posix_quoting_round_trips_through_a_real_shell(arg: str) -> None:
    line = posix_join(["printf", "%s", arg])
    assert subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=True).stdout == arg


def test_powershell_quotes_double_every_kind_of_single_quote() -> None:
    assert powershell_quote("it's") == "'it''s'"
    assert powershell_quote("l\u2019école") == "'l\u2019\u2019école'"
    assert powershell_quote("$env:PATH; Remove-Item") == "'$env:PATH; Remove-Item'"


def test_powershell_join_calls_the_command_with_literal_arguments() -> None:
    assert powershell_join(["Get-Service", "Spooler"]) == "& 'Get-Service' 'Spooler'"
    with pytest.raises(ValueError):
        powershell_join([])


def test_powershell_encoding_is_base64_utf16le() -> None:
    encoded = powershell_encode("Write-Output 'Opération réussie'")
    assert base64.b64decode(encoded).decode("utf-16-le") == "Write-Output 'Opération réussie'"
