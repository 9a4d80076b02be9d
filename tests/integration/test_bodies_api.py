"""/api/bodies: anyone logged in lists them; only administrators create and change them; names are unique."""

from __future__ import annotations

import httpx

from tests.integration.conftest import Cast, Client, Server, unique
from tests.integration.helpers import assert_error, audit_head, audit_since, nothing_written, ok


async def test_any_logged_in_user_lists_the_bodies(server: Server, cast: Cast) -> None:
    for who in ("member", "guest", "bridge", "outsider", "secretary"):
        listed = ok(await cast[who].client.get("/api/bodies"))
        assert {cast.body["id"], cast.other_body["id"]} <= {b["id"] for b in listed}
        assert [b["id"] for b in listed] == sorted(b["id"] for b in listed)
    async with httpx.AsyncClient(base_url=server.base_url) as anonymous:
        assert_error(await anonymous.get("/api/bodies"), 401, "not_authenticated")


async def test_admin_creates_a_body_with_trimmed_fields_and_an_audit_entry(root: Client) -> None:
    name = unique("Ủy ban nhân dân tỉnh Lào Cai ")
    head = await audit_head(root)
    body = ok(await root.post("/api/bodies", json={"name": f"  {name}  ", "short_name": " UBND LC ",
                                                   "kind": "provincial_committee"}), 201)
    assert (body["name"], body["short_name"], body["kind"]) == (name, "UBND LC", "provincial_committee")
    assert body in ok(await root.get("/api/bodies"))
    assert [(e["action"], e["object_id"]) for e in await audit_since(root, head)] == [("body.created", body["id"])]
    assert ok(await root.post("/api/bodies", json={"name": unique("Bộ ")}), 201)["kind"] == "government"


async def test_only_an_administrator_may_create_or_change_a_body(root: Client, cast: Cast) -> None:
    name = unique("Sở Nội vụ ")
    async with nothing_written(root, (root, "/api/bodies")):
        for who in ("secretary", "chair", "member"):
            c = cast[who].client
            assert_error(await c.post("/api/bodies", json={"name": name}), 403, "forbidden")
            assert_error(await c.patch(f"/api/bodies/{cast.body['id']}", json={"name": name}), 403, "forbidden")


async def test_a_duplicate_body_name_is_409_and_only_one_body_exists(root: Client) -> None:
    name = unique("Ủy ban nhân dân tỉnh Hà Giang ")
    first = ok(await root.post("/api/bodies", json={"name": name}), 201)
    async with nothing_written(root, (root, "/api/bodies")):
        for variant in (name, f" {name} "):
            assert_error(await root.post("/api/bodies", json={"name": variant, "kind": "other"}), 409, "body_exists")
    assert [b["id"] for b in ok(await root.get("/api/bodies")) if b["name"] == name] == [first["id"]]


async def test_admin_changes_a_body_but_not_to_another_bodys_name(root: Client) -> None:
    a = ok(await root.post("/api/bodies", json={"name": unique("Tỉnh A ")}), 201)
    b = ok(await root.post("/api/bodies", json={"name": unique("Tỉnh B ")}), 201)
    changed = ok(await root.patch(f"/api/bodies/{a['id']}", json={"short_name": "TA", "kind": "other"}))
    assert (changed["name"], changed["short_name"], changed["kind"]) == (a["name"], "TA", "other")
    # Sending its own name again is no conflict.
    assert ok(await root.patch(f"/api/bodies/{a['id']}", json={"name": a["name"]}))["name"] == a["name"]
    async with nothing_written(root, (root, "/api/bodies")):
        assert_error(await root.patch(f"/api/bodies/{a['id']}", json={"name": b["name"]}), 409, "body_exists")
        assert_error(await root.patch(f"/api/bodies/{a['id']}", json={"name": ""}), 422, "validation_error")
        assert_error(await root.patch(f"/api/bodies/{a['id']}", json={"name": None}), 422, "validation_error")
        assert_error(await root.patch(f"/api/bodies/{a['id']}", json={"kind": "ministry"}), 422, "validation_error")
        assert_error(await root.patch(f"/api/bodies/{a['id']}", json={"short_name": "x" * 51}), 422,
                     "validation_error")
        assert_error(await root.patch("/api/bodies/2000000000", json={"short_name": "x"}), 404, "not_found")
        assert_error(await root.patch("/api/bodies/99999999999", json={"short_name": "x"}), 404, "not_found")


async def test_invalid_body_definitions_are_422(root: Client) -> None:
    async with nothing_written(root, (root, "/api/bodies")):
        for bad in ({"name": "x" * 201}, {"name": "   "}, {"name": "A", "kind": "ministry"}, {"name": 5},
                    {"name": "A", "parent_id": 1}, {}):
            assert_error(await root.post("/api/bodies", json=bad), 422, "validation_error")
