"""Tell people when an unattended audit finds something new or worse.

Channels come from the inventory's ``notifications`` section: e-mail (SMTP, STARTTLS by default,
credentials never sent unencrypted) and one webhook (generic JSON, ntfy, Slack or Teams). With
``digest: daily|weekly`` a summary of everything still failing is also sent once a day or a week,
even when nothing is new (the time of the last digest is kept in the state folder).

Nothing here raises because a message could not be delivered: the audit must not fail because
the mail server is down. :func:`notify_changes` returns the problems as sentences (secret values
masked) for the CLI to print, and journals every send (action ``notify``).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from itref.audit.history import Diff
from itref.core.audits import AuditReport
from itref.core.errors import ItrefError
from itref.core.findings import Finding, Severity
from itref.i18n import _, ngettext
from itref.journal import JournalRecord
from itref.secrets import mask

if TYPE_CHECKING:
    from itref.config.schema import EmailSettings, Notifications, WebhookSettings
    from itref.context import RunContext

TIMEOUT = 10.0
"""Seconds to wait for the SMTP server or the webhook receiver."""
DIGEST_FILE = "notify-digest.json"
"""File of the state folder remembering when the last digest was sent, per inventory."""
SMTPS_PORT = 465
"""Port on which SMTP is spoken inside TLS from the start (no STARTTLS)."""


class NotifyError(Exception):
    """A message could not be delivered; the text is a translated sentence for people."""


@dataclass
class Message:
    """One notification, rendered once and sent to every channel."""

    kind: str
    """``changes`` (new or worse findings) or ``digest`` (the daily/weekly summary)."""
    title: str
    body: str
    organisation: str
    run_id: str
    worst: Severity
    new: list[Finding] = field(default_factory=list)
    regressed: list[Finding] = field(default_factory=list)
    still: list[Finding] = field(default_factory=list)
    resolved: int = 0


# --------------------------------------------------------------------------- entry point


def notify_changes(ctx: RunContext, report: AuditReport, diff: Diff, *, now: datetime | None = None) -> list[str]:
    """Send the notifications this audit calls for; return what could not be sent, as sentences.

    Only new or worse findings (``diff.new`` + ``diff.regressed``) cause a message; when a digest is
    due (``digest: daily|weekly``) the message also lists everything still failing and is sent even
    when nothing is new. Never raises: every problem comes back in the list, secret values masked.
    """
    settings = ctx.project.inventory.notifications
    if settings is None or (settings.email is None and settings.webhook is None):
        return []
    problems: list[str] = []
    try:
        now = now or datetime.now().astimezone()
        key = str(ctx.project.inventory_path.resolve())
        folder = ctx.state.cache_dir()  # when digests went out is this machine's business: its cron sends them
        due = _digest_due(settings.digest, key, now, folder)
        if not (diff.new or diff.regressed or due):
            return []
        with message_language(settings.language or ctx.project.inventory.language):
            message = compose(report, diff, digest=settings.digest if due else None,
                              inventory=ctx.project.inventory_path)
        delivered = False
        for label, send in _channels(ctx, settings):
            problem = _deliver(ctx, label, send, message)
            if problem is None:
                delivered = True
            else:
                problems.append(problem)
        if due and delivered:
            try:
                _remember_digest(key, now, folder)
            except OSError as exc:
                problems.append(_("the time of this digest could not be saved in {path} ({reason}); the next "
                                  "audit will send it again").format(path=folder / DIGEST_FILE,
                                                                     reason=exc.strerror or exc))
    except Exception as exc:  # the audit must never fail because of a notification
        problems.append(_("notifications failed ({kind}: {detail})").format(kind=type(exc).__name__, detail=exc))
    return [mask(p) for p in problems]


def _channels(ctx: RunContext, settings: Notifications) -> Iterator[tuple[str, Callable[[Message], None]]]:
    """Yield (label for people, send function) for each configured channel."""
    if settings.email is not None:
        email = settings.email
        yield (_("e-mail to {to}").format(to=", ".join(email.to)),
               lambda message: send_email(ctx, email, message))
    if settings.webhook is not None:
        hook = settings.webhook
        yield (_("webhook ({kind}) {where}").format(kind=hook.kind, where=_where(hook.url)),
               lambda message: send_webhook(ctx, hook, message))


def _deliver(ctx: RunContext, label: str, send: Callable[[Message], None], message: Message) -> str | None:
    """Send ``message`` through one channel and journal it; return the problem, or None when it went out."""
    clock = time.monotonic()
    problem: str | None = None
    try:
        send(message)
    except NotifyError as exc:
        problem = str(exc)
    except ItrefError as exc:  # a secret that cannot be resolved, mostly
        problem = exc.message
    except Exception as exc:
        problem = _("unexpected error ({kind}: {detail})").format(kind=type(exc).__name__, detail=exc)
    if problem is not None:
        problem = mask(f"{label}: {problem}")
    try:
        ctx.journal.append(JournalRecord(
            action="notify", target=label, outcome="failed" if problem else "ok",
            duration=round(time.monotonic() - clock, 3), run_id=ctx.run_id,
            detail=problem or f"{message.kind}: {message.title}"))
    except OSError as exc:
        extra = _("the journal could not be written ({reason})").format(reason=exc.strerror or exc)
        problem = f"{problem}; {extra}" if problem else f"{label}: {extra}"
    return problem


def _where(url: str) -> str:
    """Return ``scheme://host[:port]`` of a URL: the path of a webhook (Slack, ntfy topic) is a secret."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


