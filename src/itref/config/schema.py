"""The single schema of ``inventory.yaml`` and ``playbooks/<entity>.yaml``.

Validation, the reference pages in ``docs/reference/`` and ``itref inventory schema`` all come
from these models. Field descriptions are written for the person editing the YAML.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from itref.core.model import MESSAGES, NAME_PATTERN, Name, Strict, Text, fail
from itref.core.units import parse_duration, parse_size
from itref.i18n import N_
from itref.secrets.refs import KeepassRef, SecretRef

__all__ = ["NAME_PATTERN", "KeepassRef", "Name", "SecretRef", "Strict", "Text"]

MESSAGES.update({
    "connection": N_("'{value}' is not a connection kind; expected one of: {kinds}"),
    "no_entities": N_("at least one entity is needed"),
    "url": N_("'{v}' is not an ldap:// or ldaps:// URL"),
    "step_kind": N_("a step needs exactly one action among: {kinds}"),
    "backup_field": N_("a '{kind}' backup needs '{field}'"),
    "schedule": N_("'{text}' is not a cron schedule; write five fields such as '0 7 * * 1' or @daily"),
})
_fail = fail


def _duration(value: Any) -> Any:
    if value is None:
        return value
    try:
        parse_duration(value)
    except ValueError as exc:
        raise PydanticCustomError("duration", str(exc)) from None
    return str(value)


def _size(value: Any) -> Any:
    if value is None:
        return value
    try:
        parse_size(value)
    except ValueError as exc:
        raise PydanticCustomError("size", str(exc)) from None
    return str(value)


def _schedule(value: Any) -> Any:
    if value is None:
        return value
    from itref.schedule import cron_problem

    text = str(value).strip()
    problem = cron_problem(text)  # every field within its range, names, steps: what cron itself would run
    if problem is not None:
        raise PydanticCustomError("cron", problem)
    return text


# --------------------------------------------------------------------------- connections
#
# Each connection kind's settings are the connector's own (``Settings`` of its class in itref.connectors); the
# inventory's host fields and ``defaults.<kind>`` are derived from them here, every field optional (left out:
# the default's value, else the connector's own default).


def _optional(model: type[BaseModel], name: str) -> type[BaseModel]:
    """Return ``model`` with every field optional and left out by default, its description saying the default."""
    fields: dict[str, Any] = {}
    for key, f in model.model_fields.items():
        description = f.description or ""
        if not f.is_required() and f.default is not None and f.default_factory is None:
            shown = str(f.default).lower() if isinstance(f.default, bool) else \
                f"{f.default:g}" if isinstance(f.default, float) else f.default
            description = f"{description} Default: {shown}.".strip()
        annotation = f.annotation | None  # type: ignore[operator]
        if f.metadata:  # the constraints (ge, le, pattern...) hold for a value that is given
            annotation = Annotated[(annotation, *f.metadata)]  # type: ignore[assignment]
        fields[key] = (annotation, Field(None, description=description, examples=f.examples,
                                         json_schema_extra=f.json_schema_extra))
    return create_model(name, __base__=Strict, __doc__=model.__doc__, **fields)


def _connection_models() -> tuple[dict[str, type[BaseModel]], dict[str, type[BaseModel]]]:
    """Return, for every registered connection kind, the model of its ``defaults.<kind>`` section and of its
    hosts (the common host fields plus its settings)."""
    from itref.registries import connectors

    defaults: dict[str, type[BaseModel]] = {}
    hosts: dict[str, type[BaseModel]] = {}
    for kind in connectors.names():
        settings = connectors.get(kind).Settings
        title = {"ssh": "SSH", "winrm": "WinRM"}.get(kind, kind.title())
        defaults[kind] = _optional(settings, f"{title}Defaults")
        hosts[kind] = create_model(
            f"{title}Host", __base__=(HostBase, defaults[kind]), __doc__=f"A host reached with `connection: {kind}`. "
            + (settings.__doc__ or "").strip(),
            connection=(Literal[kind], Field(kind if kind == DEFAULT_CONNECTION else ...,  # type: ignore[valid-type]
                                             description="How itref reaches it: "
                                             + ", ".join(connectors.names()) + f" ({DEFAULT_CONNECTION} when left "
                                             "out).", examples=[kind])))
    return defaults, hosts


DEFAULT_CONNECTION = "ssh"
HOST_TAG = "<{kind}>"
"""How a host's connection kind appears in validation error locations (dropped from file:line messages)."""


