"""The single schema of ``inventory.yaml`` and ``playbooks/<entity>.yaml``.

Validation, the reference pages in ``docs/reference/`` and ``itref inventory schema`` all come
from these models. Field descriptions are written for the person editing the YAML.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

from itref.config.units import parse_duration, parse_size
from itref.i18n import N_

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
"""Names of hosts, entities, secrets, routines, templates: letters, digits, '.', '_' and '-'."""

MESSAGES = {
    "secret_literal": N_("a secret must be a reference such as {{secret: NAME}}, {{env: VAR}} or {{file: PATH}}, "
                         "never the value itself"),
    "secret_kind": N_("a secret reference needs exactly one of: secret, env, file, keepass, prompt"),
    "connection_field": N_("{fields} do(es) not apply to a '{kind}' host"),
    "no_entities": N_("at least one entity is needed"),
    "url": N_("'{v}' is not an ldap:// or ldaps:// URL"),
    "step_kind": N_("a step needs exactly one action among: {kinds}"),
    "backup_field": N_("a '{kind}' backup needs '{field}'"),
    "schedule": N_("'{text}' is not a cron schedule; write five fields such as '0 7 * * 1' or @daily"),
}
"""Message ids of the schema's own errors; ``config.validate`` translates them."""


def _fail(code: str, **ctx: Any) -> PydanticCustomError:
    """Return the schema error ``code`` with its context (to be raised by a validator)."""
    return PydanticCustomError(code, MESSAGES[code], ctx or None)


