"""/api/users: who may do what, duplicates, normalisation, and how request bodies are checked
(validation, malformed JSON, content type, size) without anything being half-written."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.conftest import Cast, Client, Server, unique
from tests.integration.helpers import assert_error, audit_head, audit_since, nothing_written, ok

PASSWORD = "Mat-khau-2026-moi"


def _new(username: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"username": username or unique("nguoi.dung."), "full_name": "Nguyễn Văn An", "password": PASSWORD,
            **extra}


async def _rows_named(root: Client, username: str) -> list[dict[str, Any]]:
    return [u for u in ok(await root.get("/api/users", params={"q": username})) if u["username"] == username]


# --- may and may not -----------------------------------------------------------------------------

async def test_admin_creates_an_account_and_the_audit_log_records_it(root: Client, cast: Cast) -> None:
    head = await audit_head(root)
    body = _new(title="Chuyên viên", language="en", is_secretariat=True, body_id=cast.body["id"])
    user = ok(await root.post("/api/users", json=body), 201)
    assert {k: user[k] for k in ("username", "full_name", "title", "language", "is_secretariat", "body_id")} == {
        k: body[k] for k in ("username", "full_name", "title", "language", "is_secretariat", "body_id")}
    assert user["is_active"] is True and user["is_admin"] is False
    assert "password" not in user and "password_hash" not in user
    assert ok(await root.get(f"/api/users/{user['id']}")) == user
    entries = await audit_since(root, head)
    assert [(e["action"], e["object_id"], e["details"]) for e in entries] == [
        ("user.created", user["id"], {"username": body["username"]})]
    assert PASSWORD not in json.dumps(entries)


async def test_only_an_administrator_may_create_accounts(server: Server, root: Client, cast: Cast) -> None:
    username = unique("khong.duoc.")
    async with nothing_written(root):
        for who in ("member", "secretary", "chair"):
            assert_error(await cast[who].client.post("/api/users", json=_new(username)), 403, "forbidden")
        async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
            assert_error(await anonymous.post("/api/users", json=_new(username)), 401, "not_authenticated")
    assert await _rows_named(root, username) == []


async def test_admins_and_the_secretariat_may_list_accounts_others_may_not(server: Server, root: Client,
                                                                          cast: Cast) -> None:
    for client in (root, cast["secretary"].client, cast["other_secretary"].client):
        listed = ok(await client.get("/api/users"))
        assert {cast["member"].id, cast["chair"].id} <= {u["id"] for u in listed}
    for who in ("member", "chair", "guest"):
        assert_error(await cast[who].client.get("/api/users"), 403, "forbidden")
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        assert_error(await anonymous.get("/api/users"), 401)


async def test_user_search_and_active_filter(root: Client, cast: Cast) -> None:
    tag = unique("timkiem")
    active = ok(await root.post("/api/users", json=_new(f"{tag}.a", full_name="Trần Thị Bích")), 201)
    gone = ok(await root.post("/api/users", json=_new(f"{tag}.b", full_name="Trần Văn Cường")), 201)
    ok(await root.patch(f"/api/users/{gone['id']}", json={"is_active": False}))
    assert {u["id"] for u in ok(await root.get("/api/users", params={"q": tag}))} == {active["id"], gone["id"]}
    assert [u["id"] for u in ok(await root.get("/api/users", params={"q": tag, "active": "true"}))] == [active["id"]]
    assert [u["id"] for u in ok(await root.get("/api/users", params={"q": "thị bích"}))] == [active["id"]]
    assert_error(await root.get("/api/users", params={"active": "maybe"}), 422, "validation_error")
    assert_error(await root.get("/api/users", params={"q": "x" * 101}), 422, "validation_error")
    assert_error(await root.get("/api/users", params={"sort": "name"}), 422, "validation_error")


async def test_user_search_finds_vietnamese_names_whatever_the_case(server: Server, root: Client,
                                                                    request: pytest.FixtureRequest) -> None:
    user = ok(await root.post("/api/users", json=_new(unique("do.thi.ha."), full_name="Đỗ Thị Hà")), 201)
    for q in ("Đỗ Thị", "đỗ thị", "ĐỖ THỊ"):
        assert user["id"] in [u["id"] for u in ok(await root.get("/api/users", params={"q": q}))], q


async def test_user_search_treats_like_wildcards_literally(root: Client, cast: Cast) -> None:
    # No username or full name in the suite contains '%'.
    assert ok(await root.get("/api/users", params={"q": "%"})) == []


async def test_a_user_sees_their_own_account_only_the_secretariat_and_admins_see_any(root: Client,
                                                                                    cast: Cast) -> None:
    member, other = cast["member"], cast["member2"]
    assert ok(await member.client.get(f"/api/users/{member.id}"))["username"] == member.username
    assert_error(await member.client.get(f"/api/users/{other.id}"), 403, "forbidden")
    assert ok(await cast["secretary"].client.get(f"/api/users/{other.id}"))["id"] == other.id
    assert ok(await root.get(f"/api/users/{other.id}"))["id"] == other.id


async def test_only_an_administrator_may_change_or_reset_an_account(root: Client, cast: Cast) -> None:
    target = cast["member2"]
    view = (root, f"/api/users/{target.id}")
    async with nothing_written(root, view):
        for who in ("member", "secretary", "chair"):
            c = cast[who].client
            assert_error(await c.patch(f"/api/users/{target.id}", json={"full_name": "Bị đổi"}), 403, "forbidden")
            assert_error(await c.patch(f"/api/users/{cast[who].id}", json={"is_admin": True}), 403, "forbidden")
            assert_error(await c.post(f"/api/users/{target.id}/password", json={"new_password": "Mat-khau-bi-doi"}),
                         403, "forbidden")
    # The reset was refused: the old password still works.
    c = Client(root.server)
    try:
        ok(await c.login(target.username, target.password))
    finally:
        await c.close()


async def test_admin_changes_an_account(root: Client, cast: Cast) -> None:
    user = ok(await root.post("/api/users", json=_new(body_id=cast.body["id"])), 201)
    head = await audit_head(root)
    changed = ok(await root.patch(f"/api/users/{user['id']}", json={
        "full_name": "  Lê Thị Mai  ", "title": "Phó Chánh Văn phòng", "is_secretariat": True,
        "body_id": cast.other_body["id"], "language": "en"}))
    assert (changed["full_name"], changed["title"], changed["is_secretariat"], changed["body_id"],
            changed["language"]) == ("Lê Thị Mai", "Phó Chánh Văn phòng", True, cast.other_body["id"], "en")
    assert ok(await root.patch(f"/api/users/{user['id']}", json={"body_id": None}))["body_id"] is None
    assert ok(await root.get(f"/api/users/{user['id']}"))["body_id"] is None
    entries = await audit_since(root, head)
    assert [e["action"] for e in entries] == ["user.updated", "user.updated"]
    assert entries[0]["details"] == {"changed": ["body_id", "full_name", "is_secretariat", "language", "title"]}


async def test_refused_account_changes_leave_the_account_as_it_was(root: Client) -> None:
    user = ok(await root.post("/api/users", json=_new()), 201)
    async with nothing_written(root, (root, f"/api/users/{user['id']}")):
        for body, status, code in [
            ({"full_name": None}, 422, "validation_error"),
            ({"is_active": None}, 422, "validation_error"),
            ({"username": "doi-ten"}, 422, "validation_error"),
            ({"password": "Mat-khau-khac-1"}, 422, "validation_error"),
            ({"is_active": "false"}, 422, "validation_error"),
            ({"title": "t" * 201}, 422, "validation_error"),
            ({"body_id": 2_000_000_000}, 400, "unknown_body"),
        ]:
            assert_error(await root.patch(f"/api/users/{user['id']}", json=body), status, code)


async def test_admin_cannot_deactivate_or_demote_themselves(root: Client) -> None:
    me = ok(await root.get("/api/auth/me"))["user"]
    async with nothing_written(root, (root, f"/api/users/{me['id']}")):
        assert_error(await root.patch(f"/api/users/{me['id']}", json={"is_active": False}), 409, "self_lockout")
        assert_error(await root.patch(f"/api/users/{me['id']}", json={"is_admin": False}), 409, "self_lockout")
    assert ok(await root.get("/api/users"))  # still an administrator with a live session


@pytest.mark.parametrize("user_id", ["99999999999", "2147483648", "0", "2000000000"])
async def test_unknown_or_out_of_range_user_ids_are_404_not_500(root: Client, user_id: str) -> None:
    assert_error(await root.get(f"/api/users/{user_id}"), 404, "not_found")
    assert_error(await root.patch(f"/api/users/{user_id}", json={"title": "x"}), 404, "not_found")
    assert_error(await root.post(f"/api/users/{user_id}/password", json={"new_password": PASSWORD}), 404,
                 "not_found")


# --- duplicates and normalisation ----------------------------------------------------------------

async def test_a_duplicate_username_is_409_and_only_one_account_exists(root: Client) -> None:
    username = unique("trung.ten.")
    first = ok(await root.post("/api/users", json=_new(username)), 201)
    async with nothing_written(root, (root, f"/api/users/{first['id']}")):
        for variant in (username, f"  {username} "):
            assert_error(await root.post("/api/users", json=_new(variant, full_name="Người khác")), 409,
                         "username_taken")
    assert [u["id"] for u in await _rows_named(root, username)] == [first["id"]]


async def test_usernames_are_stored_trimmed(root: Client) -> None:
    raw = unique("tran.van.b")
    assert ok(await root.post("/api/users", json=_new(f"  {raw} ")), 201)["username"] == raw


async def test_usernames_are_normalised_to_lower_case(server: Server, root: Client) -> None:
    raw = unique("Nguyen.Van.A")
    user = ok(await root.post("/api/users", json=_new(f"  {raw} ")), 201)
    assert user["username"] == raw.lower()
    c = Client(server)
    try:
        ok(await c.login(raw.upper(), PASSWORD))
        assert c.user is not None and c.user["id"] == user["id"]
    finally:
        await c.close()
    assert_error(await root.post("/api/users", json=_new(raw.upper())), 409, "username_taken")


async def test_a_200_character_vietnamese_name_is_accepted_whole(root: Client) -> None:
    name = ("Nguyễn Thị Ánh Tuyết " * 10)[:200]
    assert len(name) == 200
    user = ok(await root.post("/api/users", json=_new(full_name=name, title="Đ" * 200)), 201)
    stored = ok(await root.get(f"/api/users/{user['id']}"))
    assert stored["full_name"] == name.strip() and stored["title"] == "Đ" * 200


# --- request bodies: validation, JSON, content type, size ----------------------------------------

@pytest.mark.parametrize("change,field", [
    ({"is_admin": "yes"}, "is_admin"),
    ({"is_secretariat": 1}, "is_secretariat"),
    ({"full_name": "x" * 201}, "full_name"),
    ({"full_name": "   "}, "full_name"),
    ({"title": "x" * 201}, "title"),
    ({"nickname": "An"}, "nickname"),
    ({"password": "ngan"}, "password"),
    ({"language": "fr"}, "language"),
    ({"body_id": "1"}, "body_id"),
    ({"body_id": 0}, "body_id"),
    ({"body_id": 2_147_483_648}, "body_id"),
    ({"username": "có dấu"}, "username"),
    ({"username": "ab"}, "username"),
    ({"username": "a" * 65}, "username"),
    ({"username": None}, "username"),
])
async def test_invalid_account_bodies_are_422_validation_error_naming_the_field(root: Client, change: dict[str, Any],
                                                                               field: str) -> None:
    body = {**_new(), **change}
    async with nothing_written(root):
        error = assert_error(await root.post("/api/users", json=body), 422, "validation_error")
    assert field in [d["field"] for d in error["details"]], error
    assert await _rows_named(root, str(body["username"]).strip().lower()) == []


async def test_a_missing_required_field_is_422(root: Client) -> None:
    for missing in ("username", "full_name", "password"):
        body = _new()
        del body[missing]
        error = assert_error(await root.post("/api/users", json=body), 422, "validation_error")
        assert missing in [d["field"] for d in error["details"]]


async def test_an_unknown_body_id_is_400(root: Client) -> None:
    username = unique("khong.co.co.quan.")
    async with nothing_written(root):
        assert_error(await root.post("/api/users", json=_new(username, body_id=2_000_000_000)), 400, "unknown_body")


@pytest.mark.parametrize("raw", [b"{", b"", b"{'username': 'a'}", b'{"username": "a",}', b"\xff\xfe\x00"])
async def test_malformed_json_is_400_malformed_json(root: Client, raw: bytes) -> None:
    async with nothing_written(root):
        assert_error(await root.post("/api/users", content=raw, headers={"Content-Type": "application/json"}),
                     400, "malformed_json")


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"text"', b"42"])
async def test_json_that_is_not_an_object_is_422(root: Client, raw: bytes) -> None:
    async with nothing_written(root):
        assert_error(await root.post("/api/users", content=raw, headers={"Content-Type": "application/json"}),
                     422, "validation_error")


async def test_deeply_nested_json_is_400_not_a_server_error(root: Client) -> None:
    raw = b"[" * 5000 + b"]" * 5000  # 10 kB, well under the size limit
    r = await root.post("/api/users", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")


async def test_a_nul_character_in_a_text_field_is_422_on_every_database(root: Client) -> None:
    username = unique("nul.")
    r = await root.post("/api/users", json=_new(username, full_name="Nguyễn\u0000Văn"))
    assert_error(r, 422, "validation_error")
    assert await _rows_named(root, username) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/jsonp", None])
async def test_a_body_that_is_not_sent_as_json_is_415(root: Client, content_type: str | None) -> None:
    username = unique("kieu.")
    headers = {"Content-Type": content_type} if content_type else {}
    async with nothing_written(root):
        r = await root.post("/api/users", content=json.dumps(_new(username)).encode(), headers=headers)
        assert_error(r, 415, "unsupported_media_type")
    assert await _rows_named(root, username) == []


async def test_json_with_a_charset_parameter_is_accepted(root: Client) -> None:
    body = _new()
    r = await root.post("/api/users", content=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok(r, 201)["username"] == body["username"]


async def test_a_body_over_the_limit_is_413_whether_declared_or_streamed(server: Server, root: Client) -> None:
    limit = server.settings.max_json_bytes
    username = unique("to.qua.")
    big = json.dumps(_new(username, title="x" * limit)).encode()
    assert len(big) > limit

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 8192):
            yield big[start:start + 8192]

    async with nothing_written(root):
        assert_error(await root.post("/api/users", content=big, headers={"Content-Type": "application/json"}), 413,
                     "payload_too_large")
        r = await root.post("/api/users", content=chunks(), headers={"Content-Type": "application/json"})
        assert "content-length" not in r.request.headers
        assert_error(r, 413, "payload_too_large")
    assert await _rows_named(root, username) == []
    # Just under the limit is not refused for its size (here: 422, the title is too long).
    padded = json.dumps(_new(title="x" * (limit - 200))).encode()
    assert len(padded) <= limit
    assert_error(await root.post("/api/users", content=padded, headers={"Content-Type": "application/json"}), 422)


# --- concurrency -----------------------------------------------------------------------------------

async def test_ten_concurrent_creations_of_one_username_make_exactly_one_account(server: Server,
                                                                                  root: Client) -> None:
    username = unique("dong.thoi.")
    head = await audit_head(root)
    answers = await asyncio.gather(*(root.post("/api/users", json=_new(username, full_name=f"Người {i}"))
                                     for i in range(10)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [201] + [409] * 9, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "username_taken")
    winner = next(r.json() for r in answers if r.status_code == 201)
    assert [u["id"] for u in await _rows_named(root, username)] == [winner["id"]]
    assert [e["action"] for e in await audit_since(root, head)] == ["user.created"]
    verify = ok(await root.get("/api/audit/verify"))
    assert verify["ok"] is True, verify


WEAK_PASSWORDS = ["1234567890", "password12", "qwertyuiop", "thutuong2026"]


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
async def test_a_weak_password_is_refused_at_creation_and_reset_with_400_weak_password(
        root: Client, new_user: Any, password: str) -> None:
    """The policy (length, common passwords and keyboard walks, not only digits, not the person's
    name) holds wherever a password is set: creation and an administrator's reset."""
    person = await new_user("dat-lai")
    async with nothing_written(root):
        username = unique("yeu.")
        assert_error(await root.post("/api/users", json=_new(username, password=password)), 400, "weak_password")
        assert_error(await root.post(f"/api/users/{person.id}/password", json={"new_password": password}), 400,
                     "weak_password")
    assert await _rows_named(root, username) == []
    ok(await person.client.get("/api/auth/me"))  # a refused reset ends no session


async def test_a_password_that_is_the_persons_name_is_refused(root: Client) -> None:
    async with nothing_written(root):
        for password in ("Nguyen-Van-An", "NGUYỄN VĂN AN"):
            assert_error(await root.post("/api/users", json=_new(password=password)), 400, "weak_password")
