"""Routine parameters in shell steps: values are data, never code.

A ``shell: true`` step is a text the host's shell reads (``sh`` on ssh and local hosts, PowerShell on
winrm hosts). Pasting a value into that text, even quoted, lets the value break out of the author's own
quotes (``"Hello '$(touch PWNED)'"`` runs touch). So itref never puts a value in the text:

* each ``{name}`` becomes a reference to the variable ``ITREF_P_name`` (:func:`shell_template`):
  ``"${ITREF_P_name}"`` outside quotes and ``${ITREF_P_name}`` inside ``"..."`` (sh), ``${ITREF_P_name}``
  (PowerShell). A shell never reads the value of a variable as code, whatever the author's quotes;
* the values travel on the command's standard input, ahead of it, and a fixed reader at the top of the
  script turns them into those variables (:func:`posix_script`, :func:`powershell_script`). So no value is
  on any command line (``ps`` on the host, or on this machine, never shows one).

Where a reference would not be data, or would not work, the step is refused with the reason
(:class:`TemplateError`): inside single quotes or a quoted here-document (no expansion), in an argument
that another interpreter reads as code (``eval``, the script of ``sh -c``, ``Invoke-Expression``,
``cmd /c``), or in bash arithmetic (``$((...))``, ``((...))``, ``[[...]]``, ``let``, ``declare -i``), which
evaluates a value as an expression and can run commands from it.
"""

from __future__ import annotations

import base64
import re
import secrets
import shlex
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Literal

from itref.core.errors import UsageError
from itref.i18n import _