class HostBase(Strict):
    """The fields every host has, whatever its connection."""

    address: Text | None = Field(None, description="DNS name or IP address itref connects to; the host's name "
                                 "(its key under `hosts`) when left out.", examples=["srv-fichiers.exemple.example"])
    description: Text | None = Field(None, description="What the machine is for, in plain words (shown by "
                                     "`itref inventory show` and in the handover pack).",
                                     examples=["File server of the CPAS"])
    tags: list[Name] = Field(default_factory=list, description="Labels, to select hosts with --limit tag:NAME and "
                             "to set audit thresholds per tag; none when left out.", examples=[["linux", "backup"]])


def _connection_of(value: Any) -> str:
    kind = value.get("connection", DEFAULT_CONNECTION) if isinstance(value, dict) else \
        getattr(value, "connection", DEFAULT_CONNECTION)
    return HOST_TAG.format(kind=kind)


_DEFAULTS, _HOSTS = _connection_models()
Host = Annotated[  # type: ignore[valid-type]
    Union[tuple(Annotated[model, Tag(HOST_TAG.format(kind=kind))] for kind, model in _HOSTS.items())],  # noqa: UP007
    Discriminator(_connection_of, custom_error_type="connection",
                  custom_error_message=MESSAGES["connection"],
                  custom_error_context={"kinds": ", ".join(_HOSTS)}),
]
"""One machine: the common fields and its connection kind's settings, chosen by ``connection:``."""

Defaults = create_model(
    "Defaults", __base__=Strict,
    __doc__="Settings shared by every host of a connection kind, and the default command timeout.",
    **{kind: (model, Field(default_factory=model, description=f"Settings of every `connection: {kind}` host that "
                           "does not set them itself."))
       for kind, model in _DEFAULTS.items()},
    timeout=(float, Field(300, gt=0, description="Seconds a command may run before it is stopped (a step's own "
                          "`timeout` wins).", examples=[600])),
    forks=(int, Field(50, ge=1, le=1000, description="How many hosts are worked on at once (1 to 1000).",
                      examples=[20])),
)


class Contact(Strict):
    """Someone to call about an entity."""

    name: Text = Field(description="Who: a person's name or a function.", examples=["Directrice générale"])
    role: Text | None = Field(None, description="What to call them about.", examples=["Signs off new accounts"])
    email: Text | None = Field(None, description="E-mail address.", examples=["dg@exemple.example"])
    phone: Text | None = Field(None, description="Phone number, as it is dialled.", examples=["+32 4 000 00 00"])


class Entity(Strict):
    """The commune, the CPAS, an ASBL, or `shared` for common infrastructure."""

    title: Text = Field(description="Full name, as people say it (on reports and in the handover pack).",
                        examples=["CPAS d'Exemple"])
    description: Text | None = Field(None, description="What the entity is and does, in a sentence.",
                                     examples=["Centre public d'action sociale: social aid, housing, home help"])
    ou: Text | None = Field(None, description="Its Active Directory OU (distinguished name): an account below it "
                            "belongs to this entity.", examples=["OU=CPAS,DC=exemple,DC=example"])
    departed_ou: Text | None = Field(None, description="OU where `itref ad user offboard` moves the accounts of "
                                     "people who left; offboarding is refused for this entity when left out.",
                                     examples=["OU=Departs,OU=CPAS,DC=exemple,DC=example"])
    contacts: list[Contact] = Field(default_factory=list, description="People to call about this entity (in the "
                                    "handover pack and in guided routines).")
    hosts: dict[Name, Host] = Field(default_factory=dict, description="Its machines, by name (the name --limit "
                                    "and the reports use).")


class Directory(Strict):
    """The Active Directory connection."""

    url: str = Field(description="A domain controller: ldaps://NAME (or ldap://NAME with start_tls: true).",
                     examples=["ldaps://dc01.exemple.example"])
    base_dn: Text = Field(description="Root of the domain, as a distinguished name.",
                          examples=["DC=exemple,DC=example"])
    bind_user: Text = Field(description="Service account itref logs in as (UPN, DOMAIN\\name or DN).",
                            examples=["svc-itref@exemple.example"])
    bind_password: SecretRef = Field(description="Its password, as a reference (never the password itself).",
                                     examples=[{"secret": "ad-bind"}])
    ca_file: Text | None = Field(None, description="CA certificate (PEM file) that signed the DC's certificate; the "
                                 "system's CAs when left out.", examples=["/srv/it/ca-exemple.pem"])
    tls_name: Text | None = Field(None, description="Name written in the DC's certificate, when it differs from the "
                                  "URL's (e.g. a URL with an IP address).", examples=["dc01.exemple.example"])
    start_tls: bool = Field(False, description="true: connect to ldap:// on port 389 and upgrade with StartTLS "
                            "(refused if the upgrade fails); false: LDAPS.", examples=[False])
    timeout: float = Field(10, gt=0, description="Seconds to wait for the DC before giving up.", examples=[20])

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        if not re.match(r"^ldaps?://[^/\s]+/?$", value):
            raise _fail("url", v=value)
        return value


