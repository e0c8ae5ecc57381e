"""Real-browser fixtures: headless Chromium (Debian's package, which `.ci/services` installs)
driven by Playwright's sync API against pytest-django's `live_server`, on the demo's data, logged
in as the demo's lead, operator or viewer.

A page test is a few lines (tests/test_browser.py):

    @pytest.mark.parametrize("role", ROLES)
    def test_the_page(browse, demo, role):
        page = browse(role, "/admin/...")
        expect(page.get_by_role("heading", name="...")).to_be_visible()
        screenshot(page, "the-page", role)

Every page `browse` opens fails its test on a browser console error (a script error, a resource
that did not load) or a Content-Security-Policy violation.
"""

import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import sync_playwright

from demo.scenario import DEMO_BOT, DEMO_PASSWORD, load_demo
from experiments.models import Experiment
from kpis.queries import utc_day
from tradeops.models import Bot

CHROMIUM = "/usr/bin/chromium"
# Without the network flags Chromium keeps calling Google's hosts, which this machine refuses.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROLES = ["lead", "operator", "viewer"]  # the demo's users: Team lead, Operator, Viewer
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
# Chromium reports a CSP violation on the console too, but not every kind; this catches all.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
    const blocked = event.blockedURI || "inline";
    console.error(`CSP violation: ${event.violatedDirective} blocked ${blocked}`);
});
"""

FULL_HEIGHT = """Math.max(document.documentElement.scrollHeight, ...Array.from(
    document.querySelectorAll("#nav-sidebar"),
    (nav) => nav.getBoundingClientRect().top + window.scrollY + nav.scrollHeight,
))"""


def screenshot(page, name, role=None, *, as_role="lead"):
    """Save the whole page as docs/screenshots/<name>.png when SCREENSHOTS=1 (README,
    Screenshots). Given the test's role, only the `as_role` run saves, so a page has one."""
    if os.environ.get("SCREENSHOTS") == "1" and role in (None, as_role):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        # The admin's nav sidebar is as tall as the window (sticky, 100vh) and scrolls inside
        # itself: a full-page capture of a shorter window cuts it off. A window as tall as the
        # page and the sidebar's models shows them whole.
        height = page.evaluate(FULL_HEIGHT)
        page.set_viewport_size({**VIEWPORT, "height": max(height, VIEWPORT["height"])})
        page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
        page.set_viewport_size(VIEWPORT)


@pytest.fixture(scope="module")
def chromium():
    """One headless Chromium per test module.

    Playwright's sync API keeps an asyncio loop running in this thread, which Django's
    async-unsafe guard takes for an async context (SynchronousOnlyOperation on the next query).
    The test code is synchronous, so the guard is lifted while the browser runs, and only then.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


def _tables():
    return connection.introspection.django_table_names(only_existing=True, include_views=False)


def _quoted(table):
    return connection.ops.quote_name(table)


class Snapshot:
    """The demo ending on `day` (`load_demo`, through the real services): its rows, table by
    table in COPY format, and the logins kept with them: a role's browser cookies and its session
    row, from the first time it logged in through the form. Taken, the database is emptied again
    at once, as after any transactional test, so no other test sees it. Jobs run in-process as
    in `make demo`; passwords use the tests' fast hasher."""

    def __init__(self):
        self.take()

    def take(self):
        self.day, self.rows, self.logins = utc_day(timezone.now()), {}, {}
        hashers = ["django.contrib.auth.hashers.MD5PasswordHasher"]
        with override_settings(REDIS_URL="", PASSWORD_HASHERS=hashers):
            load_demo(end_date=self.day)
            with connection.cursor() as cursor:
                for table in _tables():
                    with cursor.copy(f"COPY {_quoted(table)} TO STDOUT") as copy:
                        self.rows[table] = b"".join(copy)
            call_command("flush", interactive=False, verbosity=0)

    def restore(self):
        """Put the rows back verbatim, with triggers off (session_replication_role, which needs
        the superuser the tests run as): the trade table's rollup trigger would count the stored
        daily rollup twice. Foreign-key checks, triggers too, are off with them: the rows were
        consistent when copied.

        A session that passed midnight UTC takes the demo again first: a demo ending yesterday
        has its missed review and signed-off days a day off (test_the_operating_cadence failed
        after midnight in a session begun before it)."""
        if utc_day(timezone.now()) != self.day:
            self.take()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
            # DELETE, not TRUNCATE: the tables are (nearly) empty; TRUNCATE costs ms per table.
            cursor.execute("; ".join(f"DELETE FROM {_quoted(table)}" for table in self.rows))
            for table, rows in self.rows.items():
                with cursor.copy(f"COPY {_quoted(table)} FROM STDIN") as copy:
                    copy.write(rows)
            models = [m for m in apps.get_models() if m._meta.db_table in self.rows]
            for statement in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)
        # The restored content types have the demo's ids, not those cached since the last flush.
        ContentType.objects.clear_cache()

    def keep_login(self, role, context):
        """Keep `role`'s cookies and its session row, so later tests start logged in."""
        state = context.storage_state()
        key = next(
            c["value"] for c in state["cookies"] if c["name"] == settings.SESSION_COOKIE_NAME
        )
        table = _quoted(Session._meta.db_table)
        with connection.cursor() as cursor:
            query = f"COPY (SELECT * FROM {table} WHERE session_key = %s) TO STDOUT"
            with cursor.copy(query, [key]) as copy:
                self.rows[Session._meta.db_table] += b"".join(copy)
        self.logins[role] = state


