"""Intercom's official Python SDK (python-intercom, written by Fern from Intercom's spec) against a
real emulator socket: it must be able to drive every pipeline flow and parse every answer."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

intercom = pytest.importorskip("intercom")

from intercom import Intercom  # noqa: E402
from intercom.core.api_error import ApiError  # noqa: E402
from intercom.types import (  # noqa: E402
    CreateContactRequestWithExternalId,
    CreateContactRequestWithRole,
    CreateDataAttributeRequestOne,
    CreateDataAttributeRequestOptions,
    CreateDataAttributeRequestOptionsOptionsItem,
    CreateDataEventRequestWithUserId,
    CreateOrUpdateCompanyRequest,
    MultipleFilterSearchRequest,
    SingleFilterSearchRequest,
    TagCompanyRequest,
    TagCompanyRequestCompaniesItem,
    TagMultipleUsersRequest,
    TagMultipleUsersRequestUsersItem,
)

from streams.emulator.config import EmulatorConfig  # noqa: E402
from streams.emulator.server import running_emulator  # noqa: E402
from tests.emulator import contract  # noqa: E402
from tests.emulator.conftest import TOKEN  # noqa: E402


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with running_emulator(EmulatorConfig(rate_limit=0, api_version="2.16")) as url:
        yield url


@pytest.fixture
def sdk(base_url: str) -> Iterator[Intercom]:
    httpx.post(f"{base_url}/_emulator/reset").raise_for_status()
    yield Intercom(base_url=base_url, token=TOKEN, headers={"Intercom-Version": "2.16"}, timeout=10)
    # Every answer the SDK received must also match the spec (read back from the request log).
    log = httpx.get(f"{base_url}/_emulator/requests").json()["requests"]
    assert log
    for entry in log:
        body = b"" if entry["response_body"] is None else json.dumps(entry["response_body"]).encode()
        contract.check("2.16", entry["method"], entry["path"], entry["status"], body)


def test_contacts_and_search(sdk: Intercom) -> None:
    sdk.data_attributes.create(
        request=CreateDataAttributeRequestOne(name="tier", model="contact", data_type="string")  # type: ignore[call-arg]
    )
    user = sdk.contacts.create(
        request=CreateContactRequestWithExternalId(
            external_id="u1", email="ann@acme.io", name="Ann", custom_attributes={"tier": "gold"}
        )
    )
    assert user.id and user.external_id == "u1" and user.custom_attributes == {"tier": "gold"}
    lead = sdk.contacts.create(request=CreateContactRequestWithRole(role="lead", email="ann@acme.io"))
    assert lead.role == "lead"

    found = sdk.contacts.find(contact_id=user.id)
    assert found.email == "ann@acme.io"
    updated = sdk.contacts.update(contact_id=user.id, name="Ann Lee")
    assert updated.name == "Ann Lee"

    page = sdk.contacts.search(
        query=MultipleFilterSearchRequest(
            operator="AND",
            value=[
                SingleFilterSearchRequest(field="custom_attributes.tier", operator="=", value="gold"),
                SingleFilterSearchRequest(field="role", operator="=", value="user"),
            ],
        )
    )
    assert [c.id for c in page] == [user.id]

    by_external = sdk.contacts.show_contact_by_external_id(external_id="u1")
    assert by_external.id == user.id

    with pytest.raises(ApiError) as conflict:
        sdk.contacts.create(request=CreateContactRequestWithExternalId(external_id="u1"))
    assert conflict.value.status_code == 409
    assert f"id={user.id}" in str(conflict.value.body)

    merged = sdk.contacts.merge_lead_in_user(lead_id=lead.id, contact_id=user.id)
    assert merged.id == user.id
    archived = sdk.contacts.archive(contact_id=user.id)
    assert archived.archived is True
    assert sdk.contacts.unarchive(contact_id=user.id).archived is False
    deleted = sdk.contacts.delete(contact_id=user.id)
    assert deleted.deleted is True and deleted.id == user.id


def test_list_pages_through_every_contact(sdk: Intercom) -> None:
    for i in range(7):
        sdk.contacts.create(request=CreateContactRequestWithExternalId(external_id=f"p{i}"))
    assert sorted(c.external_id or "" for c in sdk.contacts.list(per_page=3)) == [f"p{i}" for i in range(7)]


def test_companies_and_attach(sdk: Intercom) -> None:
    company = sdk.companies.create_or_update(
        request=CreateOrUpdateCompanyRequest(company_id="acme", name="Acme", plan="pro", size=12)
    )
    assert company.company_id == "acme" and company.plan is not None and company.plan.name == "pro"
    user = sdk.contacts.create(request=CreateContactRequestWithExternalId(external_id="u1"))
    attached = sdk.companies.attach_contact(contact_id=user.id, company_id=company.id)
    assert attached.id == company.id and attached.user_count == 1
    listed = sdk.contacts.list_attached_companies(contact_id=user.id)
    assert [c.id for c in listed] == [company.id]
    retrieved = sdk.companies.retrieve(company_id="acme")
    assert retrieved.data is not None and retrieved.data[0].id == company.id  # type: ignore[union-attr]
    assert sdk.companies.find(company_id=company.id).name == "Acme"
    detached = sdk.companies.detach_contact(contact_id=user.id, company_id=company.id)
    assert detached.id == company.id


def test_events(sdk: Intercom, base_url: str) -> None:
    sdk.contacts.create(request=CreateContactRequestWithExternalId(external_id="u1"))
    for _ in range(2):  # the duplicate is accepted too
        sdk.events.create(
            request=CreateDataEventRequestWithUserId(
                user_id="u1", event_name="ordered", created_at=1_700_000_000, metadata={"sku": "A1"}
            )
        )
    summary = sdk.events.list(type="user", user_id="u1", summary=True)
    assert summary.events[0] is not None and summary.events[0].count == 1
    with pytest.raises(ApiError) as missing:
        sdk.events.create(
            request=CreateDataEventRequestWithUserId(user_id="ghost", event_name="x", created_at=1)
        )
    assert missing.value.status_code == 404
    state = httpx.get(f"{base_url}/_emulator/state").json()
    assert [(e["event_name"], e["metadata"]) for e in state["events"]] == [("ordered", {"sku": "A1"})]


def test_tags(sdk: Intercom) -> None:
    user = sdk.contacts.create(request=CreateContactRequestWithExternalId(external_id="u1"))
    sdk.companies.create_or_update(request=CreateOrUpdateCompanyRequest(company_id="acme"))
    tag = sdk.tags.create(
        request=TagMultipleUsersRequest(name="VIP", users=[TagMultipleUsersRequestUsersItem(id=user.id)])
    )
    assert tag.name == "VIP" and tag.id
    company_tag = sdk.tags.create(
        request=TagCompanyRequest(name="VIP", companies=[TagCompanyRequestCompaniesItem(company_id="acme")])
    )
    assert company_tag.id == tag.id
    assert [t.id for t in sdk.contacts.list_attached_tags(contact_id=user.id).data] == [tag.id]
    untagged = sdk.tags.untag_contact(contact_id=user.id, tag_id=tag.id)
    assert untagged.id == tag.id
    assert sdk.tags.tag_contact(contact_id=user.id, tag_id=tag.id).id == tag.id
    assert [t.id for t in sdk.tags.list().data] == [tag.id]
    assert sdk.tags.find(tag_id=tag.id).name == "VIP"
    sdk.tags.delete(tag_id=tag.id)
    with pytest.raises(ApiError) as gone:
        sdk.tags.find(tag_id=tag.id)
    assert gone.value.status_code == 404


def test_data_attributes(sdk: Intercom) -> None:
    created = sdk.data_attributes.create(
        request=CreateDataAttributeRequestOptions(  # type: ignore[call-arg]
            name="billing_plan",
            model="company",
            data_type="options",
            options=[
                CreateDataAttributeRequestOptionsOptionsItem(value="free"),
                CreateDataAttributeRequestOptionsOptionsItem(value="pro"),
            ],
        )
    )
    assert created.id is not None and created.full_name == "custom_attributes.billing_plan"
    listed = sdk.data_attributes.list(model="company")
    assert "billing_plan" in {a.name for a in listed.data}
    archived = sdk.data_attributes.update(data_attribute_id=created.id, request={"archived": True})
    assert archived.archived is True
    with pytest.raises(ApiError) as bad:
        sdk.data_attributes.create(
            request=CreateDataAttributeRequestOne(name="bad.name", model="contact", data_type="string")  # type: ignore[call-arg]
        )
    assert bad.value.status_code == 400


def test_auth_and_rate_limit_errors_parse(sdk: Intercom, base_url: str) -> None:
    wrong = Intercom(base_url=base_url, token="nope")
    with pytest.raises(ApiError) as denied:
        wrong.admins.identify()
    assert denied.value.status_code == 401
    assert sdk.admins.identify().app is not None
    httpx.put(f"{base_url}/_emulator/config", json={"rate_limit": 1, "rate_window_s": 60}).raise_for_status()
    try:
        sdk.admins.identify()
        with pytest.raises(ApiError) as limited:
            sdk.admins.identify()
        assert limited.value.status_code == 429
        assert limited.value.headers is not None and limited.value.headers.get("x-ratelimit-remaining") == "0"
    finally:
        httpx.put(f"{base_url}/_emulator/config", json={"rate_limit": 0}).raise_for_status()
