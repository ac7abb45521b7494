"""The lab's ``inventory.yaml`` and ``playbooks/``, written from what the supervisor started.

The playbooks are the starter playbooks of itref (``playbooks/`` of a new project: onboarding, offboarding,
backup checks, restore drill, audits, workstations), adapted to the lab's domain and hosts, plus one routine per
practice scenario (see :mod:`itref.lab.scenarios`).  Both files are written anew at every ``itref lab up``:
addresses and ports change from one start to the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itref.lab.layout import LAB_USER, LabPaths
from itref.lab.peers.samba import ADMIN_USER, BASE_DN, DNS_DOMAIN
from itref.lab.world import DEPARTED_OU, ENTITIES, REPOS, WINDOWS_HOST, LabHost

WINRM_USER = "itref"
SECRETS = ("ad-admin", "winrm", *(r.name for r in REPOS))


@dataclass(frozen=True)
class Live:
    """Where the started lab answers: per Linux host (address, port); the WinRM and intranet ports; the DC."""

    hosts: dict[str, tuple[str, int]]
    host_specs: list[LabHost]
    winrm_address: str
    winrm_port: int
    intranet_address: str
    intranet_port: int
    dc_url: str
    dc_ca_file: str
    dc_tls_name: str


def write_secret(paths: LabPaths, name: str, value: str) -> Path:
    """Write one secret of the lab-only file store (mode 0600); return its path."""
    from itref.core.files import write_private

    paths.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = paths.secrets / name
    write_private(path, value + "\n")
    return path


def read_secret(paths: LabPaths, name: str) -> str:
    """Return one secret of the lab's file store. Raises OSError when it is missing."""
    return (paths.secrets / name).read_text(encoding="utf-8").rstrip("\n")


def inventory(paths: LabPaths, live: Live) -> dict[str, Any]:
    """Return the lab's inventory (as data) for the started lab ``live``."""
    entities: dict[str, dict[str, Any]] = {}
    for name, spec in ENTITIES.items():
        entity: dict[str, Any] = {"title": spec["title"]}
        if "ou" in spec:
            entity["ou"] = spec["ou"]
            entity["departed_ou"] = DEPARTED_OU
        entity["hosts"] = {}
        entities[name] = entity
    entities["shared"]["hosts"]["admin-workstation"] = {
        "connection": "local", "description": "Poste du référent (cette machine)", "tags": ["linux", "admin"]}
    for host in live.host_specs:
        address, port = live.hosts[host.name]
        entities[host.entity]["hosts"][host.name] = {
            "address": address, "port": port, "description": host.description, "tags": list(host.tags)}
    entities["commune"]["hosts"][WINDOWS_HOST] = {
        "connection": "winrm", "address": live.winrm_address, "port": live.winrm_port, "scheme": "https",
        "transport": "basic", "user": WINRM_USER, "password": {"secret": "winrm"},
        "ca_file": str(paths.certs / "lab-ca.pem"), "description": "Serveur de fichiers Windows (en français)",
        "tags": ["windows", "server"]}
    return {
        "version": 1,
        "organisation": "Commune de Lab-sur-Meuse (lab itref)",
        "language": "fr",
        "defaults": {"ssh": {"user": LAB_USER, "identity": str(paths.keys / "client_ed25519"),
                             "known_hosts": str(paths.known_hosts), "connect_timeout": 5},
                     "timeout": 120},
        "secrets": {name: {"file": str(paths.secrets / name)} for name in SECRETS},
        "directory": {"url": live.dc_url, "base_dn": BASE_DN, "bind_user": ADMIN_USER,
                      "bind_password": {"secret": "ad-admin"}, "ca_file": live.dc_ca_file,
                      "tls_name": live.dc_tls_name},
        "entities": entities,
    }


