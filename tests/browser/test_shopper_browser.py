"""The shopper page in a real browser (Debian's chromium driven by Playwright) against a real
`vsearch serve`, read-only: a query typed by keyboard shows results and what was understood, a
facet narrows them, "load more" appends without duplicates, and the CSP is never violated."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from servers import OriginProcess
from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 20  # vsearch_query.DEFAULT_LIMIT: one page of results


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert shutil.which("chromium") == CHROMIUM, "chromium is missing: run scripts/setup"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def origin(
    database_url: str, inventory: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OriginProcess]:
    server = OriginProcess(database_url, tmp_path_factory.mktemp("shopper"))
    yield server
    server.stop()


def searched(page: Page, count: int) -> None:
    page.wait_for_function(f"() => window.vsearchShopper.searches >= {count}", timeout=20_000)


def shown(page: Page) -> list[dict[str, str]]:
    """The result cards on the page, as their data attributes."""
    return list(page.eval_on_selector_all("#results > li", "els => els.map(e => ({...e.dataset}))"))


def test_search_narrow_and_load_more_in_a_real_browser(
    browser: Browser, origin: OriginProcess, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{origin.url}/")

    # Keyboard alone: the skip link, then the search box; Enter searches.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "q"
    page.keyboard.type("cheap suv under 30k")
    page.keyboard.press("Enter")
    searched(page, 1)
    first = shown(page)
    assert len(first) == LIMIT
    assert all(r["body"] == "suv" and int(r["price"]) <= 30_000 for r in first)
    card = page.locator("#results > li").first
    assert re.fullmatch(r"\$[\d,]+", card.locator(".price").inner_text())
    assert [t.inner_text() for t in card.locator("dt").all()] == ["Year", "Mileage", "Location"]
    understood = page.text_content("#understood") or ""
    assert understood.startswith("Understood: SUV, under $30,000"), understood
    source = page.text_content("#source") or ""
    assert re.fullmatch(
        r"Answered by origin (database|memory \(L1\)) \((MISS|HIT)\) in \d+ ms", source
    )
    total = page.evaluate("() => window.vsearchShopper.response.facets.total")
    assert f"{total:,} vehicles match" in (page.text_content("#status") or "")

    # A facet narrows: the largest fuel that is not everything, and more than one page of it.
    fuels: dict[str, int] = page.evaluate("() => window.vsearchShopper.response.facets.fuel")
    fuel, count = max(((f, n) for f, n in fuels.items() if LIMIT < n < total), key=lambda x: x[1])
    page.click(f'#facets button[data-facet="fuel"][data-value="{fuel}"]')
    searched(page, 2)
    narrowed = shown(page)
    assert page.evaluate("() => window.vsearchShopper.response.facets.total") == count < total
    assert len(narrowed) == LIMIT
    assert all(r["fuel"] == fuel and r["body"] == "suv" for r in narrowed)
    pressed = page.get_attribute(f'#facets button[data-value="{fuel}"]', "aria-pressed")
    assert pressed == "true"
    assert page.locator("#active button[data-param=fuel]").count() == 1  # removable

    # "Load more" by keyboard appends the next page; focus moves to its first card.
    page.focus("#more")
    page.keyboard.press("Enter")
    searched(page, 3)
    more = shown(page)
    ids = [r["id"] for r in more]
    assert len(more) == min(count, 2 * LIMIT)
    assert len(set(ids)) == len(ids)
    assert more[:LIMIT] == narrowed
    assert all(r["fuel"] == fuel for r in more)
    assert page.evaluate("() => document.activeElement.dataset.id") == ids[LIMIT]
    assert f"showing {len(more)}" in (page.text_content("#status") or "")

    page.evaluate("() => window.scrollTo(0, 0)")
    shot = tmp_path / "shopper.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("VSEARCH_UPDATE_SCREENSHOTS"):
        shutil.copy(shot, ROOT / "docs" / "img" / "shopper.png")
    assert errors == []  # a CSP violation or a script error would show here


def test_a_shared_address_searches_on_load(browser: Browser, origin: OriginProcess) -> None:
    page = browser.new_page()
    page.goto(f"{origin.url}/?q=electric+pickup&sort=price_asc")
    searched(page, 1)
    assert page.input_value("#q") == "electric pickup"
    assert page.input_value("#sort") == "price_asc"
    prices = [int(r["price"]) for r in shown(page)]
    assert prices == sorted(prices) and prices
    assert (page.text_content("#understood") or "").startswith("Understood: pickup, electric")
