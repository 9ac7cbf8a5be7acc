"""The pytest plugin as another team would use it: a real emulator process, a workspace per test."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from streams.emulator.testing import EmulatorHandle, EmulatorServer
from streams.emulator_admin import EmulatorAdmin, EmulatorAdminError


def _client(handle: EmulatorHandle) -> httpx.Client:
    return httpx.Client(base_url=handle.base_url, headers={"Authorization": f"Bearer {handle.token}"})


def test_a_contact_written_through_the_api_reads_back_in_domain_terms(
    intercom_emulator: EmulatorHandle,
) -> None:
    intercom_emulator.create_attribute("plan")
    with _client(intercom_emulator) as http:
        r = http.post(
            "/contacts", json={"role": "user", "external_id": "u1", "custom_attributes": {"plan": "pro"}}
        )
    assert r.status_code == 200, r.text
    assert intercom_emulator.contact(external_id="u1").custom_attributes["plan"] == "pro"
    (call,) = intercom_emulator.requests(path="/contacts", method="POST")
    assert call.status == 200 and call.request_body["external_id"] == "u1"
    with pytest.raises(AssertionError, match="no contact with external_id='u2'"):
        intercom_emulator.contact(external_id="u2")


def test_scripted_faults_answer_then_stop(intercom_emulator: EmulatorHandle) -> None:
    intercom_emulator.fail("/events", status=503, count=2)
    body = {"event_name": "x", "created_at": 1700000000, "user_id": "nobody"}
    with _client(intercom_emulator) as http:
        statuses = [http.post("/events", json=body).status_code for _ in range(3)]
    assert statuses == [503, 503, 404]  # then the real answer: no such user


def test_rate_limit_headers_and_body_as_intercom_documents(intercom_emulator: EmulatorHandle) -> None:
    intercom_emulator.rate_limit(2)
    with _client(intercom_emulator) as http:
        answers = [http.get("/me") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"2"}
    reset = int(answers[0].headers["X-RateLimit-Reset"])
    assert reset % 10 == 0  # 10-second windows
    error = answers[2].json()
    assert error["type"] == "error.list"
    assert error["errors"][0] == {
        "code": "rate_limit_exceeded",
        "message": "Exceeded rate limit of 2 in 10_seconds",
    }


def test_the_workspace_budget_is_shared_by_its_tokens(intercom_emulator: EmulatorHandle) -> None:
    intercom_emulator.rate_limit(100, workspace_limit=3)
    with _client(intercom_emulator) as http:
        answers = [http.get("/me") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "3"  # the tighter of the two limits
    assert answers[3].json()["errors"][0]["message"] == "Exceeded rate limit of 3 in 10_seconds"


def test_each_test_sees_only_its_own_workspace(
    intercom_emulator: EmulatorHandle, intercom_emulator_server: EmulatorAdmin
) -> None:
    other = intercom_emulator_server.create_workspace()
    try:
        other.api("POST", "/contacts", {"role": "user", "external_id": "someone-else"})
        assert intercom_emulator.contacts() == [] and intercom_emulator.requests() == []
        assert [c["external_id"] for c in other.state()["contacts"]] == ["someone-else"]
    finally:
        other.delete_workspace()
    # A deleted workspace's token is refused, and the refusal lands in no other workspace's log.
    with httpx.Client(base_url=other.base_url, headers={"Authorization": f"Bearer {other.token}"}) as http:
        assert http.get("/me").status_code == 401
    assert intercom_emulator.requests() == []
    with pytest.raises(EmulatorAdminError, match="404"):
        other.state()


def test_state_dumped_to_a_file_loads_back_as_the_same_workspace(
    intercom_emulator: EmulatorHandle, intercom_emulator_server: EmulatorAdmin, tmp_path: Path
) -> None:
    admin = intercom_emulator.admin
    admin.create_attribute("plan")
    admin.create_attribute("tier", model="company")
    user = admin.api("POST", "/contacts", {"role": "user", "external_id": "u1", "email": "u1@example.com",
                                           "custom_attributes": {"plan": "pro"}})  # fmt: skip
    company = admin.api(
        "POST", "/companies", {"company_id": "c1", "name": "Acme", "custom_attributes": {"tier": "a"}}
    )
    admin.api("POST", f"/contacts/{user['id']}/companies", {"id": company["id"]})
    tag = admin.api("POST", "/tags", {"name": "vip"})
    admin.api("POST", f"/contacts/{user['id']}/tags", {"id": tag["id"]})
    admin.api("POST", "/events", {"event_name": "signed-up", "created_at": 1700000000, "user_id": "u1"})
    path = tmp_path / "workspace.json"
    intercom_emulator.dump_state(path)

    fresh = intercom_emulator_server.create_workspace()
    try:
        fresh.load_state(json.loads(path.read_text()))
        assert _comparable(fresh.state()) == _comparable(json.loads(path.read_text()))
        # The loaded workspace behaves: search finds the contact, a new tag gets a new id.
        found = fresh.api(
            "POST", "/contacts/search", {"query": {"field": "external_id", "operator": "=", "value": "u1"}}
        )
        assert [c["id"] for c in found["data"]] == [user["id"]]
        assert fresh.api("POST", "/tags", {"name": "new"})["id"] != tag["id"]
    finally:
        fresh.delete_workspace()


def _comparable(state: dict[str, object]) -> dict[str, object]:
    # The workspace id is the token's, so it differs between workspaces by design.
    text = json.dumps(state, sort_keys=True)
    for key in ("workspace_id", "app_id"):
        text = _blank(text, key)
    return dict(json.loads(text))


def _blank(text: str, key: str) -> str:
    return re.sub(rf'"{key}": "[^"]*"', f'"{key}": ""', text)


def test_a_bad_state_file_is_refused_and_changes_nothing(intercom_emulator: EmulatorHandle) -> None:
    intercom_emulator.create_attribute("plan")
    with pytest.raises(EmulatorAdminError, match="400"):
        intercom_emulator.admin.load_state({"contacts": [{"role": "user"}]})  # no id
    assert [a["name"] for a in intercom_emulator.state()["data_attributes"]] == ["plan"]


def test_the_command_line_loads_a_state_file_and_dumps_on_exit(tmp_path: Path) -> None:
    contact = {"id": "abc123", "role": "user", "external_id": "u9", "created_at": 1, "updated_at": 1}
    state = {
        "contacts": [{**contact, "tags": {"data": []}, "companies": {"data": []}}],
        "event_names": ["signed-up"],
    }
    (tmp_path / "in.json").write_text(json.dumps(state))
    out = tmp_path / "out.json"
    server = EmulatorServer(
        tmp_path / "log", ["--state", str(tmp_path / "in.json"), "--dump-state", str(out)]
    )
    try:
        assert [c["external_id"] for c in server.admin.state()["contacts"]] == ["u9"]
        server.admin.api("POST", "/contacts", {"role": "user", "external_id": "u10"})
    finally:
        server.stop()
    dumped = json.loads(out.read_text())
    assert [c["external_id"] for c in dumped["contacts"]] == ["u9", "u10"]
    assert dumped["event_names"] == ["signed-up"]
