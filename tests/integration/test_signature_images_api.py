"""Signature and seal images (issue 15 #2): a signer keeps a handwritten signature, an administrator gives a
body its seal; both are re-drawn in the sandbox from the uploaded PNG and appear in the chair's signature
box on the issued resolution. What bad images get, and who may do what."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, PngImagePlugin
from pypdf import PdfReader

from tests.integration.conftest import Server
from tests.integration.helpers import assert_error, ok
from tests.integration.test_records_api import PASSPHRASE, RESOLUTION, _closed_poll, _credential


def png(size: tuple[int, int], colour: tuple[int, int, int, int], *, note: str = "") -> bytes:
    out = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    if note:
        info.add_text("Comment", note)
    Image.new("RGBA", size, colour).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def put(client: Any, url: str, data: bytes, content_type: str = "image/png") -> Any:
    return client.put(url, content=data, headers={"Content-Type": content_type})


async def test_a_signer_keeps_a_signature_image_redrawn_without_anything_but_its_pixels(
        world: dict[str, Any], client_factory: Any) -> None:
    chair = world["people"]["chair"].client
    stored = ok(await put(chair, "/api/me/signature-image", png((300, 100), (0, 0, 150, 255), note="secret note")))
    image = await chair.get("/api/me/signature-image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(image.content)) as kept:
        assert kept.size == (300, 100) and "Comment" not in kept.info, "only the pixels are kept"
    assert len(stored["sha256"]) == 64
    assert (await chair.delete("/api/me/signature-image")).status_code == 204
    assert_error(await chair.get("/api/me/signature-image"), 404, "no_image")
    anonymous = client_factory()
    assert_error(await put(anonymous, "/api/me/signature-image", png((10, 10), (0, 0, 0, 255))), 401)


async def test_bad_images_get_clear_errors_and_nothing_is_stored(world: dict[str, Any]) -> None:
    member = world["people"]["member"].client
    jpeg = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 0, 0)).save(jpeg, "JPEG")
    assert_error(await put(member, "/api/me/signature-image", jpeg.getvalue()), 400, "not_a_png")
    assert_error(await put(member, "/api/me/signature-image", b"\x89PNG\r\n\x1a\n broken"), 400, "not_a_png")
    assert_error(await put(member, "/api/me/signature-image", png((2500, 10), (0, 0, 0, 255))), 400,
                 "png_too_large")
    assert_error(await put(member, "/api/me/signature-image", jpeg.getvalue(), "image/jpeg"), 415)
    assert_error(await member.get("/api/me/signature-image"), 404, "no_image")


async def test_only_an_administrator_sets_a_bodys_seal(world: dict[str, Any], admin: Any) -> None:
    body_id = world["body"]["id"] if "body" in world else world["meeting"]["body_id"]
    secretary = world["people"]["secretary"].client
    assert_error(await put(secretary, f"/api/bodies/{body_id}/seal-image", png((100, 100), (200, 0, 0, 255))), 403)
    assert_error(await put(admin, "/api/bodies/999999/seal-image", png((100, 100), (200, 0, 0, 255))), 404)
    ok(await put(admin, f"/api/bodies/{body_id}/seal-image", png((100, 100), (200, 0, 0, 255))))
    seal = await admin.get(f"/api/bodies/{body_id}/seal-image")
    assert seal.status_code == 200 and seal.content.startswith(b"\x89PNG")
    assert (await admin.delete(f"/api/bodies/{body_id}/seal-image")).status_code == 204
    assert_error(await admin.get(f"/api/bodies/{body_id}/seal-image"), 404, "no_image")


async def test_the_issued_resolution_shows_the_chairs_signature_and_the_bodys_seal(
        server: Server, session_world: dict[str, Any], live_factory: Any, admin: Any) -> None:
    people, mid = session_world["people"], session_world["meeting_id"]
    sec, chair = people["secretary"].client, people["chair"].client
    body_id = session_world["meeting"]["body_id"]
    ok(await put(chair, "/api/me/signature-image", png((300, 100), (0, 0, 150, 255))))
    ok(await put(admin, f"/api/bodies/{body_id}/seal-image", png((200, 200), (210, 0, 0, 255))))
    sec_cred = await _credential(server, people["secretary"].username)
    chair_cred = await _credential(server, people["chair"].username)
    poll_id = await _closed_poll(live_factory, people, mid)
    record = ok(await sec.post(f"/api/meetings/{mid}/records", json={**RESOLUTION, "number": "77/NQ-UBND",
                                                                     "poll_id": poll_id}), 201)
    ok(await sec.post(f"/api/records/{record['id']}/review", json={"credential_id": sec_cred, "secret": PASSPHRASE}))
    ok(await chair.post(f"/api/records/{record['id']}/sign", json={"credential_id": chair_cred,
                                                                   "secret": PASSPHRASE}))
    pdf = (await sec.get(f"/api/records/{record['id']}/pdf")).content
    widgets = [a.get_object() for page in PdfReader(io.BytesIO(pdf)).pages for a in page.get("/Annots", [])
               if a.get_object().get("/FT") == "/Sig"]
    assert [w["/T"] for w in widgets] == ["chair"]
    resources = widgets[0]["/AP"]["/N"]["/Resources"]
    drawn = [x.get_object() for x in resources.get("/XObject", {}).values()]

    def has_image(xobject: Any) -> bool:
        if xobject.get("/Subtype") == "/Image":
            return True
        inner = xobject.get("/Resources", {}).get("/XObject", {})
        return any(has_image(x.get_object()) for x in inner.values())

    assert any(has_image(x) for x in drawn), "the box draws the signature and seal image"
    report = ok(await sec.get(f"/api/records/{record['id']}/verification"))
    assert report["valid"] is True
