"""Audit notifications against real peers started by the test: an SMTP server (aiosmtpd) with STARTTLS
and AUTH, and HTTP receivers for the webhooks. The audited condition is a closed loopback port
(``audits.ports`` → a CRITICAL ``network.port`` finding) that the tests open and close at will."""

from __future__ import annotations

import email
import email.header
import email.policy
import json
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from itref.core.status import ExitStatus
from tests.conftest import journal_records, journal_text

pytestmark = pytest.mark.peer

ORG = "Commune d'Écaussinnes"
PASSWORD = "Pässwörd-de-test-2026"  # non-ASCII on purpose: sent as AUTH PLAIN in UTF-8
PASSWORD_VAR = "ITREF_TEST_SMTP_PASSWORD"
TOKEN = "tok-3b1f9d2c7a"
TOKEN_VAR = "ITREF_TEST_WEBHOOK_TOKEN"
SENDER = "itref@exemple.example"
RECIPIENTS = ["referent@exemple.example", "dg@exemple.example"]


# ------------------------------------------------------------------ peers


def free_port() -> int:
    """Return a loopback port on which nothing listens (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class TLSFiles:
    ca: Path
    cert: Path
    """Certificate and key together, for localhost and 127.0.0.1."""
    other_cert: Path
    """Signed by the same CA for another name (mail.exemple.example): the name check must refuse it."""


def _make_tls(folder: Path) -> TLSFiles:
    from itref.lab.tls import issue, make_ca

    ca, _key = make_ca(folder, stem="ca", common_name="itref test CA", days=2)
    return TLSFiles(ca, issue(folder, "server", ["localhost", "127.0.0.1"], 2, ca="ca", common_name="smtp test"),
                    issue(folder, "other", ["mail.exemple.example"], 2, ca="ca", common_name="smtp test"))


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return _make_tls(tmp_path_factory.mktemp("smtp-tls"))


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool
    authenticated: bool

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.raw, policy=email.policy.default)  # type: ignore[return-value]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None and part.get_content_charset() == "utf-8"
        return part.get_content()


@dataclass
class SMTPPeer:
    """A real SMTP server on 127.0.0.1 (aiosmtpd): STARTTLS and AUTH as asked; records every mail and login."""

    port: int
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                      session.ssl is not None, bool(session.authenticated)))
        return "250 Message accepted for delivery"

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> Any:
        from aiosmtpd.smtp import AuthResult, LoginPassword

        assert isinstance(auth_data, LoginPassword)
        self.logins.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == b"itref" and auth_data.password == PASSWORD.encode("utf-8")
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tls: TLSFiles) -> Iterator[Any]:
    """Start SMTP servers: ``smtp_server()`` (STARTTLS required, AUTH required), ``starttls=False`` (no
    STARTTLS, and AUTH accepted in clear), ``cert=`` another certificate. Stopped after the test."""
    from aiosmtpd.controller import Controller

    controllers: list[Any] = []

    def start(*, starttls: bool = True, cert: Path | None = None) -> SMTPPeer:
        peer = SMTPPeer(free_port())
        options: dict[str, Any] = {}
        if starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert or tls.cert)  # certificate and key in one file
            options.update(tls_context=context, require_starttls=True)
        else:
            options.update(auth_require_tls=False)
        controller = Controller(peer, hostname="127.0.0.1", port=peer.port, authenticator=peer, auth_required=True,
                                ready_timeout=10, **options)
        controller.start()
        controllers.append(controller)
        return peer

    yield start
    for controller in controllers:
        controller.stop()


@dataclass
class Hit:
    path: str
    headers: Any
    body: bytes


class Receiver:
    """A webhook receiver on 127.0.0.1 (http.server in a thread) that records every POST."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.hits: list[Hit] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.hits.append(Hit(self.path, self.headers, body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Any]:
    made: list[Receiver] = []

    def start(status: int = 200) -> Receiver:
        made.append(Receiver(status))
        return made[-1]

    yield start
    for r in made:
        r.close()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_VAR, PASSWORD)
    monkeypatch.setenv(TOKEN_VAR, TOKEN)
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "ITREF_LANG"):
        monkeypatch.delenv(var, raising=False)


# ------------------------------------------------------------------ the project and the audit


PORT_NAMES = ["Serveur de fichiers de l'Hôtel de ville", "Téléphonie (IPBX) du CPAS"]


