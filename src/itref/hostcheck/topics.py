"""What each problem of ``itref hosts check`` means, for ``itref audit explain ID`` (the ids its findings carry:
``hosts.*`` for a host, ``directory.*`` for the directory)."""

from __future__ import annotations

from itref.core.findings import Topic
from itref.i18n import _

CHECK = "itref hosts check --limit HOST"


def topics() -> tuple[Topic, ...]:
    """Return the explanation of every id a finding of ``itref hosts check`` can carry."""
    how_host = _("Measured by itref hosts check, which connects to each host as the inventory says, read-only.")
    how_dir = _("Measured by itref hosts check over LDAPS with the inventory's bind account, read-only (the "
                "account's effective rights are read from allowedChildClassesEffective and "
                "allowedAttributesEffective).")
    entries = [
        ("hosts.dns", _("Host name resolves"), _("A name that does not resolve means itref cannot reach the machine."),
         _("Correct the host's address: in the inventory, or add the name to the DNS."), ("itref inventory show",)),
        ("hosts.tcp", _("Host answers on its port"), _("Nothing answering on the SSH or WinRM port means no command "
                                                     "can be run there."),
         _("Start the SSH server or turn on WinRM on the host and open its port in the firewall, or correct port:."),
         (CHECK,)),
        ("hosts.connect", _("Connection to the host"), _("The connection failed for a reason of its own: itref can "
                                                        "do nothing on the host."),
         _("Read the full error with itref run, then check the host's settings in the inventory."),
         ("itref run --limit HOST -- hostname",)),
        ("hosts.tls", _("WinRM certificate"), _("A certificate not valid for the host's name lets anyone on the way "
                                                "pose as the host and receive its password."),
         _("Give the host a certificate for its name signed by a CA itref trusts (ca_file: in the inventory)."),
         (CHECK,)),
        ("hosts.ssh-key", _("SSH host key known"), _("An unknown or changed host key may be someone in between: "
                                                     "itref refuses to talk to such a host."),
         _("Compare the fingerprint on the server with whoever manages it, then record it."),
         ("itref hosts trust HOST", "itref hosts trust HOST --replace")),
        ("hosts.login", _("Login accepted"), _("A refused login means no command, check or backup can run there."),
         _("Check user:, identity: or password: of the host in the inventory, and the account on the host."),
         (CHECK,)),
        ("hosts.secret", _("Password of the host readable"), _("A secret reference that cannot be read stops every "
                                                               "connection that needs it."),
         _("Set the environment variable or fix the file, KeePass entry or prompt the reference names."),
         ("itref inventory show",)),
        ("hosts.probe", _("Host could be examined"), _("What could not be examined is not known to be ready."),
         _("Read the message; run the check again once the host answers."), (CHECK,)),
        ("hosts.sudo", _("sudo without a terminal"), _("Steps and checks that need root fail when sudo asks for a "
                                                      "password no one can type."),
         _("Give itref the sudo password (sudo_password: in the inventory) or a NOPASSWD rule for its account."),
         (CHECK,)),
        ("hosts.admin", _("Windows administrator"), _("The audit's system queries and wbadmin need a local "
                                                      "administrator."),
         _("Add itref's account to the host's local Administrators group."), (CHECK,)),
        ("hosts.tool", _("Programs the checks need"), _("A check or backup whose program is missing on its host "
                                                       "cannot be made."),
         _("Install the program named on the host, or run the backup check from a host that has it (host:)."),
         (CHECK,)),
        ("hosts.clock", _("Clock of the host"), _("A clock more than 5 minutes off breaks Kerberos logins and "
                                                  "misdates backups."),
         _("Set the host to take its time from the network (NTP, w32time)."), (CHECK,)),
    ]
    directory = [
        ("directory.dns", _("Directory name resolves"), _("A DC whose name does not resolve cannot be reached."),
         _("Correct directory.url in the inventory, or the DNS.")),
        ("directory.ldaps", _("Directory answers over LDAPS"), _("Without LDAPS no account can be created or "
                                                                 "changed."),
         _("Turn on LDAPS on the DC (a certificate for its name) and open port 636, or correct directory.url.")),
        ("directory.tls", _("Directory certificate"), _("A certificate not valid for the DC's name lets anyone on the "
                                                       "way receive the service account's password."),
         _("Give directory.ca_file the CA that signed the DC's certificate, or tls_name the name in it.")),
        ("directory.bind", _("Directory login"), _("A refused bind means no AD command can work."),
         _("Check directory.bind_user and the password its reference gives.")),
        ("directory.secret", _("Directory password readable"), _("The bind password's reference cannot be read."),
         _("Set the variable or fix the file, KeePass entry or prompt the reference names.")),
        ("directory.rights", _("Rights of the service account"), _("An account without the rights a routine needs "
                                                                  "makes that routine fail half-way."),
         _("Delegate on the OU or group named the right the line gives (Active Directory Users and Computers > "
           "Delegate Control).")),
    ]
    out = [Topic(i, title, why, how_host, fix, commands) for i, title, why, fix, commands in entries]
    out += [Topic(i, title, why, how_dir, fix, ("itref hosts check",)) for i, title, why, fix in directory]
    return tuple(out)
