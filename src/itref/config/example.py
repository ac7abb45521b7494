"""``itref inventory example`` and ``itref playbook example``: a commented, valid example written from the schema.

Every key carries its field's example value (``examples=[...]`` in the schema), preceded by its description as a
``#`` comment (the first time that description appears in the file: the keys of a second host or step are not
explained again); nested models are indented below their key. The schema alone cannot say which named entries a
mapping holds (entities, hosts, secrets, routines, templates), which keys a model that takes one of several
shapes shows (a secret reference, a step), nor which values must agree with each other (a playbook's host is one
of the inventory's): :data:`ENTRIES` says it, in one place. The example inventory and the example playbook
validate together (``tests/config/test_example.py``).
"""

from __future__ import annotations

import textwrap
import types
import typing
from typing import Any

from pydantic import BaseModel

from itref.config.schema import DEFAULT_CONNECTION, Entity, HostBase, Inventory, Playbook


class _Auto:
    def __repr__(self) -> str:
        return "AUTO"


AUTO: Any = _Auto()
"""A key shown with its value built from the schema: the field's example, or the model's keys for a section."""


class Spec(dict[str, Any]):
    """Which keys an entry of a model shows: every key (but ``without``), or ``only`` the keys given; each with its
    value from the schema (:data:`AUTO`) unless the entry gives one. A plain dict is ``every(**values)``."""

    only: bool = False
    without: tuple[str, ...] = ()


def only(**values: Any) -> Spec:
    """Return an entry showing just these keys (in this order), each with its value or :data:`AUTO`."""
    spec = Spec(values)
    spec.only = True
    return spec


def every(*without: str, **values: Any) -> Spec:
    """Return an entry showing every key of its model but ``without``, with ``values`` over the examples."""
    spec = Spec(values)
    spec.without = without
    return spec


PARTIAL = ("SecretRef", "Step")
"""Models whose entries show only the keys given (a secret reference has one kind, a step one action)."""