class EmailSettings(Strict):
    """Where audit notifications are e-mailed (SMTP with STARTTLS)."""

    smtp: Text = Field(description="Name of the SMTP server.", examples=["smtp.exemple.example"])
    port: int = Field(587, ge=1, le=65535, description="TCP port of the SMTP server (587: submission).",
                      examples=[587])
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (refuse to send if it fails).",
                           examples=[True])
    user: Text | None = Field(None, description="Login, when the server asks for one (no login when left out).",
                              examples=["itref@exemple.example"])
    password: SecretRef | None = Field(None, description="The login's password, as a reference.",
                                       examples=[{"env": "ITREF_SMTP_PASSWORD"}])
    sender: Text = Field(alias="from", description="Sender address of the messages.",
                         examples=["itref@exemple.example"])
    to: list[Text] = Field(min_length=1, description="Recipients (at least one).",
                           examples=[["informatique@exemple.example"]])
    ca_file: Text | None = Field(None, description="CA certificate (PEM file) that signed the server's certificate; "
                                 "the system's CAs when left out.", examples=["/srv/it/ca-exemple.pem"])

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WebhookSettings(Strict):
    """A web address that receives a JSON message (ntfy, Teams, Slack or any generic receiver)."""

    url: str = Field(pattern=r"^https?://", description="Where to POST (an https:// or http:// address).",
                     examples=["https://ntfy.exemple.example/itref"])
    kind: Literal["generic", "ntfy", "slack", "teams"] = Field("generic", description="Shape of the message: "
                                                               "generic (JSON), ntfy, slack or teams.",
                                                               examples=["ntfy"])
    token: SecretRef | None = Field(None, description="Bearer token, when the receiver needs one.",
                                    examples=[{"env": "ITREF_NTFY_TOKEN"}])


class Notifications(Strict):
    """Who is told when an unattended audit finds something new or worse."""

    email: EmailSettings | None = Field(None, description="Send an e-mail (no e-mail when left out).")
    webhook: WebhookSettings | None = Field(None, description="Post to a web address (none when left out).")
    digest: Literal["none", "daily", "weekly"] = Field("none", description="Also send a summary of everything "
                                                       "still failing, once a day or once a week.",
                                                       examples=["weekly"])
    language: Literal["fr", "en"] | None = Field(None, description="Language of the messages (inventory's "
                                                 "language by default).", examples=["fr"])


class OperatorInfo(Strict):
    """A person who may act on the project; the journal and the handover pack name them."""

    name: Text = Field(description="As records sign it: the person's ITREF_OPERATOR, git user.name or login name.",
                       examples=["Jean Dupont"])
    role: Literal["referent", "stand-in", "supplier"] = Field(description="The IT referent, a stand-in "
                                                                "colleague, or a supplier.", examples=["referent"])
    email: Text | None = Field(None, description="E-mail address.", examples=["jean.dupont@exemple.example"])
    phone: Text | None = Field(None, description="Phone number, as it is dialled.", examples=["+32 4 000 00 02"])