def _backups(paths: LabPaths, entity: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for repo in REPOS:
        if repo.entity != entity:
            continue
        item: dict[str, Any] = {"name": repo.name, "kind": repo.kind, "host": "nas01",
                                "repository": str(paths.repos / repo.name), "password": {"secret": repo.name},
                                "max_age": "26h", "size_change": "±50%"}
        if repo.name == "asbl-restic":  # a restore test is due every 90 days; that ASBL never made one
            item["drill"] = {"random": 3, "every": "90d"}
        out.append(item)
    return out


def _onboard(template: str, why: str, approval: str, *, backups_first: bool = False) -> dict[str, Any]:
    """Return the starter onboarding routine, adapted (the CPAS's checks its backups before any change)."""
    before: list[dict[str, Any]] = [
        {"description": "Vérifier les sauvegardes du CPAS avant de changer quoi que ce soit",
         "backup": {"action": "check"}, "on_failure": "continue"}] if backups_first else []
    return {
        "description": "Donner son compte à une nouvelle personne, le premier jour",
        "why": why,
        "ask": {"first": {"prompt": "Prénom"}, "last": {"prompt": "Nom"}},
        "steps": [
            {"description": "Vérifier que l'accès est approuvé", "manual": approval},
            *before,
            {"id": "account", "description": f"Créer le compte depuis le modèle {template}",
             "why": "Le modèle place le compte dans la bonne OU et les bons groupes.",
             "ad": {"action": "user create", "params": {"template": template, "first": "{first}",
                                                         "last": "{last}"}},
             "if_fails": "Si le nom est refusé, vérifiez l'orthographe ; si le DC ne répond pas, lancez "
                         "'itref lab status'."},
            {"description": "Remettre le premier mot de passe",
             "manual": "Remettez le mot de passe initial à {first} {last} en main propre, jamais par e-mail."},
        ],
    }


def _offboard(*, equipment: bool = False) -> dict[str, Any]:
    """Return the starter offboarding routine, adapted (the commune's also collects the equipment)."""
    after: list[dict[str, Any]] = [
        {"description": "Récupérer le matériel",
         "manual": "Récupérez le portable, le badge et les clés de {login} ; notez-les au registre."}] if equipment \
        else []
    return {
        "description": "Fermer le compte d'une personne qui part, de façon réversible",
        "why": "Un compte resté ouvert après un départ est une porte que personne ne surveille.",
        "ask": {"login": {"prompt": "Identifiant de la personne qui part"},
                "reason": {"prompt": "Motif (ex. fin de contrat)"}},
        "steps": [
            {"description": "Vérifier que le départ est confirmé",
             "manual": "Vérifiez la date de départ de {login} avec les ressources humaines."},
            {"description": "Désactiver le compte, retirer ses groupes, le ranger dans l'OU des départs",
             "ad": {"action": "user offboard", "params": {"login": "{login}", "reason": "{reason}"}}},
            *after,
        ],
    }


def _audit_routine(what: str, limit: str | None = None) -> dict[str, Any]:
    # The audit records what it finds: its problems are in the report, and the monthly audit is done all the same.
    step: dict[str, Any] = {"description": f"Auditer {what}", "audit": {}, "on_failure": "continue",
                            "if_fails": "Les problèmes trouvés sont dans le rapport : itref audit diff."}
    if limit:
        step["audit"] = {"limit": limit}
    return {"description": f"Audit mensuel de {what}", "schedule": "0 7 1 * *", "steps": [step]}


def playbooks(paths: LabPaths, live: Live) -> dict[str, dict[str, Any]]:
    """Return the lab's playbooks (entity → data): the starter routines adapted, plus the scenarios' fixes."""
    ou = {name: spec.get("ou") for name, spec in ENTITIES.items()}
    bin_dir = paths.bin
    commune = {
        "entity": "commune",
        "title": ENTITIES["commune"]["title"],
        "accounts": {"templates": {"clerk": {
            "ou": ou["commune"], "groups": ["GG-Commune", "GG-Tous"], "username": "{first}.{last}",
            "upn_suffix": DNS_DOMAIN, "mail": "{first}.{last}@" + DNS_DOMAIN, "attributes": {"company": "Commune"},
            "must_change_password": True}}},
        "routines": {
            "onboard-employee": _onboard("clerk", "Un nouvel agent a besoin d'un compte qui marche, dans les bons "
                                         "groupes, sans oubli ni accès en trop.",
                                         "Vérifiez que la demande d'accès signée de {first} {last} est au dossier RH."),
            "offboard-leaver": _offboard(equipment=True),
            "monthly-audit": _audit_routine("la commune", "entity:commune"),
            "printer-room-check": {"description": "Coup d'œil hebdomadaire au local imprimantes", "steps": [
                {"description": "Vérifier l'onduleur du local imprimantes",
                 "manual": "Vérifiez que l'écran de l'onduleur affiche OK, sans voyant d'alarme."}]},
            "unlock-account": {
                "description": "Déverrouiller un compte bloqué après trop de mots de passe erronés",
                "why": "Cinq essais ratés bloquent le compte trente minutes ; la personne attend au téléphone.",
                "ask": {"login": {"prompt": "Identifiant du compte bloqué", "default": "luc.lambert"}},
                "steps": [
                    {"description": "Vérifier que c'est bien la personne qui appelle",
                     "manual": "Rappelez {login} sur son numéro interne avant de débloquer quoi que ce soit."},
                    {"description": "Déverrouiller le compte", "ad": {"action": "user unlock",
                                                                      "params": {"login": "{login}"}}},
                    {"description": "Faire vérifier que la connexion marche",
                     "manual": "Demandez à {login} de se reconnecter maintenant, avec son mot de passe habituel."}]},
            "restart-service": {
                "description": "Relancer un service tombé sur l'intranet",
                "ask": {"unit": {"prompt": "Service à relancer", "default": "apache2.service"}},
                "steps": [
                    {"description": "Voir les services en échec", "run": {
                        "command": ["systemctl", "list-units", "--state=failed", "--no-legend", "--plain"],
                        "limit": "srv-web"}},
                    {"description": "Relancer le service", "run": {"command": ["systemctl", "restart", "{unit}"],
                                                                    "limit": "srv-web"},
                     "if_fails": "Lisez 'journalctl -u {unit}' sur srv-web et appelez le prestataire."},
                    {"description": "Vérifier qu'il ne reste aucun service en échec",
                     "audit": {"checks": ["linux.systemd.failed"], "limit": "srv-web"}}]},
            "renew-certificate": {
                "description": "Renouveler le certificat de l'intranet avant qu'il n'expire",
                "why": "Un certificat expiré fait refuser l'intranet par tous les navigateurs.",
                "steps": [
                    {"description": "Renouveler le certificat", "run": {"command": ["certbot", "renew"],
                                                                         "limit": "srv-web"}},
                    {"description": "Vérifier la date d'expiration",
                     "audit": {"checks": ["network.tls.expiry"]}}]},
        },
        "audits": {"endpoints": [{"url": f"https://{live.intranet_address}:{live.intranet_port}",
                                  "name": "intranet", "warn_days": 30, "critical_days": 14}],
                   "skip": ["linux.updates", "linux.load"],
                   "hosts": {"pc-accueil": {"linux.disk.free": {"warning": 85}}}},
        "backups": [*_backups(paths, "commune"),
                    {"name": "image-systeme", "kind": "wbadmin", "host": WINDOWS_HOST, "max_age": "26h"}],
        "handover": {"notes": ["Lab : rien ici n'est réel ; 'itref lab reset' remet tout en place."]},
    }
    cpas = {
        "entity": "cpas",
        "title": ENTITIES["cpas"]["title"],
        "accounts": {"templates": {"social-worker": {
            "ou": f"OU=Social,{ou['cpas']}", "groups": ["GG-CPAS-Social", "GG-Tous"],
            "username": "{first_initial}{last}",
            "upn_suffix": DNS_DOMAIN, "attributes": {"department": "Service social", "company": "CPAS"},
            "must_change_password": True}}},
        "routines": {
            "onboard-employee": _onboard("social-worker", "Les dossiers sociaux sont confidentiels : une nouvelle "
                                         "personne reçoit exactement les accès de son rôle.",
                                         "Vérifiez que le directeur général du CPAS a signé la demande d'accès de "
                                         "{first} {last}.", backups_first=True),
            "offboard-leaver": _offboard(),
            "weekly-backup-check": {"description": "Vérifier les sauvegardes du CPAS chaque lundi",
                                    "schedule": "0 8 * * 1", "steps": [
                                        {"description": "Vérifier chaque sauvegarde du CPAS",
                                         "backup": {"action": "check"},
                                         "if_fails": "Si la sauvegarde de la nuit manque, relancez-la "
                                                     "(routine cpas/run-backup-now)."}]},
            "quarterly-restore-drill": {"description": "Prouver chaque trimestre que les sauvegardes se restaurent",
                                        "schedule": "0 9 1 1,4,7,10 *", "steps": [
                                            {"description": "Restaurer quelques fichiers et les comparer",
                                             "backup": {"action": "drill"}}]},
            "confidentiality-reminder": {"description": "Rappel annuel des règles de confidentialité", "steps": [
                {"description": "Rappeler de verrouiller l'écran",
                 "manual": "Envoyez le rappel annuel sur le verrouillage d'écran et les données sociales."}]},
            "free-disk-space": {
                "description": "Libérer de la place sur le disque de données du serveur du CPAS",
                "why": "Un disque plein arrête la base sociale et ses sauvegardes.",
                "steps": [
                    {"description": "Voir ce qui prend la place", "run": {
                        "command": "du -xah /srv/data | sort -h | tail -n 8", "shell": True, "limit": "srv-app"}},
                    {"description": "Vérifier ce qui peut partir",
                     "manual": "Vérifiez avec le CPAS que les anciens exports (*.tar de plus d'un an) peuvent partir."},
                    {"description": "Supprimer les exports de plus d'un an", "run": {
                        "command": ["find", "/srv/data/exports", "-name", "*.tar", "-mtime", "+365", "-print",
                                    "-delete"], "limit": "srv-app"}},
                    {"description": "Vérifier la place libre",
                     "audit": {"checks": ["linux.disk.free"], "limit": "srv-app"}}]},
            "run-backup-now": {
                "description": "Relancer tout de suite la sauvegarde de nuit du CPAS",
                "steps": [
                    {"description": "Lancer la sauvegarde sur le NAS", "run": {
                        "command": [str(bin_dir / "lab-nightly-backup"), "cpas-restic"], "limit": "nas01"}},
                    {"description": "Vérifier les sauvegardes du CPAS", "backup": {"action": "check"}}]},
        },
        "backups": [*_backups(paths, "cpas"),
                    {"name": "sql-dumps", "kind": "files", "host": "srv-app", "path": "/srv/data/dumps",
                     "pattern": "*.sql.gz", "max_age": "26h", "min_size": "1KB"}],
        "audits": {"skip": ["linux.updates", "linux.load"]},
        "handover": {"notes": ["Les dossiers sociaux sont confidentiels ; seul le personnel du CPAS y accède."]},
    }
    asbl = {
        "entity": "asbl-sports",
        "title": ENTITIES["asbl-sports"]["title"],
        "routines": {
            "prepare-workstation": {
                "description": "Préparer un poste avant de le prêter à une ASBL",
                "why": "Un poste prêté doit être à jour et propre, sans rien de l'utilisateur précédent.",
                "steps": [
                    {"description": "Vérifier la place libre du poste du référent",
                     "run": {"command": ["df", "-h", "/"], "limit": "admin-workstation"}},
                    {"description": "Compter les mises à jour en attente", "run": {
                        "command": ["sh", "-c", "apt list --upgradable 2>/dev/null | tail -n +2 | wc -l"],
                        "limit": "admin-workstation"}},
                    {"description": "Effacer les fichiers de l'utilisateur précédent",
                     "manual": "Connectez-vous en administrateur et supprimez le profil et les téléchargements "
                               "de l'utilisateur précédent."}]},
            "asbl-contact-check": {"description": "Vérifier le contact informatique de chaque ASBL", "steps": [
                {"description": "Demander à chaque ASBL son contact",
                 "manual": "Appelez chaque ASBL et mettez son contact à jour dans inventory.yaml."}]},
        },
        "backups": _backups(paths, "asbl-sports"),
        "audits": {"skip": ["linux.updates", "linux.load"]},
    }
    shared = {
        "entity": "shared",
        "title": ENTITIES["shared"]["title"],
        "routines": {
            "workstation-health": {"description": "Coup d'œil à la santé du poste du référent",
                                   "schedule": "0 8 * * 1-5", "steps": [
                                       {"description": "Depuis quand la machine tourne, et sa charge",
                                        "run": {"command": ["uptime"], "limit": "admin-workstation"}},
                                       {"description": "Place libre", "run": {
                                           "command": ["df", "-h", "-x", "tmpfs", "-x", "devtmpfs"],
                                           "limit": "admin-workstation"}}]},
            "monthly-audit": _audit_routine("l'infrastructure partagée", "entity:shared"),
        },
        "audits": {"skip": ["linux.updates", "linux.load"]},
        "handover": {"notes": ["Ceci est le lab : une commune fictive pour s'exercer sans risque."]},
    }
    return {"commune": commune, "cpas": cpas, "asbl-sports": asbl, "shared": shared}


def write_project(paths: LabPaths, live: Live) -> None:
    """Write ``inventory.yaml`` and ``playbooks/*.yaml`` for the started lab; return None."""
    import yaml

    header = "# Written by 'itref lab up' for the practice lab: rewritten at every start. Nothing here is real.\n"
    paths.inventory.write_text(header + yaml.safe_dump(inventory(paths, live), sort_keys=False, allow_unicode=True,
                                                       width=120), encoding="utf-8")
    paths.playbooks.mkdir(exist_ok=True)
    for entity, book in playbooks(paths, live).items():
        (paths.playbooks / f"{entity}.yaml").write_text(
            header + yaml.safe_dump(book, sort_keys=False, allow_unicode=True, width=120), encoding="utf-8")


def world_password(paths: LabPaths, name: str) -> str:
    """Return the lab's secret ``name``, generating and storing it (0600) the first time."""
    try:
        return read_secret(paths, name)
    except OSError:
        return new_secret(paths, name)


def new_secret(paths: LabPaths, name: str) -> str:
    """Generate a new value for the lab's secret ``name``, store it (0600) and return it."""
    from itref.lab.world import generate_password

    value = generate_password()
    write_secret(paths, name, value)
    return value