ENTRIES: dict[tuple[str, str], Any] = {
    # ---------------------------------------------------------------- inventory.yaml
    ("Defaults", "ssh"): only(user=AUTO, identity=AUTO, known_hosts=AUTO),
    ("Defaults", "winrm"): only(user=AUTO, ca_file=AUTO),
    # one named secret of each kind; the names are those the examples of other fields use ({secret: NAME})
    ("Inventory", "secrets"): {
        "ad-bind": {"env": AUTO},
        "restic-nas": {"file": AUTO},
        "ssh-itref": {"keepass": {}},
        "winrm-itref": {"prompt": AUTO},
    },
    # two entities; one host per connection kind, plus the jump host the SSH example goes through (`via`)
    ("Inventory", "entities"): {
        "commune": {
            "title": "Administration communale d'Exemple",
            "description": "The town hall: population, civil status, public works, the college's secretariat",
            "ou": "OU=Commune,DC=exemple,DC=example",
            "departed_ou": "OU=Departs,OU=Commune,DC=exemple,DC=example",
            "hosts": {
                "admin-pc": only(connection="local", description="The IT referent's workstation, where itref runs",
                                 tags=["admin"], sudo_password=AUTO),
                "bastion": only(connection="ssh", address="bastion.exemple.example",
                                description="SSH jump host in front of the servers"),
            },
        },
        "cpas": only(title=AUTO, ou=AUTO, hosts={
            "srv-fichiers": {"connection": "ssh"},
            # the WinRM settings a production host keeps (ntlm over https, its certificate checked)
            "srv-veeam": {"connection": "winrm", "address": "srv-veeam.exemple.example",
                          "description": "Windows server running Veeam Backup", "tags": ["windows"],
                          "transport": "ntlm", "scheme": "https", "cert_validation": True},
        }),
    },
    # ---------------------------------------------------------------- playbooks/cpas.yaml
    ("Playbook", "contacts"): [
        {"name": "Helpdesk of the social software", "role": "Anything about the social software, before any update",
         "email": "support@editeur-social.example", "phone": "+32 4 000 00 01"},
    ],
    ("Playbook", "routines"): {
        "weekly-check": only(description="Monday morning: last night's backups and the disks", schedule=AUTO, steps=[
            {"description": "Did last night's backups run?", "backup": {}},
            {"description": AUTO, "id": AUTO, "why": AUTO, "if_fails": AUTO, "on_failure": AUTO, "audit": {}},
            {"description": "Show what fills the disks", "when": AUTO,
             "run": {"command": "du -xsh /srv/* | sort -h | tail -n 5", "shell": True}},
        ]),
        "onboard-employee": only(description=AUTO, why=AUTO, vars=AUTO, ask={
            "first": only(prompt=AUTO, type="text", pattern=AUTO, secret=False),
            "last": only(prompt="Last name of the new colleague", pattern=AUTO),
            "service": only(prompt="Which service?", type=AUTO, choices=AUTO, default=AUTO),
        }, steps=[
            {"description": "Create the account in the Active Directory", "id": "create-account",
             "ad": {"params": {"template": "social-worker", "first": "{first}", "last": "{last}",
                               "attributes": {"department": "{service}"}}}},
            {"description": "Create the new colleague's folder on the share",
             "run": only(command=["install", "-d", "-m", "0750", "{share}/{last}"], limit="srv-fichiers", sudo=True)},
            {"description": "Put the welcome letter on the file server", "copy": {}},
            {"description": "Hand over the badge and the keys", "manual": AUTO},
            {"description": "Give the new colleague the login", "manual": {}},
            {"description": "Check that the file server still has room", "include": AUTO},
        ]),
    },
    ("Accounts", "templates"): {
        "social-worker": every("expires_after"),
        "summer-job": only(ou="OU=Jobistes,OU=CPAS,DC=exemple,DC=example", groups=["GG-Tous"], expires_after=AUTO,
                           description="Étudiant jobiste"),
    },
    # one backup per shape: a repository (restic), dumps in a folder (files), a backup software's job (veeam)
    ("Playbook", "backups"): [
        every("path", "pattern", "job", drill={}),
        only(name="sql-dumps", kind="files", host="srv-fichiers",
             description="Nightly dumps of the social software's database", path=AUTO, pattern=AUTO, max_age=AUTO,
             min_size=AUTO),
        only(name="veeam-serveurs", kind="veeam", host="srv-veeam", job=AUTO, max_age="26h"),
    ],
}


# --------------------------------------------------------------------------- the types of the schema


def _strip(tp: Any) -> Any:
    """Return ``tp`` without ``Annotated`` and without ``None`` in a union."""
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0])
    return tp


def _members(tp: Any) -> list[type[BaseModel]]:
    """Return the models ``tp`` may be (one, or each model of a union)."""
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _members(a)]
    return []


def model_for(tp: Any, value: Any) -> type[BaseModel] | None:
    """Return the model of ``tp`` that a mapping ``value`` is written in (for hosts: the one of its
    ``connection``), or None when ``value`` is not a mapping of a model."""
    if not isinstance(value, dict):
        return None
    members = _members(tp)
    if len(members) > 1 and any("connection" in m.model_fields for m in members):
        kind = value.get("connection", DEFAULT_CONNECTION)
        members = [m for m in members if typing.get_args(m.model_fields["connection"].annotation) == (kind,)]
    return members[0] if members else None


def _container(tp: Any, origin: type) -> Any:
    """Return the item type when ``tp`` is a ``list`` (``origin=list``) or the value type of a ``dict``
    (``origin=dict``) of models, else None."""
    tp = _strip(tp)
    if typing.get_origin(tp) is not origin:
        return None
    inner = typing.get_args(tp)[-1]
    return inner if _members(inner) else None


