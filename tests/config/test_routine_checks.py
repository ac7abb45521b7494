"""``playbook validate`` finds, before anything runs, what would make a routine fail halfway or an account
template fail at its first use, across files too, every problem at once, each at its file:line:col."""

from __future__ import annotations

import json
from pathlib import Path

from itref.core.status import ExitStatus

INVENTORY = {"version": 1, "organisation": "T", "entities": {
    "commune": {"title": "Commune", "hosts": {"here": {"connection": "local"}}},
    "cpas": {"title": "CPAS", "hosts": {"cpas-pc": {"connection": "local"}}}}}


def write(tmp_path: Path, books: dict[str, str], **inventory: object) -> str:
    (tmp_path / "playbooks").mkdir(exist_ok=True)
    for entity, text in books.items():
        (tmp_path / "playbooks" / f"{entity}.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "inventory.yaml").write_text(json.dumps({**INVENTORY, **inventory}), encoding="utf-8")
    return str(tmp_path / "inventory.yaml")


def errors(result) -> list[str]:
    return [line for line in result.err.splitlines() if ".yaml:" in line]


def test_an_include_cycle_across_entities_is_reported_in_each_file(tmp_path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"commune": "entity: commune\nroutines:\n  a:\n    description: A\n    steps:\n"
                                "      - {description: CPAS part, include: cpas/b}\n",
                     "cpas": "entity: cpas\nroutines:\n  b:\n    description: B\n    steps:\n"
                             "      - {description: back, include: commune/a}\n"})
    result = cli("playbook", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert any(x.startswith("playbooks/commune.yaml:6:") and "commune/a → cpas/b → commune/a" in x
               for x in errors(result)), result.err
    assert any(x.startswith("playbooks/cpas.yaml:6:") and "cpas/b → commune/a → cpas/b" in x
               for x in errors(result)), result.err


def test_an_included_routine_needing_a_parameter_its_includer_lacks_is_reported_at_the_include(tmp_path, cli,
                                                                                               monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"commune": """\
entity: commune
routines:
  onboard:
    description: Onboard
    ask: {first: {prompt: First}}
    steps:
      - {description: Mail, include: mailbox}
  mailbox:
    description: Mailbox
    ask: {first: {prompt: First}, last: {prompt: Last}}
    steps:
      - {description: Make it, manual: "Create {first}.{last}@exemple.example"}
"""})
    result = cli("playbook", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert [x.split(": ", 1)[0] for x in errors(result)] == ["playbooks/commune.yaml:7:38"], result.err
    assert "commune/mailbox uses {last}" in result.err  # mailbox alone declares it: only onboard is wrong


def test_a_when_in_an_included_routine_may_ask_about_a_step_of_the_includer(tmp_path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"commune": """\
entity: commune
routines:
  main:
    description: Main
    schedule: "0 7 * * mon-fri"
    steps:
      - {description: Probe, id: probe, run: {command: ["true"]}, on_failure: continue}
      - {description: Repair, include: repair}
  repair:
    description: Repair
    steps:
      - {description: Fix, id: fix, when: not probe ok, run: {command: ["true"]}}
      - {description: After, when: fix failed, run: {command: ["true"]}}
"""})
    result = cli("playbook", "validate")
    # main is fine; repair run on its own would never know 'probe': that one is reported
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert [x.split(": ", 1)[0] for x in errors(result)] == ["playbooks/commune.yaml:12:43"], result.err
    assert "unknown step 'probe'" in result.err


def test_template_problems_the_directory_would_refuse_at_the_first_account(tmp_path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    directory = {"url": "ldaps://dc.exemple.example", "base_dn": "DC=exemple,DC=example", "bind_user": "svc",
                 "bind_password": {"env": "X"}}
    write(tmp_path, {"commune": """\
entity: commune
accounts:
  templates:
    clerk: {ou: "OU=Commune,DC=exemple,DC=example", username: "{first}.{last}"}
    elsewhere: {ou: "OU=Commune,DC=other,DC=example"}
    the-domain-itself: {ou: "DC=exemple,DC=example"}
    typo: {ou: "OU=Commune,DC=exemple,DC=example", username: "{first}.{lats}"}
    upn: {ou: "OU=Commune,DC=exemple,DC=example", upn_suffix: "exemple..example"}
"""}, directory=directory)
    result = cli("playbook", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    found = {x.split(": ", 1)[0]: x for x in errors(result)}
    assert sorted(found) == ["playbooks/commune.yaml:5:21", "playbooks/commune.yaml:6:29",
                             "playbooks/commune.yaml:7:62", "playbooks/commune.yaml:8:63"], result.err
    assert "not inside the directory's base DN DC=exemple,DC=example" in found["playbooks/commune.yaml:5:21"]
    assert "{lats}" in found["playbooks/commune.yaml:7:62"]
    assert "exemple..example" in found["playbooks/commune.yaml:8:63"]


def test_every_problem_of_every_routine_is_reported_in_one_run(tmp_path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"commune": """\
entity: commune
routines:
  weekly:
    description: Weekly
    schedule: "61 * * * *"
    ask: {who: {prompt: Who, pattern: "(["}}
    steps:
      - {description: One, id: one, run: {command: [echo, "{whom}"]}}
      - {description: Two, id: one, when: one faild, manual: Look}
      - {description: Three, when: tree ok, include: nothing}
"""})
    result = cli("playbook", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    # a file the schema refuses is not cross-checked (its routines are not known yet): the schedule first
    assert [x.split(": ", 1)[0] for x in errors(result)] == ["playbooks/commune.yaml:5:15"], result.err
    fixed = (tmp_path / "playbooks" / "commune.yaml").read_text().replace("61 * * * *", "1 * * * *")
    (tmp_path / "playbooks" / "commune.yaml").write_text(fixed)
    result = cli("playbook", "validate")
    lines = [x.split(": ", 1)[0] for x in errors(result)]
    # the pattern, {whom}, the second id 'one', 'one faild' (it cannot be read), the unknown include ('tree' may be
    # a step of the routine that cannot be found: it is not called unknown)
    assert lines == ["playbooks/commune.yaml:6:39", "playbooks/commune.yaml:8:59", "playbooks/commune.yaml:9:32",
                     "playbooks/commune.yaml:9:43", "playbooks/commune.yaml:10:54"], result.err


def test_an_include_into_a_playbook_the_schema_refused_is_not_called_unknown(tmp_path, cli, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"commune": "entity: commune\nroutines:\n  a:\n    description: A\n    steps:\n"
                                "      - {description: CPAS part, include: cpas/b}\n",
                     "cpas": "entity: cpas\nroutines:\n  b:\n    description: B\n    colour: red\n"
                             "    steps: [{description: Look, manual: Look}]\n"})
    result = cli("playbook", "validate")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all
    assert [x.split(":", 1)[0] for x in errors(result)] == ["playbooks/cpas.yaml"], result.err  # only the real one


def test_a_guided_run_of_a_routine_with_a_broken_pattern_is_refused_before_it_starts(tmp_path, cli,
                                                                                      monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"commune": """\
entity: commune
routines:
  greet:
    description: Greet
    ask: {name: {prompt: Name, pattern: "(["}}
    steps: [{description: Hello, run: {command: [echo, "{name}"]}}]
"""})
    result = cli("playbook", "run", "commune/greet", "--guided", "--yes")
    assert result.rc == ExitStatus.INVALID_CONFIG, result.all  # before: exit 70, "This is a bug"
    assert "playbooks/commune.yaml:5:41:" in result.err and "not a valid regular expression" in result.err
