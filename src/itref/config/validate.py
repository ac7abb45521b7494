"""Turn schema validation errors into located, plain-language :class:`ConfigIssue` lines."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from itref.config.schema import MESSAGES
from itref.config.yamlfile import Document, Loc
from itref.core.errors import ConfigIssue
from itref.i18n import N_, _

_KIND_WORDS = {
    "str": N_("text"), "int": N_("a number"), "float": N_("a number"), "bool": N_("true/false"),
    "dict": N_("a mapping"), "list": N_("a list"), "NoneType": N_("nothing"), "date": N_("a date"),
    "datetime": N_("a date and time"),
}


def _kind(value: Any) -> str:
    return _(_KIND_WORDS.get(type(value).__name__, type(value).__name__))


def validate(model: type[BaseModel], doc: Document) -> tuple[BaseModel | None, list[ConfigIssue]]:
    """Validate ``doc.data`` against ``model``.

    Returns the model instance (None if invalid) and every problem found, each located in the file.
    """
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        issues: list[ConfigIssue] = []
        seen: set[tuple[int, int, str]] = set()
        errors = exc.errors(include_input=True, include_url=False)
        # an empty text where a union also allows a list or a mapping: "must not be empty" is the one to say
        for err in sorted(errors, key=lambda e: e["type"] != "string_too_short"):
            issue = _to_issue(model, doc, err)
            if (issue.line, issue.column, issue.where) not in seen:  # one line per place (unions repeat)
                seen.add((issue.line, issue.column, issue.where))
                issues.append(issue)
        return None, issues


def _is_tag(step: Any) -> bool:
    """Return True for a union member's tag in an error location (``<ssh>``: which kind of host was validated)."""
    return isinstance(step, str) and step.startswith("<") and step.endswith(">")


def _to_issue(model: type[BaseModel], doc: Document, err: Any) -> ConfigIssue:
    model_loc: Loc = tuple(err["loc"])
    loc: Loc = tuple(step for step in model_loc if not _is_tag(step))  # where it is in the file
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    key = loc[-1] if loc else ""
    if kind == "connection":  # a host whose connection names no connector
        given = value.get("connection") if isinstance(value, dict) else value
        return doc.issue((*loc, "connection"), _(MESSAGES["connection"]).format(value=given, kinds=ctx.get(
            "kinds", "")))
    if kind == "extra_forbidden":
        tag = model_loc[-2] if len(model_loc) >= 2 and _is_tag(model_loc[-2]) else None
        elsewhere = _kinds_having(model, model_loc[:-2], str(key)) if tag else []
        if elsewhere:  # a setting of another connection kind
            text = _("unknown key '{key}' for a '{kind}' host (it is a setting of {others} hosts)")
            return doc.issue(loc, text.format(key=key, kind=str(tag)[1:-1], others=", ".join(elsewhere)), at_key=True)
        message = _("unknown key '{key}'").format(key=key)
        allowed = fields_at(model, model_loc[:-1])
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        if close:
            message += " " + _("(did you mean '{hint}'?)").format(hint=close[0])
        elif allowed:
            message += " " + _("(expected one of: {keys})").format(keys=", ".join(allowed))
        return doc.issue(loc, message, at_key=True)
    if kind == "missing":
        return doc.issue(loc, _("required key '{key}' is missing").format(key=key), at_key=True)
    if kind == "string_too_short" and ctx.get("min_length") == 1:  # a Text: '' is not "left out"
        field = _field_at(model, model_loc[:-1] if model_loc[-1:] == ("constrained-str",) else model_loc)
        if field is not None and not field.is_required():
            return doc.issue(loc, _("must not be empty: write a value, or leave the key out"))
        return doc.issue(loc, _("must not be empty"))
    return doc.issue(loc, _message(kind, ctx, value, err.get("msg", "")), at_key=key == "[key]")


