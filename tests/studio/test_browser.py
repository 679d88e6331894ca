"""The studio in a real browser: the system's headless Chromium, driven by Playwright, on both
backends with the demo's data. Select with `-m browser`."""

from __future__ import annotations

import re

import pytest

import chaindb
from chaindb import core, ledger
from tests.studio.conftest import BULK_TRANSFERS, PAGE_WAIT_S, password_of, serving

pytestmark = pytest.mark.browser
expect = pytest.importorskip("playwright.sync_api").expect
PAGES_MAX = 40  # 10,000 rows at 500 a page is 20 pages; the bound stops a loop that never ends


@pytest.fixture
def page(browser):
    context = browser.new_context()
    opened = context.new_page()
    opened.set_default_timeout(PAGE_WAIT_S * 1000)
    yield opened
    context.close()


def no_password(page, url: str) -> None:
    password = password_of(url)
    if password:
        assert password not in page.content(), page.url


def test_a_person_browses_every_page_by_its_links(studio_url, page):
    with serving(studio_url) as base:
        page.goto(f"{base}/")
        assert page.title().startswith("Tables")
        no_password(page, studio_url)
        page.get_by_role("link", name="users", exact=True).click()
        page.wait_for_url(re.compile(r"/tables/users$"))
        page.locator("a.open").first.click()
        page.wait_for_url(re.compile(r"/tables/users/row"))
        assert page.locator("#incoming").get_by_text("ledger_accounts.user_id").is_visible()
        page.locator("#incoming a", has_text="ledger_accounts.user_id").click()
        page.wait_for_url(re.compile(r"/tables/ledger_accounts\?user_id="))
        no_password(page, studio_url)
        for label, heading in (("Ledger", "Ledger"), ("Migrations", "Migrations")):
            page.locator("header nav a", has_text=label).click()
            page.wait_for_url(re.compile(f"/{label.lower()}$"))
            expect(page.locator("h1")).to_have_text(heading)
            no_password(page, studio_url)
        expect(page.locator("#up-to-date")).to_have_text("up to date")
        page.locator("header nav a", has_text="Ledger").click()
        page.get_by_role("link", name="points", exact=True).click()
        page.locator("#leaderboard a", has_text="alice").click()
        page.wait_for_url(re.compile(r"/ledger/account"))
        assert "150" in page.locator("#balance").inner_text()
        page.locator("#history a").first.click()
        page.wait_for_url(re.compile(r"/ledger/transfers/\d+"))
        assert page.locator("#idempotency-key").inner_text().startswith("fx:")
        no_password(page, studio_url)


def test_a_person_filters_and_pages_through_10000_rows(studio_url, page):
    with serving(studio_url) as base:
        page.goto(f"{base}/tables/ledger_transfers?_size=500")
        page.select_option("#filter-column", "idempotency_key")
        page.fill("#filter-value", "studio-bulk:9999")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url(re.compile(r"idempotency_key=studio-bulk"))
        assert page.locator("table.rows tbody tr").count() == 1
        assert "10000" in page.locator("table.rows tbody").inner_text()  # amount: 9999 + 1

        page.goto(f"{base}/tables/ledger_transfers?_size=500")
        seen = 0
        for _page in range(PAGES_MAX):
            seen += page.locator("a.open").count()
            following = page.locator("#next-page")
            if following.count() == 0:
                break
            address = page.url
            following.click()
            page.wait_for_url(lambda url, before=address: url != before)
        assert seen >= BULK_TRANSFERS and page.locator("#next-page").count() == 0


def test_read_only_refuses_an_edit_the_page_would_send(studio_url, page):
    with serving(studio_url) as base:
        page.goto(f"{base}/ledger?asset=points")
        assert page.locator("form.transfer").count() == 0  # no form to fill in read-only mode
        status = page.evaluate(
            """async () => (await fetch('/ledger/transfer', {method: 'POST',
                body: new URLSearchParams({debit: 'system:issuance', credit: 'user:alice',
                amount: '5', kind: 'claimed'})})).status"""
        )
        assert status == 403


def test_in_write_mode_a_valid_transfer_is_saved_and_an_invalid_one_shown_refused(studio_url, page):
    with chaindb.connect(studio_url) as db:
        before = ledger.get_balance(db, "user:bob").posted
    with serving(studio_url, write=True) as base:
        page.goto(f"{base}/ledger?asset=points")
        form = page.locator("form.transfer")
        form.locator("[name=debit]").fill("system:issuance")
        form.locator("[name=credit]").fill("user:bob")
        form.locator("[name=amount]").fill("12")
        form.locator("[name=kind]").select_option("claimed")
        form.get_by_role("button", name="Transfer").click()
        page.wait_for_url(re.compile(r"/ledger/transfers/\d+"))
        assert "claimed" in page.locator("#transfer").inner_text()

        page.goto(f"{base}/ledger?asset=points")
        form = page.locator("form.transfer")
        form.locator("[name=debit]").fill("user:nobody-at-all")
        form.locator("[name=credit]").fill("user:bob")
        form.locator("[name=amount]").fill("-3")
        form.get_by_role("button", name="Transfer").click()
        refusal = page.locator("#refusal")
        refusal.wait_for()
        assert "amount" in refusal.inner_text()
        no_password(page, studio_url)
    with chaindb.connect(studio_url) as db:
        assert ledger.get_balance(db, "user:bob").posted == before + 12
        ledger.transfer(db, debit="user:bob", credit="system:burn", amount=12, kind="burned_usage")


def test_a_person_follows_a_transaction_and_reads_the_charts(studio_url, page):
    with serving(studio_url) as base:
        page.goto(f"{base}/tables")
        page.locator("header nav a", has_text="Chain").click()
        page.wait_for_url(re.compile(r"/chain$"))
        expect(page.locator("h1")).to_have_text("Chain")
        page.locator("#transactions a").first.click()
        page.wait_for_url(re.compile(r"/chain/tx\?"))
        expect(page.locator("#life li").first).to_contain_text("logged")
        no_password(page, studio_url)
        page.locator("header nav a", has_text="Charts").click()
        page.wait_for_url(re.compile(r"/charts$"))
        assert page.locator("svg.chart").count() >= 8
        expect(page.locator("#creator-plays svg")).to_be_visible()
        page.locator("#creator-plays summary").click()  # the numbers behind the bars
        expect(page.locator("#creator-plays-data")).to_be_visible()
        no_password(page, studio_url)


def test_in_write_mode_a_setting_is_saved_and_a_bad_key_shown_refused(studio_url, page):
    with serving(studio_url, write=True) as base:
        page.goto(f"{base}/tables")
        page.locator("header nav a", has_text="Settings").click()
        page.wait_for_url(re.compile(r"/settings$"))
        form = page.locator("form.setting")
        form.locator("[name=key]").fill("studio.browser")
        form.locator("[name=value]").fill("saved from a browser")
        form.get_by_role("button", name="Save").click()
        expect(page.locator("#settings")).to_contain_text("saved from a browser")
        form = page.locator("form.setting")
        form.locator("[name=key]").fill("no spaces allowed")
        form.locator("[name=value]").fill("x")
        form.get_by_role("button", name="Save").click()
        expect(page.locator("#refusal")).to_contain_text("must be a letter")
    with chaindb.connect(studio_url) as db:
        assert core.get_setting(db, "studio.browser") == "saved from a browser"
