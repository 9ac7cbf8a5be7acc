"""Fetch schemas by id from any Confluent-compatible registry (Confluent, Apicurio's ccompat API,
Redpanda, Karapace). Only ``GET /schemas/ids/{id}`` (and its references by subject/version) is used.

Answers are sorted into three kinds, because the worker treats them differently: the id is unknown
(dead-letter the record), the registry refuses our credentials, or it is unavailable (wait and retry).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from streams.errors import (
    SchemaNotFoundError,
    SchemaRegistryAuthError,
    SchemaRegistryUnavailableError,
)

USERNAME_SETTING = "INTERCOM_STREAM_SCHEMA_REGISTRY_USERNAME"


@dataclass(frozen=True)
class Reference:
    name: str
    subject: str
    version: int


@dataclass(frozen=True)
class RegisteredSchema:
    """One schema as the registry stores it; ``schema_type`` is AVRO, JSON or PROTOBUF."""

    schema_id: int
    schema_type: str
    text: str
    references: tuple[Reference, ...] = ()
    # name -> schema text of each (transitively) referenced schema
    referenced: dict[str, str] = field(default_factory=dict)


def _references(body: dict[str, Any]) -> tuple[Reference, ...]:
    return tuple(
        Reference(str(r["name"]), str(r["subject"]), int(r["version"])) for r in body.get("references") or ()
    )


def _looks_serialized(body: dict[str, Any]) -> bool:
    text = str(body.get("schema") or "")
    return bool(text) and not any(word in text for word in ("syntax", "message ", "package "))


class RegistryClient:
    """A small async client; ``auth`` is (user, password) for basic auth (Confluent Cloud API key)."""

    def __init__(
        self,
        url: str,
        *,
        auth: tuple[str, str] | None = None,
        verify: str | bool = True,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.url, auth=auth, verify=verify, timeout=timeout_s, follow_redirects=True
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _get(self, path: str, missing: str) -> dict[str, Any]:
        try:
            response = await self._http.get(path, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise SchemaRegistryUnavailableError(
                f"schema registry {self.url} unreachable: {type(exc).__name__}"
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise SchemaRegistryAuthError(
                f"schema registry {self.url} refused the credentials ({status}): check "
                f"{USERNAME_SETTING} and INTERCOM_STREAM_SCHEMA_REGISTRY_PASSWORD",
                status=status,
            )
        if status == 404:
            raise SchemaNotFoundError(missing)
        if status >= 400:  # 5xx, 429, proxies' 4xx: the registry is not answering as it should
            raise SchemaRegistryUnavailableError(f"schema registry {self.url} answered {status}")
        try:
            body = response.json()
        except ValueError:
            raise SchemaRegistryUnavailableError(f"schema registry {self.url} answered non-JSON") from None
        if not isinstance(body, dict):
            raise SchemaRegistryUnavailableError(f"schema registry {self.url} answered an unexpected body")
        return body

    async def register(self, subject: str, schema_type: str, text: str) -> int:
        """Register (or find) ``text`` under ``subject``; its id. For ``publish`` and tests."""
        body: dict[str, Any] = {"schema": text}
        if schema_type != "AVRO":
            body["schemaType"] = schema_type
        try:
            response = await self._http.post(f"/subjects/{subject}/versions", json=body)
        except httpx.HTTPError as exc:
            raise SchemaRegistryUnavailableError(f"schema registry {self.url} unreachable: {exc}") from None
        if response.status_code in (401, 403):
            raise SchemaRegistryAuthError(f"schema registry {self.url} refused the credentials", status=401)
        if response.status_code >= 400:
            raise SchemaRegistryUnavailableError(
                f"schema registry {self.url} refused the schema ({response.status_code}): "
                f"{response.text[:300]}"
            )
        return int(response.json()["id"])

    async def schema(self, schema_id: int) -> RegisteredSchema:
        body = await self._get(f"/schemas/ids/{schema_id}", f"schema id {schema_id} is not in the registry")
        if str(body.get("schemaType") or "").upper() == "PROTOBUF" and not _looks_serialized(body):
            # Protobuf as a FileDescriptorProto (Confluent serves it on request; no .proto parser needed)
            body = await self._get(f"/schemas/ids/{schema_id}?format=serialized", f"schema id {schema_id}")
        references = _references(body)
        referenced: dict[str, str] = {}
        await self._collect(references, referenced)
        return RegisteredSchema(
            schema_id,
            str(body.get("schemaType") or "AVRO").upper(),
            str(body["schema"]),
            references,
            referenced,
        )

    async def _collect(self, references: tuple[Reference, ...], into: dict[str, str]) -> None:
        for ref in references:
            if ref.name in into:
                continue
            body = await self._get(
                f"/subjects/{ref.subject}/versions/{ref.version}",
                f"referenced schema {ref.subject} version {ref.version} is not in the registry",
            )
            into[ref.name] = str(body["schema"])
            await self._collect(_references(body), into)


def client_from_settings(settings: Any) -> RegistryClient | None:
    """The registry client the settings ask for, or None when no registry is configured."""
    url = settings.schema_registry_url
    if not url:
        return None
    auth = None
    if settings.schema_registry_username:
        password = settings.schema_registry_password
        auth = (settings.schema_registry_username, password.get_secret_value() if password else "")
    return RegistryClient(url, auth=auth, verify=settings.schema_registry_ca_file or True)
