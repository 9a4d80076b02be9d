"""The app as a browser meets it: the tablet shell, hardening headers, JSON errors everywhere under /api."""

from __future__ import annotations

import httpx

from tests.integration.conftest import Server


async def test_root_serves_the_tablet_app_with_a_strict_content_security_policy(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get("/")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    assert '<script type="module"' in r.text and "<script>" not in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


async def test_unknown_api_routes_and_methods_answer_json_errors(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        missing = await http.get("/api/no-such-thing")
        wrong_method = await http.delete("/api/health")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "method_not_allowed"


async def test_not_logged_in_gets_401_with_a_json_error(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.get("/api/meetings")
    assert r.status_code == 401
    assert set(r.json()["error"]) >= {"code", "message"}


async def test_only_the_app_itself_is_served_not_build_files(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for path in ["/styles/app.css", "/src/app.js", "/i18n/vi.json", "/favicon.svg"]:
            assert (await http.get(path)).status_code == 200, path
        for path in ["/package.json", "/package-lock.json", "/vendor.sh", "/node_modules/htm/package.json",
                     "/src/../package.json", "/.gitignore"]:
            assert (await http.get(path)).status_code == 404, path


async def test_socket_io_answers_carry_the_same_security_headers(server: Server) -> None:
    """Finding 7d: the Socket.IO long-polling answers (the handshake, and its refusals) are hardened like
    every REST answer: no MIME sniffing, no framing, no referrer, the same CSP, no caching."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answers = [await http.get("/socket.io/", params={"EIO": "4", "transport": "polling"}),
                   await http.get("/socket.io/", params={"EIO": "4", "transport": "polling", "sid": "nope"}),
                   await http.get("/api/health")]
    for r in answers:
        assert r.headers.get("x-content-type-options") == "nosniff", (r.url, r.headers)
        assert r.headers.get("x-frame-options") == "DENY", (r.url, r.headers)
        assert r.headers.get("referrer-policy") == "no-referrer", (r.url, r.headers)
        assert "default-src 'self'" in r.headers.get("content-security-policy", ""), (r.url, r.headers)
        assert r.headers.get("cache-control"), (r.url, r.headers)
        # Each header once: the REST answers are not hardened twice.
        assert len(r.headers.get_list("x-content-type-options")) == 1, (r.url, r.headers)