def write_project(folder: Path, ports: list[int], notifications: dict[str, Any], **top: Any) -> Path:
    """Write an inventory (one local host) and a playbook whose audits.ports are ``ports``."""
    inventory = {"version": 1, "organisation": ORG, **top, "notifications": notifications,
                 "entities": {"commune": {"title": "Administration communale",
                                          "hosts": {"here": {"connection": "local"}}}}}
    playbook = {"entity": "commune", "audits": {"ports": [
        {"host": "127.0.0.1", "port": port, "name": PORT_NAMES[i]} for i, port in enumerate(ports)]}}
    (folder / "playbooks").mkdir(exist_ok=True)
    (folder / "playbooks" / "commune.yaml").write_text(json.dumps(playbook, ensure_ascii=False), encoding="utf-8")
    path = folder / "inventory.yaml"
    path.write_text(json.dumps(inventory, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def mail_settings(port: int, tls: TLSFiles, **over: Any) -> dict[str, Any]:
    return {"smtp": "127.0.0.1", "port": port, "user": "itref", "password": {"env": PASSWORD_VAR},
            "from": SENDER, "to": RECIPIENTS, "ca_file": str(tls.ca), **over}


def audit(cli: Any, inventory: Path, *extra: str) -> Any:
    return cli("-i", str(inventory), "audit", "--checks", "network.port", *extra)


def journal(state_dir: Path) -> list[dict[str, Any]]:
    return journal_records(state_dir)


# ------------------------------------------------------------------ e-mail


def test_one_mail_per_new_problem_over_starttls_with_login(cli, tmp_path, smtp_server, tls, state_dir) -> None:
    peer = smtp_server()
    closed = [free_port()]
    inventory = write_project(tmp_path, closed, {"email": mail_settings(peer.port, tls)})

    first = audit(cli, inventory)
    assert first.rc == ExitStatus.CHECK_CRITICAL, first.all
    assert "Notification not sent" not in first.err
    assert len(peer.messages) == 1
    mail = peer.messages[0]
    assert mail.tls and mail.authenticated
    assert peer.logins == [("PLAIN", b"itref", PASSWORD.encode("utf-8"))]
    assert mail.mail_from == SENDER and mail.rcpt_tos == RECIPIENTS
    assert mail.subject == f"[itref] {ORG}: 1 new problem (1 critical)"
    assert mail.message["To"] == ", ".join(RECIPIENTS)
    assert mail.message["Auto-Submitted"] == "auto-generated"
    body = mail.body
    assert f"{ORG}: audit of" in body
    assert "New problems (1):" in body
    assert f"[CRITICAL] {PORT_NAMES[0]} does not answer" in body
    assert "Entity: Administration communale" in body
    assert f"About: 127.0.0.1:{closed[0]}" in body
    assert "Why it matters: A service that does not answer is down for its users." in body
    assert "What to do: Check that the server is on" in body
    assert "itref audit explain network.port" in body
    assert f"itref -i {inventory.resolve()} audit" in body

    second = audit(cli, inventory)  # nothing new, nothing worse: no mail
    assert second.rc == ExitStatus.CHECK_CRITICAL
    assert len(peer.messages) == 1

    closed.append(free_port())  # a second service goes down: one more mail, about it only
    write_project(tmp_path, closed, {"email": mail_settings(peer.port, tls)})
    third = audit(cli, inventory)
    assert third.rc == ExitStatus.CHECK_CRITICAL
    assert len(peer.messages) == 2
    mail = peer.messages[1]
    assert mail.subject == f"[itref] {ORG}: 1 new problem (1 critical)"
    assert PORT_NAMES[1] in mail.body and PORT_NAMES[0] not in mail.body
    assert "1 problem is still failing (already reported)." in mail.body

    sends = [r for r in journal(state_dir) if r["action"] == "notify"]
    assert [(r["outcome"], r["target"]) for r in sends] == [("ok", "e-mail to " + ", ".join(RECIPIENTS))] * 2
    assert PASSWORD not in journal_text(state_dir)


def test_smtp_down_does_not_fail_the_audit(cli, tmp_path, tls, state_dir) -> None:
    port = free_port()  # nothing listens there
    inventory = write_project(tmp_path, [free_port()], {"email": mail_settings(port, tls)})
    result = audit(cli, inventory)
    assert result.rc == ExitStatus.CHECK_CRITICAL  # the audit's own status, as without notifications
    assert f"Notification not sent: e-mail to {RECIPIENTS[0]}" in result.err
    assert f"127.0.0.1:{port} refused the connection" in result.err
    assert "Traceback" not in result.all
    assert PASSWORD not in result.all
    assert "does not answer" in result.out  # the report is still printed
    (record,) = [r for r in journal(state_dir) if r["action"] == "notify"]
    assert record["outcome"] == "failed" and "refused the connection" in record["detail"]


def test_wrong_password_is_reported_without_the_password(cli, tmp_path, smtp_server, tls, monkeypatch) -> None:
    peer = smtp_server()
    monkeypatch.setenv(PASSWORD_VAR, "not-the-right-one-42")
    inventory = write_project(tmp_path, [free_port()], {"email": mail_settings(peer.port, tls)})
    result = audit(cli, inventory)
    assert result.rc == ExitStatus.CHECK_CRITICAL
    assert f"127.0.0.1:{peer.port} refused the login of itref (535" in result.err
    assert "not-the-right-one-42" not in result.all
    assert "Traceback" not in result.all
    assert peer.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_not_offered_sends_neither_password_nor_mail(cli, tmp_path, smtp_server, tls) -> None:
    peer = smtp_server(starttls=False)  # it would even take the password in clear
    inventory = write_project(tmp_path, [free_port()], {"email": mail_settings(peer.port, tls)})
    result = audit(cli, inventory)
    assert result.rc == ExitStatus.CHECK_CRITICAL
    assert f"the server 127.0.0.1:{peer.port} does not offer STARTTLS; nothing was sent" in result.err
    assert peer.logins == [] and peer.messages == []
    assert PASSWORD not in result.all


@pytest.mark.parametrize("case", ["unknown CA", "other name"])
def test_the_servers_certificate_and_name_are_checked(cli, tmp_path, smtp_server, tls, case) -> None:
    if case == "unknown CA":
        peer = smtp_server()
        settings = mail_settings(peer.port, tls, ca_file=None)  # system CAs do not know the test CA
    else:
        peer = smtp_server(cert=tls.other_cert)  # right CA, but made for mail.exemple.example
        settings = mail_settings(peer.port, tls)
    inventory = write_project(tmp_path, [free_port()], {"email": settings})
    result = audit(cli, inventory)
    assert result.rc == ExitStatus.CHECK_CRITICAL
    assert f"the certificate of 127.0.0.1:{peer.port} was not accepted" in result.err
    assert ("unable to get local issuer certificate" if case == "unknown CA" else "mismatch") in result.err
    assert peer.logins == [] and peer.messages == []


def test_daily_digest_lists_everything_still_failing_once_a_day(cli, tmp_path, smtp_server, tls,
                                                                state_dir, monkeypatch) -> None:
    from itref.audit import notify

    noon = datetime.now().astimezone().replace(hour=12, minute=0, second=0, microsecond=0)

    class Noon(datetime):  # every audit below runs "today at noon": a midnight between two cannot split them
        @classmethod
        def now(cls, tz=None):
            return noon if tz is None else noon.astimezone(tz)

    monkeypatch.setattr(notify, "datetime", Noon)
    peer = smtp_server()
    closed = [free_port()]
    inventory = write_project(tmp_path, closed, {"email": mail_settings(peer.port, tls), "digest": "daily"})
    assert audit(cli, inventory).rc == ExitStatus.CHECK_CRITICAL
    assert len(peer.messages) == 1  # one message: the digest, with the new problem in it
    assert peer.messages[0].subject == f"[itref] {ORG}: daily summary, 1 problem, 1 new or worse (1 critical)"
    assert "New problems (1):" in peer.messages[0].body

    assert audit(cli, inventory).rc == ExitStatus.CHECK_CRITICAL
    assert len(peer.messages) == 1  # nothing new, and today's digest went out already

    (stamp,) = Path(os.environ["ITREF_CACHE_DIR"]).glob("projects/*/notify-digest.json")  # this machine's business
    assert not list(state_dir.rglob("notify-digest.json"))
    data = json.loads(stamp.read_text(encoding="utf-8"))
    assert list(data) == [str(inventory.resolve())]
    yesterday = noon - timedelta(days=1)
    stamp.write_text(json.dumps({str(inventory.resolve()): yesterday.isoformat()}), encoding="utf-8")
    assert audit(cli, inventory).rc == ExitStatus.CHECK_CRITICAL
    assert len(peer.messages) == 2
    digest = peer.messages[1]
    assert digest.subject == f"[itref] {ORG}: daily summary, 1 problem (1 critical)"
    assert "Still failing (1):" in digest.body and f"[CRITICAL] {PORT_NAMES[0]} does not answer" in digest.body
    assert "New problems" not in digest.body


def test_weekly_digest_is_due_once_per_iso_week(monkeypatch, tmp_path) -> None:
    from itref.audit import notify

    key = "/srv/it/inventory.yaml"
    tz = datetime.now().astimezone().tzinfo
    monday = datetime(2026, 3, 2, 7, 0, tzinfo=tz)
    assert notify._digest_due("weekly", key, monday, tmp_path)
    notify._remember_digest(key, monday, tmp_path)
    assert not notify._digest_due("weekly", key, monday + timedelta(days=6, hours=16), tmp_path)
    assert notify._digest_due("weekly", key, monday + timedelta(days=7), tmp_path)
    assert notify._digest_due("daily", key, monday + timedelta(days=1), tmp_path)
    assert not notify._digest_due("none", key, monday + timedelta(days=30), tmp_path)


# ------------------------------------------------------------------ webhooks


def test_generic_webhook_receives_the_new_findings_as_json(cli, tmp_path, receiver, state_dir) -> None:
    hook = receiver()
    port = free_port()
    inventory = write_project(tmp_path, [port], {"webhook": {"url": hook.url("/itref/hook"),
                                                             "token": {"env": TOKEN_VAR}}})
    result = audit(cli, inventory, "--format", "json")
    assert result.rc == ExitStatus.CHECK_CRITICAL, result.all
    assert "Notification not sent" not in result.err
    (hit,) = hook.hits
    assert hit.path == "/itref/hook"
    assert hit.headers["Authorization"] == f"Bearer {TOKEN}"
    assert hit.headers["Content-Type"] == "application/json; charset=utf-8"
    payload = json.loads(hit.body.decode("utf-8"))
    assert payload["organisation"] == ORG
    assert payload["run_id"] == json.loads(result.out)["run_id"]
    assert payload["type"] == "changes" and payload["regressed"] == []
    (finding,) = payload["new"]
    assert finding["check"] == "network.port" and finding["severity"] == "critical"
    assert finding["entity"] == "commune" and finding["subject"] == f"127.0.0.1:{port}"
    assert finding["message"].startswith(PORT_NAMES[0])

    assert audit(cli, inventory).rc == ExitStatus.CHECK_CRITICAL
    assert len(hook.hits) == 1  # unchanged: nothing posted
    (record,) = [r for r in journal(state_dir) if r["action"] == "notify"]
    assert record["target"] == f"webhook (generic) http://127.0.0.1:{hook.server.server_address[1]}"
    assert TOKEN not in journal_text(state_dir)


def test_ntfy_webhook_gets_text_with_title_priority_and_tags(cli, tmp_path, receiver) -> None:
    hook = receiver()
    inventory = write_project(tmp_path, [free_port()], {"webhook": {"url": hook.url("/itref-alerts"),
                                                                    "kind": "ntfy"}})
    assert audit(cli, inventory).rc == ExitStatus.CHECK_CRITICAL
    (hit,) = hook.hits
    assert hit.path == "/itref-alerts"
    assert "Authorization" not in hit.headers
    title = str(email.header.make_header(email.header.decode_header(hit.headers["Title"])))
    assert title == f"[itref] {ORG}: 1 new problem (1 critical)"
    assert hit.headers["Priority"] == "urgent"
    assert hit.headers["Tags"] == "rotating_light,itref"
    assert hit.headers["Content-Type"] == "text/plain; charset=utf-8"
    text = hit.body.decode("utf-8")
    assert f"[CRITICAL] {PORT_NAMES[0]} does not answer" in text


def test_webhook_error_is_reported_and_the_audit_goes_on(cli, tmp_path, receiver) -> None:
    hook = receiver(status=500)
    inventory = write_project(tmp_path, [free_port()], {"webhook": {"url": hook.url("/secret-topic-name"),
                                                                    "kind": "ntfy"}})
    result = audit(cli, inventory)
    assert result.rc == ExitStatus.CHECK_CRITICAL
    where = f"http://127.0.0.1:{hook.server.server_address[1]}"
    assert f"Notification not sent: webhook (ntfy) {where}: {where} answered HTTP 500" in result.err
    assert "secret-topic-name" not in result.err  # a webhook's path is a capability: never printed
    assert "Traceback" not in result.all


def test_slack_and_teams_payloads() -> None:
    from itref.audit.notify import Message, webhook_request
    from itref.config.schema import WebhookSettings
    from itref.core.findings import Severity

    message = Message("changes", "[itref] Commune: 1 new problem", "line 1 <b>\nline 2\n", "Commune", "r1",
                      Severity.WARNING)
    body, headers = webhook_request(WebhookSettings(url="https://hooks.example/x", kind="slack"), message)
    assert json.loads(body) == {"text": "*[itref] Commune: 1 new problem*\n```\nline 1 <b>\nline 2\n```"}
    body, headers = webhook_request(WebhookSettings(url="https://hooks.example/x", kind="teams"), message)
    card = json.loads(body)
    assert card["@type"] == "MessageCard" and card["title"] == message.title and card["themeColor"] == "FFA500"
    assert card["text"] == "<pre>line 1 &lt;b&gt;\nline 2\n</pre>"
    assert headers["Content-Type"].startswith("application/json")


# ------------------------------------------------------------------ the API directly


def test_regressed_finding_in_the_inventory_language(tmp_path, smtp_server, tls, receiver, state_dir) -> None:
    """A finding that got worse is sent to every channel; the language switch does not leak."""
    import os

    from itref.audit.history import Diff, Past
    from itref.audit.notify import notify_changes
    from itref.config.project import load_project
    from itref.context import RunContext
    from itref.core.audits import AuditReport
    from itref.core.findings import Finding, Severity
    from itref.secrets import SecretResolver

    peer, hook = smtp_server(), receiver()
    inventory = write_project(tmp_path, [], {"email": mail_settings(peer.port, tls),
                                             "webhook": {"url": hook.url("/h")}}, language="fr")
    project = load_project(inventory)
    ctx = RunContext(project, SecretResolver(project.inventory.secrets, interactive=False))
    worse = Finding("linux.disk.free", Severity.CRITICAL, "/srv est plein à 97 %", why="Plus rien ne s'écrit.",
                    fix="Libérez de la place.", entity="commune", host="srv-fichiers", subject="/srv",
                    change="regressed")
    still = Finding("linux.updates", Severity.WARNING, "12 mises à jour en attente", entity="commune",
                    host="srv-fichiers", change="unchanged")
    report = AuditReport("run-2", ORG, datetime.now(UTC), 1.0, [worse, still], {"commune": "Administration communale"})
    gone = Past("x", "network.port", Severity.CRITICAL, "commune", None, "127.0.0.1:1", "down", False)

    assert notify_changes(ctx, report, Diff([], [], [still], [gone], "run-1")) == []  # nothing new or worse
    assert peer.messages == [] and hook.hits == []

    problems = notify_changes(ctx, report, Diff([], [worse], [still], [gone], "run-1"))
    assert problems == []
    assert "ITREF_LANG" not in os.environ  # set for the rendering only, then put back
    (mail,) = peer.messages
    assert mail.subject == f"[itref] {ORG}: 1 problème s'est aggravé (1 critique(s))"  # language: fr
    body = mail.body
    assert "Aggravés depuis le dernier audit (1) :" in body
    assert "[CRITIQUE] /srv est plein à 97 %" in body and "Machine : srv-fichiers" in body
    assert "Pourquoi c'est important : Plus rien ne s'écrit." in body and "Que faire : Libérez de la place." in body
    assert "12 mises à jour" not in body  # still failing: counted, not repeated
    assert "1 problème est toujours en échec (déjà signalé)." in body
    assert "1 problème a été résolu depuis le dernier audit." in body
    (hit,) = hook.hits
    payload = json.loads(hit.body)
    assert payload["new"] == [] and [f["host"] for f in payload["regressed"]] == ["srv-fichiers"]
    assert payload["regressed"][0]["change"] == "regressed"


def test_a_missing_secret_is_a_problem_not_an_exception(tmp_path, receiver, monkeypatch, state_dir) -> None:
    from itref.audit.history import Diff
    from itref.audit.notify import notify_changes
    from itref.config.project import load_project
    from itref.context import RunContext
    from itref.core.audits import AuditReport
    from itref.core.findings import Finding, Severity
    from itref.secrets import SecretResolver

    monkeypatch.delenv(TOKEN_VAR)
    hook = receiver()
    inventory = write_project(tmp_path, [], {"webhook": {"url": hook.url("/h"), "token": {"env": TOKEN_VAR}}})
    project = load_project(inventory)
    ctx = RunContext(project, SecretResolver(project.inventory.secrets, interactive=False))
    new = Finding("network.port", Severity.CRITICAL, "down", entity="commune")
    report = AuditReport("run-1", ORG, datetime.now(UTC), 1.0, [new], {})
    (problem,) = notify_changes(ctx, report, Diff([new], [], [], [], None))
    assert problem.startswith("webhook (generic) http://127.0.0.1:")
    assert f"environment variable {TOKEN_VAR} is not set" in problem
    assert hook.hits == []