class Inventory(Strict):
    """`inventory.yaml`: the organisation, its entities and hosts, secrets and directory."""

    version: Literal[1] = Field(description="Format version; always 1 for now.", examples=[1])
    organisation: Text = Field(description="Name shown on reports.", examples=["Commune d'Exemple"])
    language: Literal["fr", "en"] | None = Field(None, description="Language of reports and notifications.",
                                                 examples=["fr"])
    state: Text | None = Field(None, description="The project's state folder (journal, histories, "
                               "waivers, offboarded accounts, routine runs), relative to this file; `state` "
                               "beside it when left out. Keep it with the inventory (shared drive or git).",
                               examples=["state"])
    state_group: Text | None = Field(None, description="Unix group whose members share the state "
                                     "folder (folders 2770, files 0660); without it, only its owner may use it.",
                                     examples=["itref"])
    operators: list[OperatorInfo] = Field(default_factory=list, description="Who acts on the project (the "
                                          "referent, stand-ins, suppliers), for the journal and the pack.")
    defaults: Defaults = Field(default_factory=Defaults, description="Connection settings shared by the hosts of "
                               "each kind, the command timeout and how many hosts are worked on at once.")
    secrets: dict[Name, SecretRef] = Field(default_factory=dict, description="Named secret references, used "
                                           "elsewhere as {secret: NAME}.")
    directory: Directory | None = Field(None, description="The Active Directory itref manages accounts in "
                                        "(`itref ad` cannot work when left out).")
    notifications: Notifications | None = Field(None, description="Who is told what an unattended audit finds "
                                                "(nobody when left out).")
    entities: dict[Name, Entity] = Field(description="The entities sharing the IT service (at least one).")

    @field_validator("entities")
    @classmethod
    def _some_entity(cls, value: dict[str, Entity]) -> dict[str, Entity]:
        if not value:
            raise _fail("no_entities")
        return value


# --------------------------------------------------------------------------- playbooks

Duration = Annotated[str, Field(description="e.g. 30m, 26h, 90d")]


class RunStep(Strict):
    """Run a command on hosts. A routine parameter reaches the command only as data. In an argument list, each
    `{name}` is replaced inside its item, which stays one argument whatever the value holds (put `--` before
    a value that could start with `-`). With `shell: true`, no value is ever written into the text: each
    `{name}` becomes a reference to the variable `ITREF_P_name` (sh: `"${ITREF_P_name}"` outside quotes,
    `${ITREF_P_name}` inside double quotes or a here-document, exported for the programs the step starts;
    PowerShell: `${ITREF_P_name}`, also set as `$env:ITREF_P_name`), and the values travel on the command's
    standard input, never on a command line (the process list of neither machine shows them). A `{name}`
    where its value would not arrive (single quotes, a here-document with a quoted end word) or would be read
    as code (the script of `sh -c` or `eval`, bash arithmetic `$((...))`, `((...))`, `[[...]]`, `let`,
    `declare -i`; `Invoke-Expression`, `cmd /c`) is refused by `itref playbook validate` and before a run.
    A program that reads its own arguments as code (awk or sed scripts, `perl -e`, `python -c`, `ssh`,
    `su -c`) would get the value as code: hand it over as data instead (`sh -c '... "$1"' sh {name}`,
    `awk -v v="{name}" ...`)."""

    command: list[str] | Text = Field(description="Argument list (preferred), or one shell line with shell: true; "
                                      "{name} is a parameter (see the routine: it reaches the command only as data).",
                                      examples=[["df", "-h", "/srv"]])
    shell: bool = Field(False, description="Pass `command` to the host's shell as one line (pipes, globs).",
                        examples=[True])
    limit: Text | None = Field(None, description="Which hosts (same syntax as --limit); the entity's hosts "
                               "when left out.", examples=["tag:linux"])
    timeout: float | None = Field(None, gt=0, description="Seconds the command may run (the inventory's "
                                  "defaults.timeout when left out).", examples=[120])
    sudo: bool = Field(False, description="Run through sudo (with the host's sudo_password).", examples=[True])


class ManualStep(Strict):
    """Something a person does and confirms."""

    instruction: Text = Field(description="What to do, in plain words; {name} is replaced by the routine's value "
                              "`name`.", examples=["Give {first} the login and the temporary password, on paper, "
                                                   "in person"])


class AdStep(Strict):
    """An `itref ad` action."""

    action: Text = Field(description="Which action: user create, user offboard, user disable, user enable, user "
                         "unlock, user reset-password, user set, user move, group add or group remove.",
                         examples=["user create"])
    params: dict[str, Any] = Field(default_factory=dict, description="Its parameters (user create: template, first, "
                                   "last; the others: login...); {name} is replaced by the routine's value `name`.",
                                   examples=[{"template": "social-worker", "first": "{first}", "last": "{last}"}])
    at: Text | None = Field(None, description="Make the change at this date and time instead of now (YYYY-MM-DD "
                            "HH:MM, or an ask: answer of type date): the plan is shown and confirmed at this step, and "
                            "`itref schedule run` applies it then if the directory has not changed meanwhile. A "
                            "`user create` makes the account now, disabled, and enables it then.",
                            examples=["{leave_date} 18:00"])