@contextmanager
def message_language(lang: str | None) -> Iterator[None]:
    """Render texts in ``lang`` inside the block, then go back to the process' language.

    ``itref.i18n.set_language`` switches the whole process through ``ITREF_LANG``; the variable is put
    back as it was afterwards. Texts made before (the findings' messages, why and fix, written by the
    checks) stay in the language of the audit: only the notification's own wording follows ``lang``.
    """
    if not lang:
        yield
        return
    from itref.i18n import set_language

    saved = os.environ.get("ITREF_LANG")
    set_language(lang)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("ITREF_LANG", None)
        else:
            os.environ["ITREF_LANG"] = saved
        set_language(None)


# --------------------------------------------------------------------------- digest bookkeeping


def _digest_due(digest: str, key: str, now: datetime, folder: Path) -> bool:
    """Return True when a digest is configured and none was sent yet this day (daily) or ISO week (weekly)."""
    if digest == "none":
        return False
    last = _last_digest(key, folder)
    if last is None:
        return True
    last = last.astimezone(now.tzinfo)
    if digest == "daily":
        return last.date() != now.date()
    return last.isocalendar()[:2] != now.isocalendar()[:2]


def _last_digest(key: str, folder: Path) -> datetime | None:
    path = folder / DIGEST_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return datetime.fromisoformat(data[key])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remember_digest(key: str, now: datetime, folder: Path) -> None:
    """Record in ``folder`` that the digest of inventory ``key`` went out at ``now`` (locked read-modify-write)."""
    path = folder / DIGEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with (path.parent / (DIGEST_FILE + ".lock")).open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[key] = now.isoformat(timespec="seconds")
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)


# --------------------------------------------------------------------------- rendering


def _order(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (-f.effective.rank, f.entity or "", f.host or "", f.check, f.subject or ""))


def _severity_word(severity: Severity) -> str:
    from itref.core.findings import severity_label

    return severity_label(severity)


def _finding_text(f: Finding, entities: dict[str, str]) -> str:
    """Return one finding as a few plain-text lines: severity and message, entity, host, why, what to do."""
    entity = entities.get(f.entity or "", f.entity or "")
    lines = [f"[{_severity_word(f.severity)}] {f.message}"]
    if entity:
        lines.append("    " + _("Entity: {entity}").format(entity=entity))
    if f.host:
        lines.append("    " + _("Host: {host}").format(host=f.host))
    elif f.subject:
        lines.append("    " + _("About: {subject}").format(subject=f.subject))
    if f.why:
        lines.append("    " + _("Why it matters: ") + f.why)
    if f.fix:
        lines.append("    " + _("What to do: ") + f.fix)
    lines.append("    " + _("Details: itref audit explain {id}").format(id=f.check))
    return "\n".join(lines)