class Strict(BaseModel):
    """Base of every schema model: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")


def _schedule(value: Any) -> Any:
    if value is None:
        return value
    text = str(value).strip()
    if text in {"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually", "@reboot"}:
        return text
    parts = text.split()
    if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
        raise _fail("schedule", text=text)
    from itref.cron import CronSchedule

    try:
        CronSchedule.parse(text)  # the values too: 60 minutes, month 13 or 'funday' never fire
    except ValueError:
        raise _fail("schedule", text=text) from None
    return text


# --------------------------------------------------------------------------- secrets

class KeepassRef(Strict):
    """A value kept in a KeePass database (.kdbx)."""

    database: str = Field(description="Path of the .kdbx file.")
    entry: str = Field(description="Entry path inside the database, e.g. 'Backups/restic-nas'.")
    keyfile: str | None = Field(None, description="Key file that opens the database (usable from cron).")
    password: SecretRef | None = Field(None, description="Master password, as a reference (env, file, prompt).")
    attribute: str = Field("password", description="Which field of the entry: password, username, url "
                           "or a custom property name.")


class SecretRef(Strict):
    """Where a secret lives. Exactly one key: ``secret`` (a name from the inventory's ``secrets``),
    ``env``, ``file``, ``keepass`` or ``prompt``. Never the secret itself."""

    secret: Name | None = Field(None, description="Name of an entry of the inventory's `secrets` section.")
    env: str | None = Field(None, description="Environment variable holding the value.")
    file: str | None = Field(None, description="File holding the value (must not be readable by group "
                             "or others); a trailing newline is ignored.")
    keepass: KeepassRef | None = Field(None, description="Entry of a KeePass database.")
    prompt: str | bool | None = Field(None, description="Ask on the terminal (interactive runs only); "
                                      "the text is the question.")

    @model_validator(mode="before")
    @classmethod
    def _not_a_value(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            raise _fail("secret_literal")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("secret", "env", "file", "keepass", "prompt") if getattr(self, k) is not None]
        if len(given) != 1:
            raise _fail("secret_kind")
        return self

    @property
    def kind(self) -> str:
        """Return which kind of reference this is: secret, env, file, keepass or prompt."""
        return next(k for k in ("secret", "env", "file", "keepass", "prompt") if getattr(self, k) is not None)

    def describe(self) -> str:
        """Return where the secret lives, for people (never its value)."""
        if self.secret is not None:
            return f"secret '{self.secret}'"
        if self.env is not None:
            return f"env ${self.env}"
        if self.file is not None:
            return f"file {self.file}"
        if self.keepass is not None:
            return f"keepass {self.keepass.database} → {self.keepass.entry}"
        return "prompt"


KeepassRef.model_rebuild()


# --------------------------------------------------------------------------- connections

class SSHSettings(Strict):
    """How to reach a host over SSH (defaults for every `connection: ssh` host)."""

    user: str | None = Field(None, description="Login name on the host.")
    port: int | None = Field(None, ge=1, le=65535, description="TCP port (22).")
    identity: str | None = Field(None, description="Private key file.")
    known_hosts: str | None = Field(None, description="known_hosts file the host key is checked against.")
    password: SecretRef | None = Field(None, description="Password, when no key is used.")
    sudo_password: SecretRef | None = Field(
        None, description="Password for sudo, for steps that ask for it: sudo reads it on its input only if it "
                          "asks (never the command, never a command line).")
    agent: bool | None = Field(None, description="Also try keys from a running ssh-agent.")
    via: Name | None = Field(None, description="Jump host (a host of the inventory) to go through.")
    connect_timeout: float | None = Field(None, gt=0, description="Seconds to wait for the connection (10).")


class WinRMSettings(Strict):
    """How to reach a Windows host over WinRM (defaults for every `connection: winrm` host)."""

    user: str | None = Field(None, description="Account, e.g. 'EXEMPLE\\svc-itref' or 'svc@exemple.example'.")
    port: int | None = Field(None, ge=1, le=65535, description="TCP port (5986 for https, 5985 for http).")
    password: SecretRef | None = Field(None, description="The account's password.")
    transport: Literal["ntlm", "kerberos", "basic"] | None = Field(None, description="Authentication (ntlm).")
    scheme: Literal["https", "http"] | None = Field(None, description="https (default) or http.")
    ca_file: str | None = Field(None, description="CA certificate file to validate the host's certificate.")
    cert_validation: bool | None = Field(None, description="Set to false only for a lab: disables the "
                                         "certificate check (itref warns every time).")
    connect_timeout: float | None = Field(None, gt=0, description="Seconds to wait for the connection (10).")


class Defaults(Strict):
    """Settings shared by every host of a connection kind, and the default command timeout."""

    ssh: SSHSettings = Field(default_factory=SSHSettings, description="Defaults for SSH hosts.")
    winrm: WinRMSettings = Field(default_factory=WinRMSettings, description="Defaults for WinRM hosts.")
    timeout: float = Field(300, gt=0, description="Seconds a command may run before it is stopped.")
    forks: int = Field(50, ge=1, le=1000, description="How many hosts are worked on at once.")


SSH_ONLY = {"identity", "known_hosts", "sudo_password", "agent", "via"}
WINRM_ONLY = {"transport", "scheme", "ca_file", "cert_validation"}


class Host(Strict):
    """One machine. Connection fields left out come from `defaults.<connection>`."""

    address: str | None = Field(None, description="DNS name or IP address (the host's name if left out).")
    connection: Literal["ssh", "winrm", "local"] = Field("ssh", description="How itref reaches it.")
    description: str | None = Field(None, description="What the machine is for, in plain words.")
    tags: list[Name] = Field(default_factory=list, description="Labels for --limit tag:NAME and for audits.")
    port: int | None = Field(None, ge=1, le=65535, description="TCP port (22 for ssh, 5986/5985 for winrm).")
    user: str | None = Field(None, description="Login name (defaults.<connection>.user if left out).")
    password: SecretRef | None = Field(None, description="Password reference, when no key is used.")
    connect_timeout: float | None = Field(None, gt=0, description="Seconds to wait for the connection.")
    identity: str | None = Field(None, description="ssh: private key file.")
    known_hosts: str | None = Field(None, description="ssh: known_hosts file the host key is checked against.")
    sudo_password: SecretRef | None = Field(
        None, description="ssh/local: password for steps run with sudo (sudo reads it only if it asks; it never "
                          "reaches the command).")
    agent: bool | None = Field(None, description="ssh: also try keys from a running ssh-agent.")
    via: Name | None = Field(None, description="ssh: jump host (a host of the inventory).")
    transport: Literal["ntlm", "kerberos", "basic"] | None = Field(None, description="winrm: authentication.")
    scheme: Literal["https", "http"] | None = Field(None, description="winrm: https or http.")
    ca_file: str | None = Field(None, description="winrm: CA certificate that signed the host's certificate.")
    cert_validation: bool | None = Field(None, description="winrm: false disables the certificate check (lab only).")

    @model_validator(mode="after")
    def _fields_fit_connection(self) -> Host:
        given = {k for k in self.model_fields_set if getattr(self, k) is not None}
        wrong = given & (WINRM_ONLY if self.connection == "ssh" else
                         SSH_ONLY if self.connection == "winrm" else (SSH_ONLY - {"sudo_password"}) | WINRM_ONLY)
        if wrong:
            raise _fail("connection_field", fields=", ".join(sorted(wrong)), kind=self.connection)
        return self


class Contact(Strict):
    """Someone to call about an entity."""

    name: str = Field(description="Name or function, e.g. 'Directrice générale'.")
    role: str | None = Field(None, description="What to call them about.")
    email: str | None = None
    phone: str | None = None


class Entity(Strict):
    """The commune, the CPAS, an ASBL, or `shared` for common infrastructure."""

    title: str = Field(description="Full name, as people say it.")
    description: str | None = None
    ou: str | None = Field(None, description="Its Active Directory OU (distinguished name).")
    departed_ou: str | None = Field(None, description="OU where accounts of people who left are parked.")
    contacts: list[Contact] = Field(default_factory=list)
    hosts: dict[Name, Host] = Field(default_factory=dict, description="Its machines, by name.")


class Directory(Strict):
    """The Active Directory connection."""

    url: str = Field(description="ldaps://dc.example (or ldap:// with start_tls: true).")
    base_dn: str = Field(description="Domain root, e.g. DC=exemple,DC=example.")
    bind_user: str = Field(description="Service account (UPN, DOMAIN\\name or DN).")
    bind_password: SecretRef = Field(description="Its password, as a reference.")
    ca_file: str | None = Field(None, description="CA certificate that signed the DC's certificate.")
    tls_name: str | None = Field(None, description="Name in the DC's certificate, when it differs from the URL.")
    start_tls: bool = Field(False, description="Use StartTLS on port 389 instead of LDAPS.")
    timeout: float = Field(10, gt=0, description="Seconds to wait for the DC.")

    @field_validator("url")
    @classmethod
    def _ldap_url(cls, value: str) -> str:
        if not re.match(r"^ldaps?://[^/\s]+/?$", value):
            raise _fail("url", v=value)
        return value


class EmailSettings(Strict):
    """Where audit notifications are e-mailed (SMTP with STARTTLS)."""

    smtp: str = Field(description="SMTP server name.")
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = Field(True, description="Upgrade the connection with STARTTLS (refuse to send if it fails).")
    user: str | None = Field(None, description="Login, when the server asks for one.")
    password: SecretRef | None = Field(None, description="Its password, as a reference.")
    sender: str = Field(alias="from", description="Sender address.")
    to: list[str] = Field(min_length=1, description="Recipients.")
    ca_file: str | None = Field(None, description="CA that signed the server's certificate (system CAs otherwise).")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WebhookSettings(Strict):
    """A web address that receives a JSON message (ntfy, Teams, Slack or any generic receiver)."""

    url: str = Field(pattern=r"^https?://", description="Where to POST.")
    kind: Literal["generic", "ntfy", "slack", "teams"] = "generic"
    token: SecretRef | None = Field(None, description="Bearer token, when the receiver needs one.")


class Notifications(Strict):
    """Who is told when an unattended audit finds something new or worse."""

    email: EmailSettings | None = None
    webhook: WebhookSettings | None = None
    digest: Literal["none", "daily", "weekly"] = Field("none", description="Also send a summary of everything "
                                                       "still failing, once a day or once a week.")
    language: Literal["fr", "en"] | None = Field(None, description="Language of the messages (inventory's "
                                                 "language by default).")


class OperatorInfo(Strict):
    """A person who may act on the project; the journal and the handover pack name them."""

    name: str = Field(min_length=1, description="As records sign it: the person's ITREF_OPERATOR, git user.name "
                      "or login name, e.g. 'Jean Dupont'.")
    role: Literal["referent", "stand-in", "supplier"] = Field(description="The IT referent, a stand-in "
                                                                "colleague, or a supplier.")
    email: str | None = None
    phone: str | None = None


class Inventory(Strict):
    """`inventory.yaml`: the organisation, its entities and hosts, secrets and directory."""

    version: Literal[1] = Field(description="Format version; always 1 for now.")
    organisation: str = Field(description="Name shown on reports, e.g. \"Commune d'Exemple\".")
    language: Literal["fr", "en"] | None = Field(None, description="Language of reports and notifications.")
    state: str | None = Field(None, min_length=1, description="The project's state folder (journal, histories, "
                              "waivers, offboarded accounts, routine runs), relative to this file; `state` "
                              "beside it when left out. Keep it with the inventory (shared drive or git).")
    state_group: str | None = Field(None, min_length=1, description="Unix group whose members share the state "
                                    "folder (folders 2770, files 0660); without it, only its owner may use it.")
    operators: list[OperatorInfo] = Field(default_factory=list, description="Who acts on the project (the "
                                          "referent, stand-ins, suppliers), for the journal and the pack.")
    defaults: Defaults = Field(default_factory=Defaults)
    secrets: dict[Name, SecretRef] = Field(default_factory=dict, description="Named secret references.")
    directory: Directory | None = None
    notifications: Notifications | None = None
    entities: dict[Name, Entity] = Field(description="The entities sharing the IT service.")

    @field_validator("entities")
    @classmethod
    def _some_entity(cls, value: dict[str, Entity]) -> dict[str, Entity]:
        if not value:
            raise _fail("no_entities")
        return value


# --------------------------------------------------------------------------- playbooks

Duration = Annotated[str, Field(description="e.g. 30m, 26h, 90d")]


class RunStep(Strict):
    """Run a command on hosts."""

    command: list[str] | str = Field(description="Argument list (preferred), or one shell line with shell: true.")
    shell: bool = Field(False, description="Pass `command` to the host's shell as one line.")
    limit: str | None = Field(None, description="Which hosts (same syntax as --limit); the entity's hosts "
                              "by default.")
    timeout: float | None = Field(None, gt=0)
    sudo: bool = Field(False, description="Run through sudo (with the host's sudo_password).")


class ManualStep(Strict):
    """Something a person does and confirms."""

    instruction: str = Field(description="What to do, in plain words.")


class AdStep(Strict):
    """An `itref ad` action."""

    action: str = Field(description="e.g. user create, user offboard, group add.")
    params: dict[str, Any] = Field(default_factory=dict, description="Its parameters; {name} is replaced.")
    at: str | None = Field(None, description="Make the change at this date and time instead of now, e.g. "
                           "'{leave_date} 18:00' with an ask: answer of type date: the plan is shown and confirmed "
                           "at this step, and `itref schedule run` applies it then if the directory has not changed "
                           "meanwhile. A `user create` makes the account now, disabled, and enables it then.")


class BackupStep(Strict):
    """Check, verify or drill this entity's backups."""

    action: Literal["check", "verify", "drill"] = "check"
    names: list[str] | None = Field(None, description="Which backups (all of the entity's by default).")


class AuditStep(Strict):
    """Run audit checks."""

    checks: list[str] | None = Field(None, description="Check ids or globs (all by default).")
    limit: str | None = None


class CopyStep(Strict):
    """Put a file on hosts."""

    src: str
    dest: str
    limit: str | None = None
    mode: str | None = Field(None, pattern=r"^0?[0-7]{3,4}$")


STEP_KINDS = ("run", "manual", "include", "ad", "backup", "audit", "copy")


class Step(Strict):
    """One step of a routine: a description plus exactly one action."""

    description: str = Field(description="What this step does, for the person following it.")
    why: str | None = Field(None, description="Why it is done.")
    if_fails: str | None = Field(None, description="What to do if it fails.")
    when: str | None = Field(None, description="Only if an earlier step ended so, e.g. 'disk-check failed'.")
    on_failure: Literal["stop", "continue", "ask"] = "stop"
    id: Name | None = Field(None, description="Name used by later `when` conditions.")
    run: RunStep | None = None
    manual: ManualStep | str | None = None
    include: str | None = Field(None, description="Another routine: NAME or ENTITY/NAME.")
    ad: AdStep | None = None
    backup: BackupStep | None = None
    audit: AuditStep | None = None
    copy_: CopyStep | None = Field(None, alias="copy")

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
    """A value the routine asks for when it starts."""

    prompt: str = Field(description="The question.")
    type: Literal["text", "int", "bool", "date", "email", "choice"] = "text"
    choices: list[str] | None = None
    default: Any = None
    pattern: str | None = Field(None, description="Regular expression the answer must match.")
    secret: bool = Field(False, description="The answer is a secret (a password): typed without echo, masked "
                         "in every output, never saved with the routine's progress (asked again on resume).")


class Routine(Strict):
    """A named list of steps, e.g. onboard-employee."""

    description: str = Field(description="What the routine achieves.")
    why: str | None = None
    schedule: str | None = Field(None, description="Cron schedule for unattended runs ('0 7 * * 1', @daily).")
    vars: dict[str, Any] = Field(default_factory=dict)
    ask: dict[Name, Ask] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)

    _check_schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule(v))