class BackupStep(Strict):
    """Check, verify or drill this entity's backups."""

    action: Literal["check", "verify", "drill"] = Field("check", description="check (age and size of the last "
                                                        "backup), verify (read the repository back) or drill "
                                                        "(restore sample files).", examples=["check"])
    names: list[Text] | None = Field(None, description="Which backups, by name; all of the entity's when left out.",
                                     examples=[["nas-restic"]])


class AuditStep(Strict):
    """Run audit checks."""

    checks: list[Text] | None = Field(None, description="Check ids or globs (docs/checks.md lists them); every "
                                      "check when left out.", examples=[["linux.disk.*"]])
    limit: Text | None = Field(None, description="Which hosts (same syntax as --limit); the entity's hosts when "
                               "left out.", examples=["tag:linux"])


class CopyStep(Strict):
    """Put a file on hosts."""

    src: Text = Field(description="The file to copy, on this machine; a relative path starts at the playbooks "
                      "folder.", examples=["files/bienvenue-cpas.pdf"])
    dest: Text = Field(description="Where to put it on each host (full path, file name included).",
                       examples=["/srv/partages/cpas/accueil/bienvenue-cpas.pdf"])
    limit: Text | None = Field(None, description="Which hosts (same syntax as --limit); the entity's hosts when "
                               "left out.", examples=["srv-fichiers"])
    mode: str | None = Field(None, pattern=r"^0?[0-7]{3,4}$", description="Permissions of the copy, in octal; "
                             "the host's usual ones when left out.", examples=["0640"])


STEP_KINDS = ("run", "manual", "include", "ad", "backup", "audit", "copy")


class Step(Strict):
    """One step of a routine: a description plus exactly one action."""

    description: Text = Field(description="What this step does, for the person following it.",
                              examples=["Check free disk space on the Linux servers"])
    why: Text | None = Field(None, description="Why it is done.", examples=["A full disk stops the nightly dumps."])
    if_fails: Text | None = Field(None, description="What to do if it fails.",
                                  examples=["Delete old dumps in /srv/dumps, or call the supplier."])
    when: Text | None = Field(None, description="Only if an earlier step ended so: 'STEP_ID ok', 'failed', "
                              "'skipped' or 'stopped', or 'not ...'; always when left out.",
                              examples=["disk-audit failed"])
    on_failure: Literal["stop", "continue", "ask"] = Field("stop", description="When this step fails: stop the "
                                                           "routine, continue with the next step, or ask the "
                                                           "person.", examples=["continue"])
    id: Name | None = Field(None, description="Name used by later `when` conditions; unique in its routine.",
                            examples=["disk-audit"])
    run: RunStep | None = Field(None, description="Action: run a command on hosts.")
    manual: ManualStep | Text | None = Field(None, description="Action: something a person does and confirms (the "
                                             "instruction as text, or {instruction: ...}).",
                                             examples=["Hand over the badge and the office keys"])
    include: Text | None = Field(None, description="Action: run another routine here, which must exist: NAME (this "
                                 "playbook) or ENTITY/NAME, never round in a circle; it runs with this routine's "
                                 "parameters.", examples=["weekly-check"])
    ad: AdStep | None = Field(None, description="Action: an `itref ad` change.")
    backup: BackupStep | None = Field(None, description="Action: check, verify or drill backups.")
    audit: AuditStep | None = Field(None, description="Action: run audit checks.")
    copy_: CopyStep | None = Field(None, alias="copy", description="Action: put a file on hosts.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        if len(self.kinds()) != 1:
            raise _fail("step_kind", kinds=", ".join(STEP_KINDS))
        return self

    def kinds(self) -> list[str]:
        """Return the action keys this step has (exactly one once validated)."""
        return [k for k in STEP_KINDS if getattr(self, "copy_" if k == "copy" else k) is not None]

    @property
    def kind(self) -> str:
        """Return this step's action: run, manual, include, ad, backup, audit or copy."""
        return self.kinds()[0]


class Ask(Strict):
    """A value the routine asks for when it starts. An answer typed at the prompt and a `--set NAME=VALUE` go
    through the same checks (pattern, type, choices); a `--set` they refuse stops the run before its first step
    (exit 2)."""

    prompt: Text = Field(description="The question.", examples=["First name of the new colleague"])
    type: Literal["text", "int", "bool", "date", "email", "choice"] = Field("text", description="What the answer "
                                                                             "is: text, int (a whole number), bool "
                                                                             "(yes/no), date (YYYY-MM-DD), email, "
                                                                             "or choice (one of `choices`).",
                                                                             examples=["choice"])
    choices: list[Text] | None = Field(None, description="The answers allowed, for type: choice.",
                                       examples=[["Service social", "Accueil", "Comptabilité"]])
    default: Any = Field(None, description="The answer when the person just presses Enter, and in unattended "
                         "runs; an answer is required when left out.", examples=["Service social"])
    pattern: Text | None = Field(None, description="Regular expression (a valid one) the answer must match.",
                                 examples=["^[A-Za-zÀ-ÿ' -]+$"])
    secret: bool = Field(False, description="The answer is a secret (a password): typed without echo, masked "
                         "in every output, never saved with the routine's progress (asked again on resume).",
                         examples=[True])


class Routine(Strict):
    """A named list of steps, e.g. onboard-employee. Before anything runs, the files are checked for what would make
    it fail halfway: each `include` exists and none goes round in a circle, step ids are unique, each `when`
    reads and asks about an earlier step, each `{name}` in a command, an instruction or `ad` parameters is declared
    under `ask:` or `vars:`, each `pattern` is a regular expression, `ad` actions and their parameters, `backup`
    names, `audit` checks, and the schedule (every field within its range)."""

    description: Text = Field(description="What the routine achieves.",
                              examples=["Create the account and the folders of a new colleague"])
    why: Text | None = Field(None, description="Why the routine exists, for whoever runs it.",
                             examples=["A new colleague must be able to work on the first morning."])
    schedule: str | None = Field(None, description="Cron schedule for unattended runs (`itref schedule install`): "
                                 "minute 0-59, hour 0-23, day 1-31, month 1-12 or jan-dec, weekday 0-7 or sun-sat; "
                                 "lists, ranges and steps (*/15), or @daily...; run by hand only when left out.",
                                 examples=["0 7 * * 1"])
    vars: dict[str, Any] = Field(default_factory=dict, description="Fixed values the steps use as {name}.",
                                 examples=[{"share": "/srv/partages/cpas"}])
    ask: dict[Name, Ask] = Field(default_factory=dict, description="Values asked for when the routine starts, by "
                                 "name (or given with --set NAME=VALUE); the steps use them as {name}.")
    steps: list[Step] = Field(min_length=1, description="What to do, in order (at least one step).")

    _check_schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule(v))