def _critical_suffix(findings: list[Finding]) -> str:
    n = sum(1 for f in findings if f.effective is Severity.CRITICAL)
    return " " + _("({n} critical)").format(n=n) if n else ""


def compose(report: AuditReport, diff: Diff, *, digest: str | None = None, inventory: Path | None = None) -> Message:
    """Return the message for this audit: the new and worse findings, plus everything still failing
    when ``digest`` (``daily`` or ``weekly``) is given. Texts go through ``_()``."""
    new, regressed, still = _order(diff.new), _order(diff.regressed), _order(diff.still)
    worse = new + regressed
    org = report.organisation
    if digest:
        failing = worse + still
        summary = (ngettext("{n} problem", "{n} problems", len(failing)).format(n=len(failing)) if failing
                   else _("nothing failing"))
        if worse:
            summary += ", " + ngettext("{n} new or worse", "{n} new or worse", len(worse)).format(n=len(worse))
        period = _("daily summary") if digest == "daily" else _("weekly summary")
        title = f"[itref] {org}: {period}, {summary}{_critical_suffix(failing)}"
    else:
        parts = []
        if new:
            parts.append(ngettext("{n} new problem", "{n} new problems", len(new)).format(n=len(new)))
        if regressed:
            parts.append(ngettext("{n} problem got worse", "{n} problems got worse", len(regressed)).format(
                n=len(regressed)))
        title = f"[itref] {org}: {', '.join(parts)}{_critical_suffix(worse)}"

    lines = [_("{org}: audit of {date} (run {run})").format(
        org=org, date=report.started.astimezone().strftime("%d/%m/%Y %H:%M"), run=report.run_id), ""]
    sections = [(_("New problems ({n}):"), new), (_("Worse since the last audit ({n}):"), regressed)]
    if digest:
        sections.append((_("Still failing ({n}):"), still))
    for heading, items in sections:
        if not items:
            continue
        lines += [heading.format(n=len(items)), ""]
        for f in items:
            lines += [_finding_text(f, report.entities), ""]
    if digest and not (worse or still):
        lines += [_("Nothing is failing."), ""]
    if not digest and still:
        lines.append(ngettext("{n} problem is still failing (already reported).",
                              "{n} problems are still failing (already reported).", len(still)).format(n=len(still)))
    if diff.resolved:
        lines.append(ngettext("{n} problem was resolved since the last audit.",
                              "{n} problems were resolved since the last audit.", len(diff.resolved)).format(
            n=len(diff.resolved)))
    while lines and not lines[-1]:
        lines.pop()
    if inventory is not None:
        lines += ["", _("Full report: itref -i {inventory} audit").format(inventory=inventory.resolve())]
    lines += ["", "-- ", _("itref on {machine}").format(machine=socket.gethostname())]
    worst = max((f.effective for f in (worse + still if digest else worse)), key=lambda s: s.rank,
                default=Severity.OK)
    return Message("digest" if digest else "changes", title, "\n".join(lines).rstrip("\n") + "\n", org,
                   report.run_id, worst, new, regressed, still if digest else [], len(diff.resolved))


# --------------------------------------------------------------------------- e-mail


def _secret(ctx: RunContext, ref: Any, purpose: str) -> str:
    return ctx.secrets.resolve(ref, purpose).reveal()