class AccountTemplate(Strict):
    """How accounts of one role are made (OU, groups, naming, attributes)."""

    ou: str = Field(description="OU the account is created in.")
    groups: list[str] = Field(default_factory=list)
    username: str = Field("{first_initial}{last}", description="Login rule: {first}, {last}, {first_initial}.")
    upn_suffix: str | None = None
    mail: str | None = Field(None, description="Mail pattern, e.g. '{first}.{last}@exemple.example'.")
    attributes: dict[str, str] = Field(default_factory=dict)
    must_change_password: bool = False
    home_directory: str | None = None
    home_drive: str | None = Field(None, pattern=r"^[A-Za-z]:$")
    profile_path: str | None = None
    expires_after: str | None = Field(None, description="Temporary staff: account expires after e.g. 90d.")
    description: str | None = None

    _check_expiry = field_validator("expires_after", mode="before")(lambda cls, v: _duration(v))


class Accounts(Strict):
    """Account templates of the entity."""

    templates: dict[Name, AccountTemplate] = Field(default_factory=dict)


class Drill(Strict):
    """Restore drill settings."""

    files: list[str] = Field(default_factory=list, description="Files always restored.")
    random: int = Field(0, ge=0, description="How many random files to restore as well.")
    every: str = Field("90d", description="Warn when the last successful drill is older.")

    _check_every = field_validator("every", mode="before")(lambda cls, v: _duration(v))