class AccountTemplate(Strict):
    """How accounts of one role are made (OU, groups, naming, attributes)."""

    ou: Text = Field(description="OU the account is created in (distinguished name, inside the directory's base_dn).",
                     examples=["OU=Social,OU=CPAS,DC=exemple,DC=example"])
    groups: list[Text] = Field(default_factory=list, description="Groups the account is added to (none when left "
                               "out).", examples=[["GG-CPAS-Social", "GG-Tous"]])
    username: Text = Field("{first_initial}{last}", description="Login rule: {first}, {last}, {first_initial}, "
                           "{last_initial}; the login is written in lower-case ASCII (accents, apostrophes and "
                           "spaces dropped).", examples=["{first}.{last}"])
    upn_suffix: Text | None = Field(None, description="Domain of the login name (login@suffix); no "
                                    "userPrincipalName is set when left out.", examples=["exemple.example"])
    mail: Text | None = Field(None, description="Mail address rule, with the login rule's {names} and {login}.",
                              examples=["{first}.{last}@exemple.example"])
    attributes: dict[str, str] = Field(default_factory=dict, description="Other attributes set on the account "
                                       "(name → value).",
                                       examples=[{"department": "Service social", "company": "CPAS d'Exemple"}])
    must_change_password: bool = Field(False, description="The person must choose a new password at first logon.",
                                       examples=[True])
    home_directory: Text | None = Field(None, description="Home folder (UNC path), with the login rule's {names} "
                                        "and {login}.", examples=["\\\\srv-fichiers\\home$\\{login}"])
    home_drive: str | None = Field(None, pattern=r"^[A-Za-z]:$", description="Drive letter the home folder is "
                                   "mapped to.", examples=["H:"])
    profile_path: Text | None = Field(None, description="Roaming profile folder (UNC path), with {login}.",
                                      examples=["\\\\srv-fichiers\\profils$\\{login}"])
    expires_after: str | None = Field(None, description="Temporary staff: the account expires this long after it "
                                      "is created (a duration: 90d, 26w); never when left out.", examples=["90d"])
    description: Text | None = Field(None, description="Description written on each account.",
                                     examples=["Travailleur social"])

    _check_expiry = field_validator("expires_after", mode="before")(lambda cls, v: _duration(v))