def section_models(tp: Any) -> list[type[BaseModel]]:
    """Return the models a field of type ``tp`` holds (itself, or in a list or a mapping), empty for a value of
    another type. Such a field is a section: its models' keys carry the examples, the field itself needs none."""
    inner = _container(tp, list) or _container(tp, dict) or tp
    return _members(inner)


def _key(name: str, field: Any) -> str:
    return field.alias or name


def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Return the fields of ``model`` by YAML key, in the order the example writes them (a host: its connection
    and the fields every host has first)."""
    fields = {_key(n, f): f for n, f in model.model_fields.items()}
    if "connection" in fields:
        first = ["connection", *HostBase.model_fields]
        fields = {k: fields[k] for k in [*first, *(k for k in fields if k not in first)]}
    return fields


# --------------------------------------------------------------------------- building the example's data


class MissingExample(LookupError):
    """A field has no example and is not a section (raised while building an example)."""


def _build(tp: Any, given: Any, where: str) -> Any:
    """Return the example value of type ``tp``: ``given`` as it is, or built from the schema (:data:`AUTO`, or an
    entry of a model). Raises MissingExample when a field needed has no example."""
    model = model_for(tp, {} if given is AUTO else given)
    if model is not None and (given is AUTO or isinstance(given, dict)):
        return _build_model(model, {} if given is AUTO else given, where)
    for origin in (dict, list):
        inner = _container(tp, origin)
        if inner is None:
            continue
        if origin is dict and isinstance(given, dict):
            return {name: _build(inner, entry, f"{where}.{name}") for name, entry in given.items()}
        if origin is list and (given is AUTO or isinstance(given, list)):
            return [_build(inner, entry, f"{where}[{i}]") for i, entry in enumerate([AUTO] if given is AUTO
                                                                                       else given)]
    if given is AUTO:
        raise MissingExample(where)
    return given


def _build_model(model: type[BaseModel], given: dict[str, Any], where: str) -> dict[str, Any]:
    """Return the mapping of ``model``'s example: the keys ``given`` says (see :class:`Spec`), in order."""
    fields = _fields(model)
    unknown = [k for k in given if k not in fields]
    if unknown:
        raise KeyError(f"{where}: {model.__name__} has no key {unknown[0]!r}")
    if getattr(given, "only", False) or model.__name__ in PARTIAL:
        keys = [k for k in fields if k in given]
    else:
        keys = [k for k in fields if k not in getattr(given, "without", ())]
    data: dict[str, Any] = {}
    for key in keys:
        field = fields[key]
        here = f"{where}.{key}"
        value = given.get(key, AUTO)
        if value is AUTO and (model.__name__, key) in ENTRIES:
            value = ENTRIES[(model.__name__, key)]
        if value is AUTO and field.examples:
            data[key] = field.examples[0]
        elif value is AUTO and not field.is_required() and not section_models(field.annotation):
            continue  # a key without an example (tests/config/test_example.py fails on it) is left out, not a crash
        else:
            data[key] = _build(field.annotation, value, here)
    return data


# --------------------------------------------------------------------------- writing it as commented YAML

WIDTH = 100


def flow(value: Any) -> str:
    """Return ``value`` as YAML on one line (quoted where YAML needs it)."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, sort_keys=False, width=1 << 30)
    text = text.strip()
    return text[: -len("...")].rstrip() if text.endswith("\n...") else text


def _block(value: Any) -> str:
    """Return ``value`` as block YAML (one item or key per line)."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=False, allow_unicode=True, sort_keys=False, width=WIDTH)


def _comment(text: str | None, indent: int, out: list[str], said: set[str]) -> None:
    """Append ``text`` as ``#`` lines at ``indent``, unless it was already said in this file."""
    if not text or text in said:
        return
    said.add(text)
    pad = " " * indent
    out += [f"{pad}# {line}" for line in textwrap.wrap(" ".join(text.split()), max(40, WIDTH - indent - 2),
                                                        break_long_words=False, break_on_hyphens=False)]


