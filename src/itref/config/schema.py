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

from itref.config.units import parse_duration, parse_size
from itref.core.model import MESSAGES, NAME_PATTERN, Name, Strict, Text, fail
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
            shown = str(f.default).lower() if isinstance(f.default, bool) else f.default
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

    address: Text | None = Field(None, description="DNS name or IP address (the host's name if left out).",
                                 examples=["srv-fichiers.exemple.example"])
    description: Text | None = Field(None, description="What the machine is for, in plain words.",
                                     examples=["File server of the CPAS"])
    tags: list[Name] = Field(default_factory=list, description="Labels for --limit tag:NAME and for audits.",
                             examples=[["linux", "backup"]])


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
    **{kind: (model, Field(default_factory=model, description=f"Defaults for `connection: {kind}` hosts."))
       for kind, model in _DEFAULTS.items()},
    timeout=(float, Field(300, gt=0, description="Seconds a command may run before it is stopped.",
                          examples=[600])),
    forks=(int, Field(50, ge=1, le=1000, description="How many hosts are worked on at once.", examples=[20])),
)


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


def _backup_kinds() -> tuple[str, ...]:
    """Return the registered backup kinds (built-in and plugins), read from the registry without importing them."""
    from itref.registries import backup_kinds

    return tuple(backup_kinds.names())


_BACKUP_KINDS = _backup_kinds()
BackupKindName = Literal[_BACKUP_KINDS]  # type: ignore[valid-type]


class Backup(Strict):
    """One backup to check."""

    name: Name
    kind: BackupKindName = Field(description="What makes the backup: " + ", ".join(_BACKUP_KINDS) + " (the backup "
                                 "kinds registered, plugins included).")
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