class Backup(Strict):
    """One backup to check."""

    name: Name
    kind: Literal["restic", "borg", "files", "wbadmin", "veeam"]
    host: Name | None = Field(None, description="Where the check runs (this machine by default).")
    description: str | None = None
    repository: str | None = Field(None, description="restic/borg repository (path or URL).")
    password: SecretRef | None = None
    path: str | None = Field(None, description="files: directory where the dumps are dropped.")
    pattern: str | None = Field(None, description="files: file name pattern, e.g. '*.sql.gz'.")
    job: str | None = Field(None, description="veeam: job name (all jobs by default).")
    max_age: str | None = None
    min_size: str | None = None
    size_change: str | None = Field(None, pattern=r"^±?\+?\d+(\.\d+)?%$", description="e.g. ±30%.")
    expected_hostname: str | None = None
    expected_paths: list[str] = Field(default_factory=list)
    verify_schedule: str | None = Field(None, description="Cron schedule of `itref backup verify` for this backup.")
    read_data_subset: str = Field("5%", pattern=r"^(\d+(\.\d+)?%|\d+/\d+)$",
                                  description="restic: share of the data read back by verify (e.g. 5%, 1/10).")
    drill: Drill | None = None
    recheck_after: str = Field("24h", description="restic/borg on a path: how long the evidence of a repository "
                               "whose files have not changed is reused without opening it again (0s: open it on "
                               "every check).")

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
                     description="https://host[:port], ldaps://, smtp:// (STARTTLS), rdp:// or tls://host:port.")
    name: str | None = Field(None, description="How people call it, e.g. 'webmail'.")
    warn_days: int = Field(30, ge=0, description="Warn when the certificate expires within this many days.")
    critical_days: int = Field(7, ge=0, description="Critical when it expires within this many days.")