Family = Literal["posix", "powershell"]
PREFIX = "ITREF_P_"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ASCII_NAME = re.compile(r"[A-Za-z0-9_]+")
_PS_SINGLE = "'\u2018\u2019\u201a\u201b"
_PS_DOUBLE = '"\u201c\u201d\u201e'
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"})
_PREFIX_COMMANDS = frozenset({"sudo", "doas", "env", "exec", "command", "builtin", "nohup", "nice", "time"})
_OPTIONS_WITH_VALUE = frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-n", "-f"})
"""Options of the prefix commands (sudo, env, nice, time) that take the next word as their value."""
_RESERVED = frozenset({"!", "{", "(", "&", ".", "then", "do", "else", "elif", "if", "while", "until"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


class TemplateError(UsageError):
    """A shell step places a parameter where its value would not be data (or would not arrive)."""


@dataclass(frozen=True)
class Template:
    """A step text rewritten for one shell: ``text`` references variables, ``names`` the parameters it uses."""

    text: str
    names: tuple[str, ...]


def variable(name: str) -> str:
    """Return the variable that holds parameter ``name`` (``ITREF_P_name``).

    Raises TemplateError when the name has characters a shell variable cannot have.
    """
    if not _ASCII_NAME.fullmatch(name):
        raise TemplateError(_("parameter {{{name}}} cannot be used in a shell command: its name may only have "
                              "the letters a-z, digits and _").format(name=name))
    return PREFIX + name


def shell_template(text: str, known: Collection[str], family: Family) -> Template:
    """Return ``text`` (a ``shell: true`` step) with every ``{name}`` a reference to its variable, for ``family``.

    Raises UsageError for an unknown parameter, TemplateError (with the reason and the line) for a
    placeholder in a place where its value would be code or would not arrive.
    """
    used: list[str] = []

    def ref(name: str) -> str:
        if name not in known:
            raise UsageError(_("unknown parameter {{{name}}}").format(name=name))
        var = variable(name)
        if name not in used:
            used.append(name)
        return var

    scanner = _Posix(text, ref) if family == "posix" else _PowerShell(text, ref)
    return Template(scanner.run(), tuple(used))


# --------------------------------------------------------------------------- delivering the values

POSIX_READER = (
    "itref_s=; while IFS= read -r itref_l; do [ \"$itref_l\" = {marker} ] && break; "
    "itref_s=\"$itref_s$itref_l\n\"; done; "
    "[ \"$itref_l\" = {marker} ] || { echo 'itref: the parameters did not arrive' >&2; exit 125; }; "
    "eval \"$itref_s\"; unset itref_s itref_l\n"
)
"""First line of a POSIX step with parameters: reads ``NAME='value'`` lines (itref's POSIX quoting) from standard
input up to a random marker line, and evaluates them. ``read`` takes a pipe byte by byte, so the command's own
input, after the marker, is left whole."""


def posix_script(line: str, values: Mapping[str, str], stdin: bytes | None) -> tuple[str, bytes]:
    """Return (command line, standard input) that run ``line`` with ``values`` as exported shell variables.

    The values are on the input only (before ``stdin``), as assignments quoted by :func:`shlex.quote`;
    the command line holds the reader and ``line``. Raises ValueError for a value with a NUL character.
    """
    assignments = "".join(f"{name}={shlex.quote(_checked(value))}\nexport {name}\n" for name, value in values.items())
    marker = _marker(assignments)
    head = POSIX_READER.replace("{marker}", marker)
    return head + line, (assignments + marker + "\n").encode("utf-8") + (stdin or b"")


POWERSHELL_READER = "$itrefIn = @($input)\n"


def powershell_script(body: str, values: Mapping[str, str]) -> tuple[str, bytes]:
    """Return (script body, standard input) that run ``body`` with ``values`` as PowerShell variables (and
    environment variables, for the programs it starts).

    Each value is one input line, ``v`` + its UTF-8 in base64; the script decodes them itself, so no value
    is in the script (which is on the powershell.exe command line). Raises ValueError for a NUL character.
    """
    lines = [POWERSHELL_READER]
    data = []
    for index, (name, value) in enumerate(values.items()):
        data.append(b"v" + base64.b64encode(_checked(value).encode("utf-8")) + b"\r\n")
        lines.append(f"${{{name}}} = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String("
                     f"$itrefIn[{index}].Substring(1)))\n$env:{name} = ${{{name}}}\n")
    lines.append("Remove-Variable itrefIn\n")
    return "".join(lines) + body, b"".join(data)


def _checked(value: str) -> str:
    if "\0" in value:
        raise ValueError("a value cannot hold a NUL character")
    return value


def _marker(text: str) -> str:
    while True:
        marker = f"itref-end-{secrets.token_hex(12)}"
        if marker not in text:
            return marker


def posix_display(line: str, values: Mapping[str, str]) -> str:
    """Return what a person should read for a POSIX step: the assignments (sent on standard input) and the line."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items()) + line


def powershell_display(body: str, values: Mapping[str, str]) -> str:
    """Return what a person should read for a PowerShell step: the variables (sent on standard input) and the body."""
    from itref.connectors.quoting import powershell_quote

    return "".join(f"${{{name}}} = {powershell_quote(value)}\n" for name, value in values.items()) + body


# --------------------------------------------------------------------------- scanners


Ref = Callable[[str], str]


@dataclass
class _Frame:
    kind: str
    close: str = ""
    depth: int = 0
    words: list[str] = field(default_factory=list)
    word: str = ""
    heredocs: list[tuple[str, bool, bool]] = field(default_factory=list)
    """Here-documents whose body starts at the next line: (end word, quoted, leading tabs stripped)."""


class _Scanner:
    """Walks a step text once, copying it, and calls ``ref`` for each placeholder with its context."""

    def __init__(self, text: str, ref: Ref) -> None:
        self.text = text
        self.ref = ref
        self.out: list[str] = []
        self.i = 0
        self.stack: list[_Frame] = [_Frame("top")]

    def line(self) -> int:
        return self.text.count("\n", 0, self.i) + 1

    def refuse(self, name: str, reason: str) -> TemplateError:
        return TemplateError(_("{{{name}}} (line {line} of the command): {reason}").format(
            name=name, line=self.line(), reason=reason))

    def copy(self, n: int = 1, *, word: bool = True) -> None:
        """Copy ``n`` characters to the output (and to the current word unless ``word`` is False)."""
        piece = self.text[self.i : self.i + n]
        self.out.append(piece)
        top = self.command_frame()
        if word and top is not None:
            top.word += piece
        self.i += n

    def command_frame(self) -> _Frame | None:
        """Return the innermost frame that holds commands (the top, or a command substitution)."""
        for frame in reversed(self.stack):
            if frame.kind == "top":
                return frame
        return None

    def end_word(self) -> None:
        frame = self.stack[-1]
        if frame.kind == "top" and frame.word:
            frame.words.append(frame.word)
            frame.word = ""

    def end_command(self) -> None:
        frame = self.stack[-1]
        if frame.kind == "top":
            frame.words, frame.word = [], ""

    def placeholder(self) -> re.Match[str] | None:
        """Return the ``{name}`` that starts at the current position, if one does."""
        return PLACEHOLDER.match(self.text, self.i)

    def emit(self, m: re.Match[str], replacement: str) -> None:
        self.out.append(replacement)
        top = self.command_frame()
        if top is not None:
            top.word += m.group(0)
        self.i = m.end()

    def command_words(self, frame: _Frame) -> tuple[list[str], int]:
        """Return the words of the frame's current command from its command name on, and the index (in that
        list) of the word being written now."""
        words = [*frame.words, frame.word]
        start = 0
        while start < len(words) - 1 and (words[start] in _RESERVED or _ASSIGNMENT.match(words[start])):
            start += 1
        while start < len(words) - 1 and _base(words[start]) in _PREFIX_COMMANDS:
            start += 1
            while start < len(words) - 1 and (words[start].startswith("-") or _ASSIGNMENT.match(words[start])):
                start += 2 if words[start] in _OPTIONS_WITH_VALUE else 1
        return words[start:], len(words) - 1 - start


def _base(word: str) -> str:
    return word.strip("'\"").rsplit("/", 1)[-1].rsplit("\\", 1)[-1].lower()


class _Posix(_Scanner):
    """POSIX sh (and what bash adds that matters here)."""

    def run(self) -> str:
        text = self.text
        while self.i < len(text):
            frame = self.stack[-1]
            c = text[self.i]
            m = self.placeholder() if c == "{" else None
            if m is not None and frame.kind in ("top", "dq"):
                self.check(m.group(1))
                var = self.ref(m.group(1))
                self.emit(m, f'"${{{var}}}"' if frame.kind == "top" else f"${{{var}}}")
                continue
            if m is not None:
                raise self.refuse(m.group(1), self.why(frame.kind))
            getattr(self, f"in_{frame.kind}")(c)
        for frame in self.stack[1:]:
            if frame.kind in ("sq", "dq", "bq", "ansi"):
                raise TemplateError(_("the command has a quote that is never closed ({quote})").format(
                    quote={"sq": "'", "dq": '"', "bq": "`", "ansi": "$'"}[frame.kind]))
        return "".join(self.out)

    def why(self, kind: str) -> str:
        return {
            "sq": _("inside single quotes the shell does not expand it; write it outside them or in double "
                    "quotes"),
            "ansi": _("inside $'...' the shell does not expand it; write it in double quotes"),
            "bq": _("inside backquotes its quoting is ambiguous; write $(...) instead of `...`"),
            "arith": _("in arithmetic, bash evaluates a value as an expression, which can run commands"),
            "brace": _("inside ${...} it cannot be used; give it its own word"),
            "heredoc": _("in a here-document whose end word is quoted the shell does not expand it"),
        }[kind]

    def check(self, name: str) -> None:
        frame = self.command_frame()
        assert frame is not None
        words, index = self.command_words(frame)
        command = _base(words[0]) if words and index > 0 else ""
        if command == "eval":
            raise self.refuse(name, _("eval runs its arguments as shell code"))
        if command in ("let", "[["):
            raise self.refuse(name, _("in arithmetic, bash evaluates a value as an expression, which can run "
                                      "commands"))
        if command in ("declare", "typeset", "local") and any(
                w.startswith("-") and "i" in w for w in words[1:index]):
            raise self.refuse(name, _("in arithmetic, bash evaluates a value as an expression, which can run "
                                      "commands"))
        if command in _SHELLS and index >= 2:
            option = words[index - 1]
            if option.startswith("-") and not option.startswith("--") and "c" in option:
                raise self.refuse(name, _("the script of '{shell} -c' is read as code; pass the value as an "
                                          "argument after it: {shell} -c '... \"$1\"' {shell} {{{name}}}").format(
                    shell=command, name=name))

    # -- frames -----------------------------------------------------------------------------------

    def in_top(self, c: str) -> None:
        text, i, frame = self.text, self.i, self.stack[-1]
        if c == "\\":
            self.copy(2)
        elif c == "'":
            self.copy()
            self.stack.append(_Frame("sq"))
        elif c == '"':
            self.copy()
            self.stack.append(_Frame("dq"))
        elif c == "`":
            self.copy()
            self.stack.append(_Frame("bq"))
        elif c == "$":
            self.dollar()
        elif c == "#" and not frame.word:
            end = text.find("\n", i)
            self.out.append(text[i:] if end < 0 else text[i:end])
            self.i = len(text) if end < 0 else end
        elif c == "<" and text.startswith("<<", i) and not text.startswith("<<<", i):
            self.heredoc_operator()
        elif c == "(" and text.startswith("((", i) and not frame.word:
            self.copy(2)
            self.stack.append(_Frame("arith", close="))"))
        elif c in " \t":
            self.end_word()
            self.copy(word=False)
        elif c in ";&|\n()":
            self.end_word()
            if c == "(":
                frame.depth += 1
            if c == ")" and frame.close == ")" and frame.depth == 0:
                self.copy()
                self.stack.pop()
                return
            if c == ")":
                frame.depth -= 1
            self.copy(word=False)
            self.end_command()
            if c == "\n":
                self.heredoc_bodies()
        else:
            self.copy()

    def dollar(self) -> None:
        text, i = self.text, self.i
        if text.startswith("$((", i):
            self.copy(3)
            self.stack.append(_Frame("arith", close="))"))
        elif text.startswith("$(", i):
            self.copy(2)
            self.stack.append(_Frame("top", close=")"))
        elif text.startswith("${", i):
            self.copy(2)
            self.stack.append(_Frame("brace"))
        elif text.startswith("$'", i) and self.stack[-1].kind == "top":
            self.copy(2)
            self.stack.append(_Frame("ansi"))
        elif text.startswith("$[", i):
            self.copy(2)
            self.stack.append(_Frame("arith", close="]"))
        else:
            self.copy()

    def in_sq(self, c: str) -> None:
        self.copy()
        if c == "'":
            self.stack.pop()

    def in_ansi(self, c: str) -> None:
        if c == "\\":
            self.copy(2)
            return
        self.copy()
        if c == "'":
            self.stack.pop()

    def in_dq(self, c: str) -> None:
        if c == "\\":
            self.copy(2)
        elif c == "$":
            self.dollar()
        elif c == "`":
            self.copy()
            self.stack.append(_Frame("bq"))
        else:
            self.copy()
            if c == '"':
                self.stack.pop()

    def in_bq(self, c: str) -> None:
        if c == "\\":
            self.copy(2)
            return
        self.copy()
        if c == "`":
            self.stack.pop()

    def in_brace(self, c: str) -> None:
        if c == "\\":
            self.copy(2)
        elif c == "'":
            self.copy()
            self.stack.append(_Frame("sq"))
        elif c == '"':
            self.copy()
            self.stack.append(_Frame("dq"))
        elif c == "$":
            self.dollar()
        else:
            self.copy()
            if c == "}":
                self.stack.pop()

    def in_arith(self, c: str) -> None:
        frame = self.stack[-1]
        if c == "$":
            self.dollar()
        elif c == "(":
            frame.depth += 1
            self.copy()
        elif frame.depth == 0 and self.text.startswith(frame.close, self.i):
            self.copy(len(frame.close))
            self.stack.pop()
        else:
            if c == ")":
                frame.depth -= 1
            self.copy()

    # -- here-documents -----------------------------------------------------------------------------

    def heredoc_operator(self) -> None:
        text = self.text
        self.copy(2)
        strip = text.startswith("-", self.i)
        if strip:
            self.copy()
        while self.i < len(text) and text[self.i] in " \t":
            self.copy()
        start = self.i
        while self.i < len(text) and text[self.i] not in " \t\n;&|<>()":
            if text[self.i] in "'\"":
                close = text.find(text[self.i], self.i + 1)
                self.copy((close if close >= 0 else len(text) - 1) - self.i + 1)
            else:
                self.copy(2 if text[self.i] == "\\" else 1)
        word = text[start:self.i]
        quoted = any(q in word for q in "'\"\\")
        delimiter = word.replace("'", "").replace('"', "").replace("\\", "")
        frame = self.command_frame()
        assert frame is not None
        frame.heredocs.append((delimiter, quoted, strip))

    def heredoc_bodies(self) -> None:
        frame = self.command_frame()
        if frame is None or not frame.heredocs:
            return
        pending, frame.heredocs = frame.heredocs, []
        text = self.text
        for delimiter, quoted, strip in pending:
            while self.i < len(text):
                end = text.find("\n", self.i)
                end = len(text) if end < 0 else end + 1
                line = text[self.i:end]
                if (line.rstrip("\n").lstrip("\t") if strip else line.rstrip("\n")) == delimiter:
                    self.out.append(line)
                    self.i = end
                    break
                self.out.append(self.heredoc_line(line, quoted))
                self.i = end

    def heredoc_line(self, line: str, quoted: bool) -> str:
        def repl(m: re.Match[str]) -> str:
            if line[: m.start()].endswith("$"):
                return m.group(0)
            if quoted:
                raise self.refuse(m.group(1), self.why("heredoc"))
            return f"${{{self.ref(m.group(1))}}}"

        return PLACEHOLDER.sub(repl, line)


class _PowerShell(_Scanner):
    """Windows PowerShell 5.1 / PowerShell 7 (the quote characters include ‘ ’ ‚ ‛ and “ ” „)."""

    def run(self) -> str:
        text = self.text
        while self.i < len(text):
            frame = self.stack[-1]
            c = text[self.i]
            m = self.placeholder() if c == "{" else None
            if m is not None and frame.kind in ("top", "dq", "heredq"):
                self.check(m, frame.kind)
                var = self.ref(m.group(1))
                self.emit(m, f"${{{var}}}")
                continue
            if m is not None:
                raise self.refuse(m.group(1), _("inside single quotes PowerShell does not expand it; write it "
                                                "outside them or in double quotes"))
            getattr(self, f"in_{frame.kind}")(c)
        for frame in self.stack[1:]:
            if frame.kind in ("sq", "dq", "heresq", "heredq"):
                raise TemplateError(_("the command has a quote that is never closed ({quote})").format(
                    quote={"sq": "'", "dq": '"', "heresq": "@'", "heredq": '@"'}[frame.kind]))
        return "".join(self.out)

    def check(self, m: re.Match[str], kind: str) -> None:
        name = m.group(1)
        frame = self.command_frame()
        assert frame is not None
        words, index = self.command_words(frame)
        command = _base(words[0]) if words and index > 0 else ""
        if command in ("invoke-expression", "iex"):
            raise self.refuse(name, _("Invoke-Expression runs its argument as PowerShell code"))
        if command in ("cmd", "cmd.exe", "powershell", "powershell.exe", "pwsh", "pwsh.exe"):
            raise self.refuse(name, _("{program} reads its command line as code; the value would be part of "
                                      "it").format(program=words[0]))
        after = self.text[m.end(): m.end() + 1]
        if kind == "top" and not frame.word and after in (".", "["):
            raise self.refuse(name, _("PowerShell would read what follows as a property or an index; write it "
                                      "in double quotes: \"{{{name}}}...\"").format(name=name))

    def in_top(self, c: str) -> None:
        text, i, frame = self.text, self.i, self.stack[-1]
        if c == "`":
            self.copy(2)
        elif c in _PS_SINGLE:
            self.copy()
            self.stack.append(_Frame("sq"))
        elif c in _PS_DOUBLE:
            self.copy()
            self.stack.append(_Frame("dq"))
        elif c == "@" and i + 1 < len(text) and text[i + 1] in _PS_SINGLE + _PS_DOUBLE and \
                text[i + 2:].lstrip(" \t").startswith(("\n", "\r\n")):
            kind = "heresq" if text[i + 1] in _PS_SINGLE else "heredq"
            self.copy(2)
            self.stack.append(_Frame(kind))
        elif c == "$":
            self.dollar()
        elif c == "<" and text.startswith("<#", i):
            end = text.find("#>", i + 2)
            end = len(text) if end < 0 else end + 2
            self.out.append(text[i:end])
            self.i = end
        elif c == "#" and not frame.word:
            end = text.find("\n", i)
            self.out.append(text[i:] if end < 0 else text[i:end])
            self.i = len(text) if end < 0 else end
        elif c in " \t":
            self.end_word()
            self.copy(word=False)
        elif c in ";|\n(){}":
            self.end_word()
            if c == "(":
                frame.depth += 1
            if c == ")" and frame.close == ")" and frame.depth == 0:
                self.copy()
                self.stack.pop()
                return
            if c == ")":
                frame.depth -= 1
            self.copy(word=False)
            self.end_command()
        else:
            self.copy()

    def dollar(self) -> None:
        text, i = self.text, self.i
        if text.startswith("$(", i):
            self.copy(2)
            self.stack.append(_Frame("top", close=")"))
        elif text.startswith("${", i):
            end = i + 2
            while end < len(text) and text[end] != "}":
                end += 2 if text[end] == "`" else 1
            self.copy(min(end + 1, len(text)) - i)
        else:
            self.copy()

    def in_sq(self, c: str) -> None:
        if c in _PS_SINGLE and self.text[self.i + 1: self.i + 2] in tuple(_PS_SINGLE):
            self.copy(2)  # a doubled quote is one quote character
            return
        self.copy()
        if c in _PS_SINGLE:
            self.stack.pop()

    def in_dq(self, c: str) -> None:
        if c == "`":
            self.copy(2)
        elif c == "$":
            self.dollar()
        elif c in _PS_DOUBLE and self.text[self.i + 1: self.i + 2] in tuple(_PS_DOUBLE):
            self.copy(2)
        else:
            self.copy()
            if c in _PS_DOUBLE:
                self.stack.pop()

    def _here_end(self, quotes: str) -> bool:
        text, i = self.text, self.i
        return text[i] == "\n" and i + 2 < len(text) and text[i + 1] in quotes and text[i + 2] == "@"

    def in_heresq(self, c: str) -> None:
        if self._here_end(_PS_SINGLE):
            self.copy(3)
            self.stack.pop()
            return
        self.copy()

    def in_heredq(self, c: str) -> None:
        if self._here_end(_PS_DOUBLE):
            self.copy(3)
            self.stack.pop()
        elif c == "`":
            self.copy(2)
        elif c == "$":
            self.dollar()
        else:
            self.copy()
