"""shopper_page.py (generated) and edge_page.py: the edge serves the same page as the origin,
with the origin's headers, never calling the origin; under CPython and under Pyodide."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import shopper_page
from edge_cache import Layer
from edge_fakes import Background, FakeOrigin, MemoryTier
from edge_host import EdgeHost, require_node_runtime
from edge_page import HTML_CSP, SECURITY_HEADERS, page_response
from edge_service import EdgeService
from edge_settings import EdgeSettings
from origin_fetch import OriginPool
from stub_origin import StubOrigin

from origin.protection import headers as origin_headers

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "origin" / "static"


def generator() -> ModuleType:
    path = ROOT / "scripts" / "edge" / "build_shopper_page.py"
    spec = importlib.util.spec_from_file_location("build_shopper_page", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_generated_module_is_up_to_date() -> None:
    module = ROOT / "edge_worker" / "shopper_page.py"
    assert module.read_text(encoding="utf-8") == generator().render(), (
        "edge_worker/shopper_page.py is stale: run scripts/edge/build_shopper_page.py"
    )


@pytest.mark.parametrize("name", ["shopper.html", "shopper.js", "shopper.css"])
def test_the_edge_holds_exactly_the_origin_files(name: str) -> None:
    assert shopper_page.FILES[name][1] == (STATIC / name).read_text(encoding="utf-8")


def test_the_generator_round_trips_awkward_text(tmp_path: Path) -> None:
    gen = generator()
    text = "a \"quote\" and 'another' \\ tab\t \u201ccurly\u201d \U0001f697 " + "x" * 300 + "\n\n"
    source = "VALUE = (\n" + "\n".join(gen._literal(text)) + "\n)\n"
    assert all(len(line) <= 100 for line in source.splitlines())
    namespace: dict[str, object] = {}
    exec(source, namespace)  # the generator's own output, nothing from outside
    assert namespace["VALUE"] == text


def test_the_page_has_the_origin_security_headers_and_csp() -> None:
    assert HTML_CSP == origin_headers.HTML_CSP
    assert {k.lower(): v for k, v in origin_headers.SECURITY_HEADERS.items()} == SECURITY_HEADERS
    page = page_response("shopper.html")
    assert page.status == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == HTML_CSP
    assert page.headers["x-frame-options"] == "DENY"
    script = page_response("shopper.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-security-policy" not in script.headers


def test_the_page_has_no_inline_script_or_style() -> None:
    # The CSP allows only 'self': an inline <script> body or style attribute would not run.
    html = shopper_page.HTML
    assert html.count("<script") == 1
    assert '<script src="/static/shopper.js" defer></script>' in html
    assert "<style" not in html and "style=" not in html and "onclick" not in html.lower()


async def test_the_service_answers_the_page_without_the_origin() -> None:
    origin, background = FakeOrigin(), Background()
    tiers = [MemoryTier(Layer.KV), MemoryTier(Layer.CACHE)]
    pool = OriginPool(("http://a",), origin, timeout_s=0.05, budget_s=1.0)
    service = EdgeService(EdgeSettings(), tiers, pool)
    for target, file in [("/", "shopper.html"), ("/static/shopper.js", "shopper.js")]:
        response = await service.handle(
            "GET", f"https://edge{target}", {"x-request-id": "page-1"}.get, background
        )
        assert response.status == 200
        assert response.body == shopper_page.FILES[file][1]
        assert response.headers["x-request-id"] == "page-1"
        assert "x-cache" not in response.headers
    await background.drain()
    assert origin.calls == []
    assert tiers[0].writes == tiers[1].writes == []


# ---- under Pyodide + miniflare, the real worker code -------------------------------------------


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EdgeHost, StubOrigin]]:
    require_node_runtime()
    stub = StubOrigin().start()
    edge = EdgeHost(tmp_path_factory.mktemp("page") / "persist", stub.url)
    yield edge, stub
    edge.stop()
    stub.stop()


def test_the_edge_host_serves_the_page_and_its_files(host: tuple[EdgeHost, StubOrigin]) -> None:
    edge, stub = host
    page = edge.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == HTML_CSP
    assert page.text == (STATIC / "shopper.html").read_text(encoding="utf-8")
    for name in ("shopper.js", "shopper.css"):
        asset = edge.get(f"/static/{name}")
        assert asset.status_code == 200
        assert asset.text == (STATIC / name).read_text(encoding="utf-8")
    assert stub.behaviour.calls == []
    assert edge.get("/static/dashboard.js").status_code == 404