class Accounts(Strict):
    """Account templates of the entity."""

    templates: dict[Name, AccountTemplate] = Field(default_factory=dict, description="Templates by name (`itref "
                                                   "ad user create --template ENTITY/NAME`).")


class Drill(Strict):
    """Restore drill settings."""

    files: list[Text] = Field(default_factory=list, description="Files restored at every drill (paths as they "
                              "are in the backup).", examples=[["/srv/partages/cpas/procedures.odt"]])
    random: int = Field(0, ge=0, description="How many files chosen at random are restored as well.", examples=[5])
    every: str = Field("92d", description="Warn when the last successful drill is older than this (a duration; "
                       "it applies also when `drill:` is left out).", examples=["60d"])

    _check_every = field_validator("every", mode="before")(lambda cls, v: _duration(v))


def _backup_kinds() -> tuple[str, ...]:
    """Return the registered backup kinds (built-in and plugins), read from the registry without importing them."""
    from itref.registries import backup_kinds

    return tuple(backup_kinds.names())


_BACKUP_KINDS = _backup_kinds()
BackupKindName = Literal[_BACKUP_KINDS]  # type: ignore[valid-type]


class Backup(Strict):
    """One backup to check."""

    name: Name = Field(description="How this backup is called (in findings, the pack and `itref backup check "
                       "NAME`).", examples=["nas-restic"])
    kind: BackupKindName = Field(description="What makes the backup: " + ", ".join(_BACKUP_KINDS) + " (the backup "
                                 "kinds registered, plugins included).", examples=["restic"])
    host: Name | None = Field(None, description="Where the check runs (this machine by default).",
                              examples=["srv-fichiers"])
    description: Text | None = Field(None, description="What is backed up, where to, and when.",
                                     examples=["The CPAS shares, every night at 1:00, to the NAS"])
    repository: Text | None = Field(None, description="restic/borg repository (path or URL); required for them.",
                                    examples=["/mnt/nas/restic/cpas"])
    password: SecretRef | None = Field(None, description="restic/borg: the repository's password, as a reference.",
                                       examples=[{"secret": "restic-nas"}])
    path: Text | None = Field(None, description="files: directory where the dumps are dropped; required for it.",
                              examples=["/srv/dumps"])
    pattern: Text | None = Field(None, description="files: which files count, as a file name pattern.",
                                 examples=["*.sql.gz"])
    job: Text | None = Field(None, description="veeam: job name (all jobs by default).",
                             examples=["Sauvegarde serveurs"])
    max_age: str | None = Field(None, description="Critical when the newest backup is older than this (a "
                                "duration: 26h, 2d); age is not judged when left out.", examples=["26h"])
    min_size: str | None = Field(None, description="Critical when the newest backup is smaller than this (a size: "
                                 "500KB, 1MB, 2GiB); size is not judged when left out.", examples=["1MB"])
    size_change: str | None = Field(None, pattern=r"^±?\+?\d+(\.\d+)?%$", description="Warn when the size "
                                    "changes by more than this since the previous check (a percentage).",
                                    examples=["±30%"])
    expected_hostname: Text | None = Field(None, description="restic/borg: warn when the newest snapshot was made "
                                           "by another machine than this one.", examples=["srv-fichiers"])
    expected_paths: list[Text] = Field(default_factory=list, description="restic/borg: warn when the newest "
                                       "snapshot lacks one of these folders.", examples=[["/srv/partages"]])
    verify_schedule: str | None = Field(None, description="Cron schedule of `itref backup verify` for this backup "
                                        "(`itref schedule install`); by hand only when left out.",
                                        examples=["0 3 * * 0"])
    read_data_subset: str = Field("5%", pattern=r"^(\d+(\.\d+)?%|\d+/\d+)$",
                                  description="restic: share of the data read back by verify (e.g. 5%, 1/10).",
                                  examples=["1/10"])
    drill: Drill | None = Field(None, description="Restore drills (`itref backup drill`): which files, how often.")
    recheck_after: str = Field("24h", description="restic/borg on a path: how long the evidence of a repository "
                               "whose files have not changed is reused without opening it again (0s: open it on "
                               "every check).", examples=["12h"])

    _check_age = field_validator("max_age", "recheck_after", mode="before")(lambda cls, v: _duration(v))
    _check_size = field_validator("min_size", mode="before")(lambda cls, v: _size(v))
    _check_schedule = field_validator("verify_schedule", mode="before")(lambda cls, v: _schedule(v))

    @model_validator(mode="after")
    def _needs(self) -> Backup:
        needed = {"restic": "repository", "borg": "repository", "files": "path"}.get(self.kind)
        if needed and getattr(self, needed) is None:
            raise _fail("backup_field", kind=self.kind, field=needed)
        return self


