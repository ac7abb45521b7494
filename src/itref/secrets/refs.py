"""Secret references as the YAML files write them: where a secret lives, never the secret itself."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from itref.core.model import MESSAGES, Name, Strict, Text, fail
from itref.i18n import N_

MESSAGES.update({
    "secret_literal": N_("a secret must be a reference such as {{secret: NAME}}, {{env: VAR}} or {{file: PATH}}, "
                         "never the value itself"),
    "secret_kind": N_("a secret reference needs exactly one of: secret, env, file, keepass, prompt"),
})


class KeepassRef(Strict):
    """A value kept in a KeePass database (.kdbx)."""

    database: Text = Field(description="Path of the .kdbx file.", examples=["/srv/it/coffre.kdbx"])
    entry: Text = Field(description="Entry path inside the database.", examples=["Serveurs/ssh-itref"])
    keyfile: Text | None = Field(None, description="Key file that opens the database (usable from cron).",
                                 examples=["/root/.config/itref/coffre.key"])
    password: SecretRef | None = Field(None, description="Master password, as a reference (env, file, prompt).",
                                       examples=[{"prompt": "KeePass master password"}])
    attribute: Text = Field("password", description="Which field of the entry: password, username, url "
                            "or a custom property name.", examples=["password"])


class SecretRef(Strict):
    """Where a secret lives. Exactly one key: ``secret`` (a name from the inventory's ``secrets``),
    ``env``, ``file``, ``keepass`` or ``prompt``. Never the secret itself."""

    secret: Name | None = Field(None, description="Name of an entry of the inventory's `secrets` section.",
                                examples=["restic-nas"])
    env: Text | None = Field(None, description="Environment variable holding the value.",
                             examples=["ITREF_AD_PASSWORD"])
    file: Text | None = Field(None, description="File holding the value (must not be readable by group "
                              "or others); a trailing newline is ignored.",
                              examples=["/root/.config/itref/restic-nas.pw"])
    keepass: KeepassRef | None = Field(None, description="Entry of a KeePass database.",
                                       examples=[{"database": "/srv/it/coffre.kdbx", "entry": "AD/svc-itref",
                                                  "keyfile": "/root/.config/itref/coffre.key"}])
    prompt: Text | bool | None = Field(None, description="Ask on the terminal (interactive runs only); "
                                       "the text is the question.", examples=["Password of svc-itref"])

    @model_validator(mode="before")
    @classmethod
    def _not_a_value(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            raise fail("secret_literal")
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        given = [k for k in ("secret", "env", "file", "keepass", "prompt") if getattr(self, k) is not None]
        if len(given) != 1:
            raise fail("secret_kind")
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