@pytest.fixture(scope="session")
def demo_snapshot(django_db_setup, django_db_blocker):
    """The demo, loaded once per session (once a day in a session that passes midnight) and
    kept as a `Snapshot`."""
    with django_db_blocker.unblock():
        return Snapshot()


@dataclass
class Demo:
    bot: Bot
    running: Experiment  # Experiment A, running its candidate
    queued: Experiment  # Experiment B, submitted by the operator, waiting for a lead
    day: datetime.date  # the UTC day the demo ends on: today, when the test began


@pytest.fixture
def demo(demo_snapshot, live_server):
    """The demo, as loaded, for each test (restored in a few ms; the test's transactional
    database access empties it afterwards), served by `live_server`."""
    demo_snapshot.restore()
    bot = Bot.objects.get(slug=DEMO_BOT)
    return Demo(
        bot=bot,
        running=Experiment.objects.get(bot=bot, plan_key="A"),
        queued=Experiment.objects.get(bot=bot, plan_key="B"),
        day=demo_snapshot.day,
    )


class Browse:
    """`browse(role, path)`: a page of its own at `path`, logged in as the demo's user of
    `role`, and checked to have loaded (2xx). A role's first page in the session logs in through
    the admin's login form; later ones start with the cookies it got (`Snapshot.keep_login`).
    What the browser reports (console errors, CSP violations, uncaught script errors) is
    collected in `problems`."""

    def __init__(self, browser, base_url, snapshot):
        self.browser, self.base_url, self.snapshot = browser, base_url, snapshot
        self.contexts, self.problems = [], []

    def __call__(self, role, path="/admin/"):
        login = self.snapshot.logins.get(role)
        context = self.browser.new_context(
            base_url=self.base_url, viewport=VIEWPORT, storage_state=login
        )
        self.contexts.append(context)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        page = context.new_page()
        page.on("console", lambda message: self._console(role, page, message))
        page.on("pageerror", lambda error: self.problems.append(f"{role} at {page.url}: {error}"))
        if login:
            response = page.goto(path)
        else:
            page.goto(f"/admin/login/?{urlencode({'next': path})}")
            page.get_by_label("Username").fill(role)
            page.get_by_label("Password").fill(DEMO_PASSWORD)
            with page.expect_navigation() as landed:
                page.get_by_role("button", name="Log in").click()
            response = landed.value
            self.snapshot.keep_login(role, context)
        assert urlsplit(page.url).path == urlsplit(path).path, f"{role} not let in: {page.url}"
        assert response.ok, f"{role} at {path}: HTTP {response.status}"
        return page

    def _console(self, role, page, message):
        # The browser asks for /favicon.ico by itself; the app links none.
        if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
            self.problems.append(f"{role} at {page.url}: {message.text}")

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def browse(chromium, demo_snapshot, demo, live_server):
    """A `Browse` on the demo; the test fails if any page it opened reported a problem."""
    browse = Browse(chromium, live_server.url, demo_snapshot)
    yield browse
    browse.close()
    assert not browse.problems, "the browser reported:\n" + "\n".join(browse.problems)


def visit(page, path):
    """Open `path` in a logged-in page and check the server answered it with a 2xx."""
    response = page.goto(path)
    assert response.ok, f"{path}: HTTP {response.status}"
    return page