def email_message(cfg: EmailSettings, message: Message) -> Any:
    """Return the e-mail (an ``email.message.EmailMessage``, plain text in UTF-8) for ``message``."""
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["Subject"] = message.title
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.to)
    msg["Date"] = formatdate(localtime=True)
    domain = cfg.sender.rpartition("@")[2].strip("> ") or "itref.invalid"
    msg["Message-ID"] = make_msgid("itref", domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Itref-Run"] = message.run_id
    msg.set_content(message.body, charset="utf-8")
    return msg


def send_email(ctx: RunContext, cfg: EmailSettings, message: Message) -> None:
    """Send ``message`` by SMTP. STARTTLS (unless ``starttls: false``; implicit TLS on port 465) with the
    server's certificate and name checked; login when ``user`` is set, never over an unencrypted connection.

    Raises NotifyError (or SecretError) saying why nothing was sent.
    """
    import smtplib

    server = f"{cfg.smtp}:{cfg.port}"
    password = None
    if cfg.user:
        if cfg.password is None:
            raise NotifyError(_("email.user is set but email.password is not"))
        password = _secret(ctx, cfg.password, _("SMTP password of {user}").format(user=cfg.user))
    implicit = cfg.port == SMTPS_PORT
    tls: ssl.SSLContext | None = None
    if cfg.starttls or implicit:
        try:
            tls = ssl.create_default_context(cafile=str(Path(cfg.ca_file).expanduser()) if cfg.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise NotifyError(_("the CA file {path} cannot be used ({reason})").format(
                path=cfg.ca_file, reason=getattr(exc, "strerror", None) or exc)) from None
    msg = email_message(cfg, message)
    try:
        smtp = (smtplib.SMTP_SSL(cfg.smtp, cfg.port, timeout=TIMEOUT, context=tls) if implicit
                else smtplib.SMTP(cfg.smtp, cfg.port, timeout=TIMEOUT))
        with smtp:
            smtp.ehlo()
            encrypted = implicit
            if cfg.starttls and not implicit:
                if not smtp.has_extn("starttls"):
                    raise NotifyError(_("the server {server} does not offer STARTTLS; nothing was sent (neither "
                                        "the password nor the message)").format(server=server))
                smtp.starttls(context=tls)
                smtp.ehlo()
                encrypted = True
            if cfg.user:
                if not encrypted:
                    raise NotifyError(_("refusing to send the password of {user} over an unencrypted connection; "
                                        "set email.starttls: true").format(user=cfg.user))
                assert password is not None
                _login(smtp, cfg.user, password)
            refused = smtp.send_message(msg)
        if refused:
            raise NotifyError(_("{server} refused some recipients: {who}").format(
                server=server, who=", ".join(sorted(refused))))
    except NotifyError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise NotifyError(_("{server} refused the login of {user} ({code} {reason})").format(
            server=server, user=cfg.user, code=exc.smtp_code, reason=_smtp_text(exc.smtp_error))) from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise NotifyError(_("{server} refused every recipient: {who}").format(
            server=server, who=", ".join(sorted(exc.recipients)))) from None
    except smtplib.SMTPResponseException as exc:
        raise NotifyError(_("{server} answered {code} {reason}").format(
            server=server, code=exc.smtp_code, reason=_smtp_text(exc.smtp_error))) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise NotifyError(_network_reason(exc, server, _("set email.ca_file to the CA that signed its "
                                                         "certificate"))) from None


def _login(smtp: Any, user: str, password: str) -> None:
    """Log in; smtplib sends credentials as ASCII only, so others go as AUTH PLAIN in UTF-8 (RFC 4616)."""
    import base64
    import smtplib

    if user.isascii() and password.isascii():
        smtp.login(user, password)
        return
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise NotifyError(_("the login or the password has non-ASCII characters and the server does not offer "
                            "AUTH PLAIN, the only way to send them"))
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    code, answer = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def _smtp_text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)).strip()