class Endpoint(Strict):
    """A TLS service whose certificate expiry is watched."""

    url: str = Field(pattern=r"^(https|ldaps|smtp|rdp|tls)://[^/\s]+(:\d+)?/?$",
                     description="https://host[:port], ldaps://, smtp:// (STARTTLS), rdp:// or tls://host:port.",
                     examples=["https://webmail.exemple.example"])
    name: Text | None = Field(None, description="How people call it.", examples=["webmail"])
    warn_days: int = Field(30, ge=0, description="Warn when the certificate expires within this many days.",
                           examples=[45])
    critical_days: int = Field(7, ge=0, description="Critical when it expires within this many days.",
                               examples=[10])


class PortCheck(Strict):
    """A TCP port that must answer."""

    host: Text = Field(description="DNS name or IP address.", examples=["srv-fichiers.exemple.example"])
    port: int = Field(ge=1, le=65535, description="TCP port number.", examples=[445])
    name: Text | None = Field(None, description="How people call the service.", examples=["file shares (SMB)"])


ThresholdMap = dict[str, dict[str, Any]]


class Audits(Strict):
    """Audit settings of the entity: thresholds per entity, tag and host; network endpoints to watch."""

    schedule: str | None = Field(None, description="Cron schedule of the unattended audit of this entity "
                                 "(`itref schedule install`); by hand only when left out.", examples=["0 6 * * *"])
    skip: list[Text] = Field(default_factory=list, description="Check ids or globs not run for this entity.",
                             examples=[["linux.updates"]])
    thresholds: ThresholdMap = Field(default_factory=dict, description="check id → settings, for the entity's "
                                     "hosts (docs/checks.md lists each check's settings).",
                                     examples=[{"linux.disk.free": {"warning": 85, "critical": 95}}])
    tags: dict[Name, ThresholdMap] = Field(default_factory=dict, description="tag → check id → settings, for the "
                                           "hosts with that tag.", examples=[{"linux": {"linux.load": {"warning": 2}}}])
    hosts: dict[Name, ThresholdMap] = Field(default_factory=dict, description="host → check id → settings, for one "
                                            "host.", examples=[{"srv-fichiers": {"linux.disk.free": {"critical": 97}}}])
    endpoints: list[Endpoint] = Field(default_factory=list, description="TLS certificates to watch.")
    ports: list[PortCheck] = Field(default_factory=list, description="TCP ports that must answer.")
    dns: list[Text] = Field(default_factory=list, description="Names that must resolve.",
                            examples=[["webmail.exemple.example"]])

    _check_schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule(v))


class Handover(Strict):
    """What the referent wants a successor to know."""

    notes: list[Text] = Field(default_factory=list, description="Free-text notes, one per item.",
                              examples=[["The file server's RAID controller beeps once at boot; it is harmless."]])


class Playbook(Strict):
    """`playbooks/<entity>.yaml`: everything one entity needs."""

    entity: Name = Field(description="The entity (from the inventory) this playbook is for.", examples=["cpas"])
    title: Text | None = Field(None, description="A title for the playbook, shown in the handover pack.",
                               examples=["What the CPAS needs from IT"])
    contacts: list[Contact] = Field(default_factory=list, description="Extra contacts (suppliers, helpdesk).")
    routines: dict[Name, Routine] = Field(default_factory=dict, description="Its routines, by name (`itref "
                                          "playbook run ENTITY/NAME`).")
    accounts: Accounts = Field(default_factory=Accounts, description="How its Active Directory accounts are made.")
    backups: list[Backup] = Field(default_factory=list, description="Its backups, checked by `itref backup check`.")
    audits: Audits = Field(default_factory=Audits, description="Its audit settings.")
    handover: Handover = Field(default_factory=Handover, description="What a successor must know.")