class PortCheck(Strict):
    """A TCP port that must answer."""

    host: str = Field(description="Name or address.")
    port: int = Field(ge=1, le=65535)
    name: str | None = None


ThresholdMap = dict[str, dict[str, Any]]


class Audits(Strict):
    """Audit settings of the entity: thresholds per entity, tag and host; network endpoints to watch."""

    schedule: str | None = Field(None, description="Cron schedule of the unattended audit of this entity.")
    skip: list[str] = Field(default_factory=list, description="Check ids or globs not run for this entity.")
    thresholds: ThresholdMap = Field(default_factory=dict, description="check id → settings, for the entity.")
    tags: dict[Name, ThresholdMap] = Field(default_factory=dict, description="tag → check id → settings.")
    hosts: dict[Name, ThresholdMap] = Field(default_factory=dict, description="host → check id → settings.")
    endpoints: list[Endpoint] = Field(default_factory=list, description="TLS certificates to watch.")
    ports: list[PortCheck] = Field(default_factory=list, description="TCP ports that must answer.")
    dns: list[str] = Field(default_factory=list, description="Names that must resolve.")

    _check_schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule(v))


class Handover(Strict):
    """What the referent wants a successor to know."""

    notes: list[str] = Field(default_factory=list, description="Free-text notes, one per item.")


class Playbook(Strict):
    """`playbooks/<entity>.yaml`: everything one entity needs."""

    entity: Name = Field(description="The entity (from the inventory) this playbook is for.")
    title: str | None = None
    contacts: list[Contact] = Field(default_factory=list, description="Extra contacts (suppliers, helpdesk).")
    routines: dict[Name, Routine] = Field(default_factory=dict)
    accounts: Accounts = Field(default_factory=Accounts)
    backups: list[Backup] = Field(default_factory=list)
    audits: Audits = Field(default_factory=Audits)
    handover: Handover = Field(default_factory=Handover)