def _network_reason(exc: BaseException, server: str, cert_hint: str) -> str:
    """Return a sentence for a network, TLS or protocol error talking to ``server``."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _("the certificate of {server} was not accepted ({reason}); {hint}").format(
            server=server, reason=exc.verify_message or exc.reason or exc, hint=cert_hint)
    if isinstance(exc, ssl.SSLError):
        return _("TLS with {server} failed ({reason})").format(server=server, reason=exc.reason or exc)
    if isinstance(exc, TimeoutError):
        return _("{server} did not answer within {n} s").format(server=server, n=int(TIMEOUT))
    if isinstance(exc, ConnectionRefusedError):
        return _("{server} refused the connection (is the server running?)").format(server=server)
    if isinstance(exc, socket.gaierror):
        return _("the name in {server} does not resolve ({reason})").format(server=server, reason=exc.strerror)
    if isinstance(exc, OSError) and exc.strerror:
        return _("cannot talk to {server} ({reason})").format(server=server, reason=exc.strerror)
    return _("cannot talk to {server} ({reason})").format(server=server, reason=str(exc) or type(exc).__name__)


# --------------------------------------------------------------------------- webhooks


def webhook_request(cfg: WebhookSettings, message: Message) -> tuple[bytes, dict[str, str]]:
    """Return the body and headers (without authentication) of the POST for ``message``."""
    if cfg.kind == "ntfy":
        import base64

        title = message.title
        if not title.isascii():  # one RFC 2047 encoded word, which ntfy decodes (HTTP headers are latin-1)
            title = "=?UTF-8?B?" + base64.b64encode(title.encode("utf-8")).decode("ascii") + "?="
        priority = {Severity.CRITICAL: "urgent", Severity.UNKNOWN: "high", Severity.WARNING: "high"}.get(
            message.worst, "default") if message.new or message.regressed else "default"  # a plain digest
        tags = {Severity.CRITICAL: "rotating_light", Severity.UNKNOWN: "question",
                Severity.WARNING: "warning"}.get(message.worst, "white_check_mark")
        return message.body.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8", "Title": title,
                                              "Priority": priority, "Tags": f"{tags},itref"}
    if cfg.kind == "slack":
        payload: dict[str, Any] = {"text": f"*{message.title}*\n```\n{message.body}```"}
    elif cfg.kind == "teams":
        color = {Severity.CRITICAL: "D70000", Severity.UNKNOWN: "8A2BE2", Severity.WARNING: "FFA500"}.get(
            message.worst, "2E8B57")
        payload = {"@type": "MessageCard", "@context": "https://schema.org/extensions", "summary": message.title,
                   "themeColor": color, "title": message.title,
                   "text": "<pre>" + _html(message.body) + "</pre>"}
    else:
        payload = {"organisation": message.organisation, "run_id": message.run_id, "type": message.kind,
                   "title": message.title, "worst": message.worst.value,
                   "new": [f.as_dict() for f in message.new],
                   "regressed": [f.as_dict() for f in message.regressed]}
        if message.kind == "digest":
            payload["still"] = [f.as_dict() for f in message.still]
        payload["resolved"] = message.resolved
        payload["text"] = message.body
    body = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    return body, {"Content-Type": "application/json; charset=utf-8"}


def _html(text: str) -> str:
    import html

    return html.escape(text, quote=False)


def send_webhook(ctx: RunContext, cfg: WebhookSettings, message: Message) -> None:
    """POST ``message`` to the webhook (timeout 10 s, bearer token when configured).

    Raises NotifyError (or SecretError) saying why it was not delivered.
    """
    import urllib.error
    import urllib.request

    body, headers = webhook_request(cfg, message)
    headers["User-Agent"] = "itref"
    if cfg.token is not None:
        headers["Authorization"] = "Bearer " + _secret(ctx, cfg.token, _("webhook token"))
    where = _where(cfg.url)
    request = urllib.request.Request(cfg.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            answer.read(65536)
    except urllib.error.HTTPError as exc:
        raise NotifyError(_("{server} answered HTTP {code} {reason}").format(
            server=where, code=exc.code, reason=exc.reason)) from None
    except urllib.error.URLError as exc:
        reason = exc.reason if isinstance(exc.reason, BaseException) else OSError(str(exc.reason))
        raise NotifyError(_network_reason(reason, where, _("install the CA that signed its certificate in the "
                                                           "system's CAs"))) from None
    except OSError as exc:
        raise NotifyError(_network_reason(exc, where, "")) from None
