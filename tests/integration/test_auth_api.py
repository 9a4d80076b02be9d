"""/api/auth: cookie sessions with CSRF, bearer tokens, logout, password changes, and what deactivation
does to open sessions (failed-login throttling: test_login_throttle.py; cookie names over HTTPS:
test_https_mode.py)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.integration.conftest import Cast, Client, Server, unique
from tests.integration.helpers import assert_error, audit_head, audit_since, nothing_written, ok

SESSION = "ecabinet_session"
CSRF = "ecabinet_csrf"


def _cookie_header(r: httpx.Response, name: str) -> str:
    found = [h for h in r.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(found) == 1, r.headers.get_list("set-cookie")
    return found[0]


def _attributes(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


async def test_cookie_login_sets_an_httponly_samesite_lax_session_cookie_and_returns_the_csrf_token(
        server: Server, new_user: Any, root: Client) -> None:
    person = await new_user("login")
    head = await audit_head(root)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post("/api/auth/login", json={"username": person.username, "password": person.password})
    body = ok(r)
    session = _cookie_header(r, SESSION)
    attrs = _attributes(session)
    assert "httponly" in attrs and "samesite=lax" in attrs and "path=/" in attrs
    assert any(a.startswith("max-age=") and int(a.split("=")[1]) > 0 for a in attrs)
    # The CSRF cookie is readable by the page's script, and carries the same token as the body.
    csrf = _cookie_header(r, CSRF)
    assert "httponly" not in _attributes(csrf) and "samesite=lax" in _attributes(csrf)
    assert csrf.split(";")[0] == f"{CSRF}={body['csrf_token']}"
    assert len(body["csrf_token"]) >= 32
    assert body["user"]["username"] == person.username and body["user"]["id"] == person.id
    assert "password" not in body["user"] and "password_hash" not in body["user"]
    assert body["expires_at"]
    # The session token itself never appears in the body.
    assert session.split(";")[0].split("=", 1)[1] not in r.text
    assert [(e["action"], e["actor_id"]) for e in await audit_since(root, head)] == [("auth.login", person.id)]


async def test_me_answers_who_is_logged_in_with_the_csrf_token_of_a_cookie_session(cast: Cast) -> None:
    member = cast["member"]
    body = ok(await member.client.get("/api/auth/me"))
    assert body["user"]["id"] == member.id and body["user"]["username"] == member.username
    assert body["csrf_token"] == member.client.csrf


async def test_me_without_a_session_or_with_a_made_up_cookie_is_401(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_error(await http.get("/api/auth/me"), 401, "not_authenticated")
        http.cookies.set(SESSION, "made-up-token")
        assert_error(await http.get("/api/auth/me"), 401)


async def test_cookie_request_without_or_with_a_wrong_csrf_header_is_403_and_writes_nothing(
        cast: Cast, root: Client, new_meeting: Any) -> None:
    meeting = await new_meeting("draft")
    mid = meeting["id"]
    sec = cast["secretary"].client
    other_csrf = cast["member"].client.csrf  # a valid token, but of another session
    attempts = [
        ("POST", "/api/meetings", {"body_id": cast.body["id"], "title": "Không CSRF",
                                   "starts_at": "2026-12-01T08:00:00+07:00"}),
        ("PATCH", f"/api/meetings/{mid}", {"title": "Đổi tên"}),
        ("POST", f"/api/meetings/{mid}/transitions", {"action": "publish"}),
        ("POST", f"/api/meetings/{mid}/agenda", {"title": "Mục mới"}),
        ("DELETE", f"/api/meetings/{mid}/participants/{meeting['participants'][0]['id']}", None),
        ("POST", "/api/auth/logout", None),
    ]
    async with nothing_written(root, (sec, f"/api/meetings/{mid}"), (sec, "/api/meetings")):
        for method, url, body in attempts:
            for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": other_csrf or ""}):
                # Straight through httpx: the session cookie goes along, the header only as given here.
                r = await sec.http.request(method, url, json=body, headers=headers)
                assert_error(r, 403, "csrf_failed")
    # The refused logout did not end the session.
    ok(await sec.get("/api/auth/me"))


async def test_bearer_token_login_works_without_csrf(server: Server, cast: Cast, new_user: Any,
                                                     root: Client) -> None:
    person = await new_user("api", body_id=cast.body["id"], secretariat=True, bearer=True)
    assert person.client.csrf is None and "Authorization" in person.client.http.headers
    me = ok(await person.client.get("/api/auth/me"))
    assert me["user"]["id"] == person.id and me["csrf_token"] is None
    r = await person.client.http.post("/api/meetings", json={
        "body_id": cast.body["id"], "title": "Tạo bằng token", "starts_at": "2026-12-01T08:00:00+07:00"})
    created = ok(r, 201)
    assert created["my_role"] == "secretary"
    # The token login itself: 201 with the token, and an audit entry of kind bearer.
    head = await audit_head(root)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post("/api/auth/tokens", json={"username": person.username, "password": person.password,
                                                      "label": "máy chủ tích hợp"})
    token = ok(r, 201)
    assert token["user"]["id"] == person.id and len(token["token"]) >= 32 and token["expires_at"]
    assert not r.headers.get_list("set-cookie")
    entries = await audit_since(root, head)
    assert [(e["action"], e["details"]) for e in entries] == [("auth.login", {"kind": "bearer"})]


async def test_a_bearer_token_sent_as_a_cookie_is_refused(server: Server, cast: Cast) -> None:
    member = cast["member"]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        token = ok(await http.post("/api/auth/tokens", json={"username": member.username,
                                                             "password": member.password}), 201)["token"]
        me = ok(await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}))
        assert me["user"]["id"] == member.id
        http.cookies.set(SESSION, token)
        assert_error(await http.get("/api/auth/me"), 401)
        assert_error(await http.get("/api/meetings"), 401)


async def test_a_cookie_session_token_sent_as_bearer_is_refused(server: Server, cast: Cast) -> None:
    member = cast["member"]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post("/api/auth/login", json={"username": member.username, "password": member.password})
        token = ok(r) and r.cookies[SESSION]
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_error(await http.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}), 401)
        http.cookies.set(SESSION, token)
        ok(await http.get("/api/auth/me"))  # the same token is fine where it belongs


async def test_a_malformed_authorization_header_is_401(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for value in ("Basic YWRtaW46YWRtaW4=", "Bearer", "token"):
            assert_error(await http.get("/api/auth/me", headers={"Authorization": value}), 401,
                         "bad_authorization_header")


async def test_logout_ends_the_cookie_session_and_clears_the_cookies(server: Server, new_user: Any,
                                                                     root: Client) -> None:
    person = await new_user("logout")
    cookie = person.client.http.cookies[SESSION]
    head = await audit_head(root)
    r = await person.client.post("/api/auth/logout")
    assert r.status_code == 204, r.text
    cleared = {h.split("=")[0]: _attributes(h) for h in r.headers.get_list("set-cookie")}
    assert set(cleared) == {SESSION, CSRF}
    assert all("max-age=0" in attrs for attrs in cleared.values())
    assert [e["action"] for e in await audit_since(root, head)] == ["auth.logout"]
    # Whoever still holds the old cookie gets nowhere.
    async with httpx.AsyncClient(base_url=server.base_url, cookies={SESSION: cookie}) as http:
        assert_error(await http.get("/api/auth/me"), 401)


async def test_logout_ends_a_bearer_token_and_only_that_session(server: Server, new_user: Any) -> None:
    person = await new_user("logout-bearer", bearer=True)
    other = Client(server)
    try:
        ok(await other.login(person.username, person.password))
        assert (await person.client.post("/api/auth/logout")).status_code == 204
        assert_error(await person.client.get("/api/auth/me"), 401)
        ok(await other.get("/api/auth/me"))
    finally:
        await other.close()


async def test_wrong_password_and_unknown_username_answer_the_same_401(server: Server, cast: Cast) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        wrong = await http.post("/api/auth/login", json={"username": cast["member2"].username,
                                                         "password": "not-the-password"})
        ghost = await http.post("/api/auth/login", json={"username": unique("khong-co."), "password": "whatever-1"})
        token = await http.post("/api/auth/tokens", json={"username": cast["member2"].username,
                                                          "password": "not-the-password"})
    for r in (wrong, ghost, token):
        assert_error(r, 401, "invalid_credentials")
        assert not r.headers.get_list("set-cookie")
    assert wrong.json() == ghost.json() == token.json()


async def test_login_usernames_are_case_and_space_insensitive(server: Server, cast: Cast) -> None:
    member = cast["member"]
    c = Client(server)
    try:
        ok(await c.login(f"  {member.username.upper()} ", member.password))
        assert c.user is not None and c.user["id"] == member.id
    finally:
        await c.close()


async def test_login_body_is_validated(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for body in ({"username": "admin"}, {"username": "admin", "password": "x", "remember": True},
                     {"username": "admin", "password": 12345678901}, {"username": "", "password": "x"},
                     {"username": "a" * 65, "password": "x"}):
            assert_error(await http.post("/api/auth/login", json=body), 422, "validation_error")


async def _login(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/login", json={"username": username, "password": password})


async def test_a_successful_login_forgets_earlier_failures(server: Server, new_user: Any) -> None:
    person = await new_user("forgets")
    below = 3
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for _ in range(below):
            assert_error(await _login(http, person.username, "wrong-password"), 401)
        ok(await _login(http, person.username, person.password))
        for _ in range(below):
            assert_error(await _login(http, person.username, "wrong-password"), 401)
        ok(await _login(http, person.username, person.password))


async def test_change_password_ends_the_other_sessions_but_keeps_this_one(server: Server, new_user: Any,
                                                                          root: Client) -> None:
    person = await new_user("changer")
    other_cookie, bearer = Client(server), Client(server)
    try:
        ok(await other_cookie.login(person.username, person.password))
        ok(await bearer.login_bearer(person.username, person.password), 201)
        head = await audit_head(root)
        r = await person.client.post("/api/auth/password", json={"current_password": person.password,
                                                                 "new_password": "Mat-khau-moi-2027"})
        assert r.status_code == 204, r.text
        assert [e["action"] for e in await audit_since(root, head)] == ["auth.password_changed"]
        ok(await person.client.get("/api/auth/me"))
        assert_error(await other_cookie.get("/api/auth/me"), 401)
        assert_error(await bearer.get("/api/auth/me"), 401)
    finally:
        await other_cookie.close()
        await bearer.close()
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_error(await _login(http, person.username, person.password), 401, "invalid_credentials")
        ok(await _login(http, person.username, "Mat-khau-moi-2027"))


async def test_refused_password_changes_change_nothing(server: Server, new_user: Any, root: Client) -> None:
    person = await new_user("keeper")
    other = Client(server)
    try:
        ok(await other.login(person.username, person.password))
        async with nothing_written(root):
            for body, status, code in [
                ({"current_password": person.password, "new_password": "short"}, 422, "validation_error"),
                ({"current_password": person.password, "new_password": "a" * 257}, 422, "validation_error"),
                ({"current_password": person.password}, 422, "validation_error"),
                ({"current_password": "wrong-password", "new_password": "Mat-khau-moi-2027"}, 403, "wrong_password"),
                ({"current_password": person.password, "new_password": person.password}, 403, "same_password"),
                ({"current_password": person.password, "new_password": "aaaaaaaaaaaa"}, 400, "weak_password"),
                *[({"current_password": person.password, "new_password": weak}, 400, "weak_password")
                  for weak in ("1234567890", "password12", "qwertyuiop", "thutuong2026", "Nguoi-keeper")],
            ]:
                assert_error(await person.client.post("/api/auth/password", json=body), status, code)
        ok(await other.get("/api/auth/me"))
    finally:
        await other.close()
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        ok(await _login(http, person.username, person.password))


async def test_a_deactivated_user_cannot_log_in_and_their_sessions_die(server: Server, new_user: Any,
                                                                       root: Client) -> None:
    person = await new_user("leaving")
    bearer = Client(server)
    try:
        ok(await bearer.login_bearer(person.username, person.password), 201)
        updated = ok(await root.patch(f"/api/users/{person.id}", json={"is_active": False}))
        assert updated["is_active"] is False
        assert_error(await person.client.get("/api/auth/me"), 401)
        assert_error(await bearer.get("/api/auth/me"), 401)
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            assert_error(await _login(http, person.username, person.password), 401, "invalid_credentials")
            assert_error(await http.post("/api/auth/tokens", json={"username": person.username,
                                                                   "password": person.password}), 401)
            # Reactivated, the person logs in again (the old sessions stay dead).
            ok(await root.patch(f"/api/users/{person.id}", json={"is_active": True}))
            ok(await _login(http, person.username, person.password))
        assert_error(await person.client.get("/api/auth/me"), 401)
    finally:
        await bearer.close()


async def test_an_admin_password_reset_ends_the_users_sessions(server: Server, new_user: Any, root: Client) -> None:
    person = await new_user("reset")
    r = await root.post(f"/api/users/{person.id}/password", json={"new_password": "Dat-lai-mat-khau-1"})
    assert r.status_code == 204, r.text
    assert_error(await person.client.get("/api/auth/me"), 401)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert_error(await _login(http, person.username, person.password), 401)
        ok(await _login(http, person.username, "Dat-lai-mat-khau-1"))
