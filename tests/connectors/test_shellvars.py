"""How a shell step's text is rewritten so each {name} is a variable reference (the values never enter the text),
and how the values travel: the POSIX reader run by a real /bin/sh with the values on its standard input."""

from __future__ import annotations

import subprocess

import pytest

from itref.connectors.shellvars import TemplateError, posix_script, powershell_script, shell_template
from itref.core.errors import UsageError

KNOWN = {"name", "x"}

POSIX = [
    ('echo "Hello {name}"', 'echo "Hello ${ITREF_P_name}"'),
    ("printf '%s\\n' {x}", "printf '%s\\n' \"${ITREF_P_x}\""),
    ("cp a /home/{x}/.ssh", 'cp a /home/"${ITREF_P_x}"/.ssh'),
    ('echo "$(printf %s {x})"', 'echo "$(printf %s "${ITREF_P_x}")"'),
    ("echo ${HOME} {x} # {not-a-parameter} 'quoted {x}' too", 'echo ${HOME} "${ITREF_P_x}" # {not-a-parameter} '
     "'quoted {x}' too"),
    ("cat <<EOF\nHi {name}\nEOF\necho {x}", 'cat <<EOF\nHi ${ITREF_P_name}\nEOF\necho "${ITREF_P_x}"'),
    ("cat <<-END\n\tHi {name}\n\tEND\n", "cat <<-END\n\tHi ${ITREF_P_name}\n\tEND\n"),
    ("sh -c 'echo \"$1\"' sh {x}", "sh -c 'echo \"$1\"' sh \"${ITREF_P_x}\""),
    ("find . -name '*.log' -exec rm {} \\;", "find . -name '*.log' -exec rm {} \\;"),
    ("echo \\{x}", "echo \\{x}"),
]


@pytest.mark.parametrize(("text", "expected"), POSIX)
def test_posix_placeholders_become_quoted_variable_references(text, expected) -> None:
    assert shell_template(text, KNOWN, "posix").text == expected


POWERSHELL = [
    ('Write-Output "Hello {name}"', 'Write-Output "Hello ${ITREF_P_name}"'),
    ("Write-Output {x}", "Write-Output ${ITREF_P_x}"),
    ("Write-Output \u201cHi {x}\u201d", "Write-Output \u201cHi ${ITREF_P_x}\u201d"),
    ('Write-Output @"\nHi {x}\n"@', 'Write-Output @"\nHi ${ITREF_P_x}\n"@'),
    ("Write-Output ${env:PATH} {x} # {y} <# {z} #>", "Write-Output ${env:PATH} ${ITREF_P_x} # {y} <# {z} #>"),
    ("Write-Output 'it''s' {x}", "Write-Output 'it''s' ${ITREF_P_x}"),
    ("Write-Output 'x\u2019\u2019' {x}", "Write-Output 'x\u2019\u2019' ${ITREF_P_x}"),
]


@pytest.mark.parametrize(("text", "expected"), POWERSHELL)
def test_powershell_placeholders_become_variable_references(text, expected) -> None:
    assert shell_template(text, KNOWN, "powershell").text == expected


@pytest.mark.parametrize(("text", "family"), [
    ("echo 'x {x}'", "posix"), ("echo \"unclosed {x}", "posix"), ("bash -lc \"{x}\"", "posix"),
    ("sudo -u root -- sh -c \"{x}\"", "posix"), ("echo $'{x}'", "posix"),
    ("Write-Output '{x}'", "powershell"), ("Write-Output \u2018{x}\u2019", "powershell"),
    ("Write-Output \"{x}", "powershell"), ("& cmd.exe /c {x}", "powershell"),
])
def test_placements_where_a_value_would_not_be_data_are_refused(text, family) -> None:
    with pytest.raises(TemplateError):
        shell_template(text, KNOWN, family)


def test_an_unknown_parameter_is_named() -> None:
    with pytest.raises(UsageError, match=r"unknown parameter \{nope\}"):
        shell_template('echo "{nope}"', KNOWN, "posix")


@pytest.mark.parametrize("value", ["plain", "", "it's \"quoted\" $(x) `y` \\ \n second line\n", "\u2019\r\t;|&",
                                   "line\nitref-end-0123\nmore"])
def test_the_posix_reader_defines_exactly_the_values_and_leaves_the_input_after_them(value) -> None:
    line, stdin = posix_script('printf "%s|" "$ITREF_P_x"; sh -c \'printf "%s|" "$ITREF_P_x"\'; cat',
                               {"ITREF_P_x": value}, b"own input\n")
    assert value.encode() not in line.encode() or not value
    done = subprocess.run(["/bin/sh", "-c", line], input=stdin, capture_output=True, check=True)
    assert done.stdout == f"{value}|{value}|own input\n".encode()  # exported: a child shell reads it too


def test_the_powershell_reader_keeps_the_values_out_of_the_script() -> None:
    body, data = powershell_script("Write-Output ${ITREF_P_x}", {"ITREF_P_x": "a'b\u2019; New-Item c"})
    assert "New-Item" not in body and b"New-Item" not in data and data.startswith(b"v")


def test_a_nul_character_cannot_be_passed() -> None:
    with pytest.raises(ValueError, match="NUL"):
        posix_script("true", {"ITREF_P_x": "a\0b"}, None)