def _message(kind: str, ctx: dict[str, Any], value: Any, fallback: str) -> str:
    got = _kind(value)
    simple = {
        "string_type": _("expected text, found {got}"),
        "int_type": _("expected a whole number, found {got}"),
        "int_parsing": _("expected a whole number, found {got}"),
        "int_from_float": _("expected a whole number, found {got}"),
        "float_type": _("expected a number, found {got}"),
        "float_parsing": _("expected a number, found {got}"),
        "bool_type": _("expected true or false, found {got}"),
        "bool_parsing": _("expected true or false, found {got}"),
        "list_type": _("expected a list, found {got}"),
        "dict_type": _("expected a mapping (key: value lines), found {got}"),
        "model_type": _("expected a mapping (key: value lines), found {got}"),
        "model_attributes_type": _("expected a mapping (key: value lines), found {got}"),
        "date_type": _("expected a date (YYYY-MM-DD), found {got}"),
        "date_parsing": _("expected a date (YYYY-MM-DD), found {got}"),
        "date_from_datetime_parsing": _("expected a date (YYYY-MM-DD), found {got}"),
    }
    if kind in simple:
        return simple[kind].format(got=got)
    if kind == "literal_error":
        return _("'{value}' is not allowed here; expected {expected}").format(
            value=value, expected=ctx.get("expected", ""))
    if kind == "string_pattern_mismatch":
        if ctx.get("pattern", "").startswith("^[A-Za-z0-9][A-Za-z0-9_.-]"):
            return _("'{value}' is not a valid name: use letters, digits, '.', '_' and '-'").format(value=value)
        return _("'{value}' does not have the expected form ({pattern})").format(value=value, **ctx)
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {"greater_than": _("must be more than {gt}"), "greater_than_equal": _("must be at least {ge}"),
                 "less_than": _("must be less than {lt}"), "less_than_equal": _("must be at most {le}")}[kind]
        return bound.format(**ctx)
    if kind == "too_short":
        return _("needs at least {min_length} item(s)").format(**ctx)
    if kind == "string_too_long":
        return _("is too long (at most {max_length} characters)").format(**ctx)
    if ctx or kind in MESSAGES:
        # our own PydanticCustomError templates are message ids of the catalogue
        try:
            return _(MESSAGES.get(kind, fallback)).format(**ctx)
        except (KeyError, IndexError):
            return fallback
    return fallback


def _kinds_having(model: type[BaseModel], loc: Loc, key: str) -> list[str]:
    """Return the tags (without brackets) of the union members at ``loc`` whose model has the field ``key``."""
    current: Any = model
    for step in loc:
        current = _step_into(current, step)
        if current is None:
            return []
    while typing.get_origin(current) is typing.Annotated:
        current = typing.get_args(current)[0]
    found = []
    for member in typing.get_args(current) if typing.get_origin(current) in (typing.Union, types.UnionType) else ():
        tag = next((m.tag for m in getattr(member, "__metadata__", ()) if hasattr(m, "tag")), None)
        inner = _model_in(member)
        if tag and inner is not None and key in inner.model_fields:
            found.append(str(tag)[1:-1])
    return found


def _field_at(model: type[BaseModel], loc: Loc) -> Any:
    """Return the field (pydantic FieldInfo) a value at ``loc`` is the value of, or None for an item of a list or a
    mapping."""
    if not loc or not isinstance(loc[-1], str):
        return None
    current: Any = model
    for step in loc[:-1]:
        current = _step_into(current, step)
        if current is None:
            return None
    found = _model_in(current)
    if found is None:
        return None
    return next((f for name, f in found.model_fields.items() if loc[-1] in (name, f.alias)), None)


def fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Return the keys allowed at ``loc`` inside ``model`` (empty when ``loc`` is not a model)."""
    current: Any = model
    for step in loc:
        current = _step_into(current, step)
        if current is None:
            return []
    current = _model_in(current)
    if current is None:
        return []
    return [f.alias or name for name, f in current.model_fields.items()]


def _model_in(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    if typing.get_origin(tp) in (typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(tp):
            found = _model_in(arg)
            if found:
                return found
    return None


def _step_into(tp: Any, step: str | int) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        inner = typing.get_args(tp)[0]
        if _is_tag(step) and typing.get_origin(inner) in (typing.Union, types.UnionType):
            for member in typing.get_args(inner):  # Annotated[Model, Tag("<kind>")]: the member of that tag
                if any(getattr(meta, "tag", None) == step for meta in getattr(member, "__metadata__", ())):
                    return member
            return None
        return _step_into(inner, step)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            found = _step_into(arg, step)
            if found is not None:
                return found
        return None
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin is list:
        return typing.get_args(tp)[0] if isinstance(step, int) else None
    model = _model_in(tp)
    if model is None:
        return None
    for name, field in model.model_fields.items():
        if step in (name, field.alias):
            return field.annotation
    return None
