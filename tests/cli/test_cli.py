"""The command line as a person uses it: help, version, formats, exit codes, streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from itref.cli.main import hoist_global_options
from itref.core.status import ExitStatus
from tests.conftest import EXAMPLE, LOCAL_INVENTORY, ROOT


def test_help_lists_the_command_groups(itref_bin) -> None:
    result = itref_bin("--help")
    assert result.rc == 0
    for group in ("inventory", "playbook", "run", "journal"):
        assert group in result.out


def test_version_prints_the_package_version(itref_bin) -> None:
    from itref import __version__

    result = itref_bin("--version")
    assert result.rc == 0 and result.out.strip() == f"itref {__version__}"


def test_help_imports_no_heavy_library() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "itref", "--help"],
                          capture_output=True, text=True, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    heavy = {"paramiko", "winrm", "ldap3", "cryptography", "pydantic", "yaml", "pykeepass"}
    assert not heavy & imported, heavy & imported


def test_unknown_option_is_a_usage_error(cli) -> None:
    result = cli("run", "--bogus", "--", "true")
    assert result.rc == ExitStatus.USAGE
    assert "No such option" in result.err and "Traceback" not in result.all


def test_unknown_format_is_a_usage_error(cli) -> None:
    result = cli("--format", "yaml", "inventory", "show")
    assert result.rc == ExitStatus.USAGE


def test_global_options_may_follow_the_command(make_inventory, cli) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    result = cli("run", "-i", str(inv), "--format", "json", "--limit", "here", "--", "echo", "hi")
    assert result.rc == 0, result.all
    assert json.loads(result.out)[0]["stdout"] == "hi\n"


def test_hoisting_never_touches_the_remote_command() -> None:
    argv = ["run", "--limit", "x", "--", "grep", "-v", "--format", "json"]
    assert hoist_global_options(argv) == argv
    assert hoist_global_options(["run", "-f", "json", "--", "ls"]) == ["-f", "json", "run", "--", "ls"]


def test_run_on_the_example_inventory_prints_hi_and_journals_it(cli, monkeypatch) -> None:
    result = cli("-i", str(EXAMPLE), "run", "--limit", "admin-pc", "--", "echo", "hi")
    assert result.rc == 0, result.all
    assert "hi" in result.out and "admin-pc" in result.out
    journal = cli("journal", "--format", "json")
    records = json.loads(journal.out)
    assert [(r["host"], r["target"], r["outcome"], r["rc"]) for r in records] == [("admin-pc", "echo hi", "ok", 0)]


def test_run_json_has_one_object_per_host_with_the_documented_keys(make_inventory, cli) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    result = cli("-i", str(inv), "--format", "json", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    data = json.loads(result.out)
    assert result.rc == ExitStatus.FAILURE
    assert [d["host"] for d in data] == ["here", "also-here", "cpas-pc"]
    for d in data:
        assert set(d) >= {"host", "entity", "rc", "stdout", "stderr", "duration", "error"}
        assert (d["rc"], d["stdout"], d["stderr"]) == (3, "out\n", "err\n")


def test_results_go_to_stdout_and_progress_to_stderr(make_inventory, cli) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    result = cli("-i", str(inv), "run", "--limit", "here", "--", "echo", "marker-123")
    assert "marker-123" in result.out and "marker-123" not in result.err
    assert "[1/1] here: ok" in result.err


def test_run_json_carries_the_output_unchanged(make_inventory, cli) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    text = "a :smile: code, [bold]markup[/bold] and é"
    result = cli("-i", str(inv), "-f", "json", "run", "--limit", "here", "--", "echo", text)
    assert json.loads(result.out)[0]["stdout"] == text + "\n"  # Rich would have replaced :smile: by an emoji


def test_piped_run_json_does_not_import_rich(make_inventory, tmp_path) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "itref", "-i", str(inv), "-f", "json", "run",
                           "--limit", "here", "--", "echo", "hi"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
                          | {"ITREF_STATE_DIR": str(tmp_path / "state")}, stdin=subprocess.DEVNULL, check=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "rich" not in imported
    assert json.loads(proc.stdout)[0]["stdout"] == "hi\n"
    assert "[1/1] here: ok" in proc.stderr


def test_plain_progress_lines_are_written_as_rich_writes_them(monkeypatch) -> None:
    import io

    from rich.console import Console

    from itref.cli.state import CliState, PlainLines

    monkeypatch.setenv("COLUMNS", "40")
    lines = ["[1/3] web: ok (0.21 s)", "[2/3] db: failed (0.30 s) — exit code 1", "x " * 30,
             "tab\there", "an :smile: code", "[3/3] ok   "]
    for line in lines:
        expected, got = io.StringIO(), io.StringIO()
        Console(file=expected, highlight=False, soft_wrap=False, stderr=True, width=40).print(line, markup=False)
        state = CliState(inventory=None)  # type: ignore[arg-type]
        state._consoles["err"] = Console(file=got, highlight=False, soft_wrap=False, stderr=True, width=40)
        PlainLines(state, True, got).print(line, markup=False)
        assert got.getvalue() == expected.getvalue(), line


def test_the_start_up_pause_of_the_garbage_collector_ends_with_a_freeze(monkeypatch) -> None:
    import gc

    from itref.cli import entry

    assert gc.isenabled()
    monkeypatch.setattr(entry, "_STARTUP_GC_PAUSED", True)
    frozen = gc.get_freeze_count()
    gc.disable()
    try:
        entry.end_startup()
        assert gc.isenabled() and gc.get_freeze_count() > frozen
    finally:
        gc.unfreeze()
        gc.enable()


def test_in_process_runs_leave_the_garbage_collector_alone(make_inventory, cli) -> None:
    import gc

    frozen = gc.get_freeze_count()
    result = cli("-i", str(make_inventory(LOCAL_INVENTORY)), "run", "--limit", "here", "--", "true")
    assert result.rc == 0, result.all
    assert gc.isenabled() and gc.get_freeze_count() == frozen


def test_the_console_script_runs_commands_with_the_collector_on(make_inventory, tmp_path) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    code = ("import gc, sys; from itref.runner import command; run = command.run_command\n"
            "def spy(*a, **k):\n"
            "    print('collector', gc.isenabled(), gc.get_freeze_count() > 0, file=sys.stderr)\n"
            "    return run(*a, **k)\n"
            "command.run_command = spy\n"
            "from itref.cli.entry import main; main()")
    proc = subprocess.run([sys.executable, "-c", code, "-i", str(inv), "run", "--limit", "here", "--", "true"],
                          capture_output=True, text=True, env={**os.environ, "ITREF_STATE_DIR": str(tmp_path)},
                          stdin=subprocess.DEVNULL, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "collector True True" in proc.stderr


def test_limit_that_matches_nothing_is_an_error_that_runs_nothing(make_inventory, cli, state_dir) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    result = cli("-i", str(inv), "run", "--limit", "hree", "--", "touch", str(state_dir / "ran"))
    assert result.rc == ExitStatus.USAGE
    assert "'hree' matches no host (did you mean 'here'?)" in result.err
    assert not (state_dir / "ran").exists()


def test_timeout_stops_the_command_and_fails_the_host(make_inventory, cli) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    result = cli("-i", str(inv), "--format", "json", "run", "--limit", "here", "--timeout", "0.5", "--", "sleep", "30")
    data = json.loads(result.out)
    assert result.rc == ExitStatus.FAILURE
    assert data[0]["rc"] is None and "timeout" in data[0]["error"] and data[0]["duration"] < 5


def test_shell_mode_interprets_the_line_and_argv_mode_does_not(make_inventory, cli, tmp_path) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    target = tmp_path / "pwned"
    literal = cli("-i", str(inv), "-f", "json", "run", "--limit", "here", "--", "echo", f"a; touch {target}")
    assert json.loads(literal.out)[0]["stdout"] == f"a; touch {target}\n" and not target.exists()
    shell = cli("-i", str(inv), "-f", "json", "run", "--shell", "--limit", "here", "--", "echo a | tr a b")
    assert json.loads(shell.out)[0]["stdout"] == "b\n"


def test_dry_run_shows_the_plan_and_runs_nothing(make_inventory, cli, tmp_path) -> None:
    inv = make_inventory(LOCAL_INVENTORY)
    target = tmp_path / "created"
    result = cli("-i", str(inv), "run", "--dry-run", "--limit", "entity:cpas", "--", "touch", str(target))
    assert result.rc == 0 and not target.exists()
    assert f"cpas-pc (local): touch {target}" in result.out
    assert cli("journal", "-f", "json").out.strip() == "[]"


def test_inventory_show_json_parses_and_never_contains_secret_values(cli, monkeypatch) -> None:
    monkeypatch.setenv("ITREF_AD_PASSWORD", "canary-Secret-4242")
    result = cli("-i", str(EXAMPLE), "inventory", "show", "--format", "json")
    data = json.loads(result.out)
    assert data["entities"]["cpas"]["hosts"]["srv-cpas-app"]["user"] == "admin"
    assert data["secrets"]["ad-bind"] == "env $ITREF_AD_PASSWORD"
    assert "canary-Secret-4242" not in result.all


def test_inventory_show_tree_has_entities_hosts_and_tags(cli) -> None:
    result = cli("-i", str(EXAMPLE), "inventory", "show")
    assert result.rc == 0
    for text in ("Commune d'Exemple", "cpas", "srv-cpas-app", "#linux", "nas01", "2222"):
        assert text in result.out


def test_example_and_starter_inventories_validate(cli) -> None:
    for inv in (EXAMPLE, ROOT / "inventory.yaml"):
        result = cli("-i", str(inv), "inventory", "validate")
        assert result.rc == 0, result.all
        assert "valid" in result.out


def test_playbook_list_show_and_validate(cli) -> None:
    listed = cli("-i", str(EXAMPLE), "-f", "json", "playbook", "list")
    routines = {r["routine"] for r in json.loads(listed.out)}
    assert "cpas/app-server-health" in routines
    shown = cli("-i", str(EXAMPLE), "playbook", "show", "cpas/app-server-health")
    assert "1. [run] Disk space of the application server" in shown.out
    assert cli("-i", str(EXAMPLE), "playbook", "validate").rc == 0
    missing = cli("-i", str(EXAMPLE), "playbook", "show", "cpas/nope")
    assert missing.rc == ExitStatus.USAGE and "app-server-health" in missing.err


def test_schema_command_prints_json_schema(cli) -> None:
    result = cli("inventory", "schema")
    schema = json.loads(result.out)
    assert "entities" in schema["properties"]


def test_internal_errors_print_one_line_without_traceback(cli, monkeypatch) -> None:
    import itref.cli.inventory as inv_cli

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(inv_cli, "state", boom)
    result = cli("inventory", "show")
    assert result.rc == ExitStatus.INTERNAL_ERROR
    assert "internal error (RuntimeError: kaboom)" in result.err and "Traceback" not in result.err


def test_no_color_and_NO_COLOR_remove_escape_codes(make_inventory, itref_bin) -> None:
    """No colour, and no bold or dim either (before: Rich's no_color kept those): a screen reader, a log file."""
    inv = make_inventory(LOCAL_INVENTORY)
    for args, env in ((["--no-color"], {}), ([], {"NO_COLOR": "1"})):
        for command in (["inventory", "show"], ["status"]):
            result = itref_bin(*args, "-i", str(inv), *command, env={**env, "FORCE_COLOR": "1"})
            assert result.rc in (0, 6), result.err
            assert "\x1b[" not in result.out + result.err, repr(result.out + result.err)
    colour = itref_bin("-i", str(inv), "status", env={"FORCE_COLOR": "1"})
    assert "\x1b[" in colour.out  # the check above can fail: with colours on, there are escape codes