def _write_model(data: dict[str, Any], model: type[BaseModel], indent: int, out: list[str], said: set[str],
                 gap: bool = False) -> None:
    """Append the keys of ``data`` (a mapping of ``model``), each after its description."""
    fields = _fields(model)
    for i, (key, value) in enumerate(data.items()):
        if gap and i:
            out.append("")
        field = fields[key]
        _comment(field.description, indent, out, said)
        _write_value(key, value, field.annotation, indent, out, said)


def _write_value(key: str, value: Any, tp: Any, indent: int, out: list[str], said: set[str]) -> None:
    pad = " " * indent
    model = model_for(tp, value)
    entries = _container(tp, dict)
    items = _container(tp, list)
    if model is not None and value:
        out.append(f"{pad}{key}:")
        _write_model(value, model, indent + 2, out, said)
    elif entries is not None and isinstance(value, dict) and value:
        out.append(f"{pad}{key}:")
        for name, entry in value.items():
            out.append(f"{pad}  {flow(name)}:")
            entry_model = model_for(entries, entry)
            assert entry_model is not None, f"{key}.{name} is not a mapping"
            _write_model(entry, entry_model, indent + 4, out, said)
    elif items is not None and isinstance(value, list) and value:
        out.append(f"{pad}{key}:")
        for item in value:
            lines: list[str] = []
            item_model = model_for(items, item)
            assert item_model is not None, f"an item of {key} is not a mapping"
            _write_model(item, item_model, indent + 4, lines, said)
            first = next(i for i, line in enumerate(lines) if not line.lstrip().startswith("#"))
            # the item's dash goes before its first key; the comments above that key move left with it
            out += [f"{pad}  {line.lstrip()}" for line in lines[:first]]
            out.append(f"{pad}  - {lines[first].lstrip()}")
            out += lines[first + 1:]
    elif isinstance(value, dict | list) and value and len(f"{pad}{key}: {flow(value)}") > WIDTH:
        out.append(f"{pad}{key}:")  # too long for one line: a block below the key
        out += [f"{pad}  {line}" for line in _block(value).splitlines()]
    else:
        out.append(f"{pad}{key}: {flow(value)}")


def render(model: type[BaseModel], data: dict[str, Any], command: str) -> str:
    """Return ``data`` (an example of ``model``) as commented YAML, with a header naming ``command``."""
    out: list[str] = []
    said: set[str] = set()
    _comment(model.__doc__, 0, out, said)
    _comment(f"Written by `{command}` from itref's schema: every key it knows, with what it means and an "
             "example value. Keep the keys you need: most may be left out, and the reference (docs/reference/) "
             "marks those that are required.", 0, out, said)
    out.append("")
    _write_model(data, model, 0, out, said, gap=True)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------- the two examples


def inventory_data() -> dict[str, Any]:
    """Return the example inventory as data: every key of the schema, the hosts one per connection kind."""
    from itref.registries import connectors

    data = _build_model(Inventory, {}, "inventory")
    entities = data["entities"]
    shown = {host.get("connection", DEFAULT_CONNECTION) for e in entities.values() for host in e["hosts"].values()}
    for kind in connectors.names():  # a connection kind added by a plugin gets a host of its own
        if kind not in shown:
            first = next(iter(entities.values()))
            first["hosts"][f"{kind}-example"] = _build(_entity_hosts(), {"connection": kind}, f"hosts.{kind}")
    return data


def _entity_hosts() -> Any:
    return _container(Entity.model_fields["hosts"].annotation, dict)


def playbook_data() -> dict[str, Any]:
    """Return the example playbook (of the entity the inventory example's playbook is for) as data."""
    return _build_model(Playbook, {}, "playbook")


def inventory_example() -> str:
    """Return the commented example of ``inventory.yaml`` (valid, with the example playbook beside it)."""
    return render(Inventory, inventory_data(), "itref inventory example")


def playbook_example() -> str:
    """Return the commented example of ``playbooks/<entity>.yaml`` for the example inventory's entity."""
    return render(Playbook, playbook_data(), "itref playbook example")
