"""plan_sync against the Intercom emulator: no Intercom account, no network, no mocks."""

import pytest
from plan_sync import IntercomUnavailable, set_plan


@pytest.fixture(autouse=True)
def workspace(intercom_emulator):
    # Intercom only accepts custom attributes the workspace defines.
    intercom_emulator.create_attribute("plan", "string")


def test_a_new_user_is_created_with_the_plan(intercom_emulator):
    set_plan(intercom_emulator.base_url, intercom_emulator.token, "u1", "pro")

    assert intercom_emulator.contact(external_id="u1").custom_attributes["plan"] == "pro"


def test_a_known_user_is_updated_not_duplicated(intercom_emulator):
    first = set_plan(intercom_emulator.base_url, intercom_emulator.token, "u1", "free")
    second = set_plan(intercom_emulator.base_url, intercom_emulator.token, "u1", "pro")

    assert first == second
    assert [c.custom_attributes["plan"] for c in intercom_emulator.contacts()] == ["pro"]
    assert [c.method for c in intercom_emulator.requests(path=f"/contacts/{first}")] == ["PUT"]


def test_a_short_outage_is_retried(intercom_emulator):
    intercom_emulator.fail("/contacts", status=503, count=2, method="POST")

    set_plan(intercom_emulator.base_url, intercom_emulator.token, "u2", "pro")

    assert [c.status for c in intercom_emulator.requests(path="/contacts")] == [503, 503, 200]
    assert intercom_emulator.contact(external_id="u2").custom_attributes["plan"] == "pro"


def test_a_long_outage_is_reported(intercom_emulator):
    intercom_emulator.fail("/contacts/search", status=503, count=3)

    with pytest.raises(IntercomUnavailable):
        set_plan(intercom_emulator.base_url, intercom_emulator.token, "u3", "pro")
    assert intercom_emulator.contacts() == []


def test_each_test_starts_from_an_empty_workspace(intercom_emulator):
    assert intercom_emulator.contacts() == []  # the other tests' users are not here
