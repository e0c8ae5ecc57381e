"""Nothing bypassed in the admin: what the bot runs changes only through the services, the queue
dashboard is not for every staff user, channel secrets are encrypted and masked, logins are
throttled, a new API token never travels in a cookie, and every page carries a CSP."""

import os
import subprocess
import sys

import django_rq
import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from experiments.releases import create_release
from integrity.models import AlertChannel
from kpis.services import capture_baseline
from tests.factories import AS_OF, at, change_form_data, draft, log_in_as, run_through, trade
from tradeops.models import ConfigRelease
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER
from tradeops.services import authenticate_bot_token

# -- 12. what the bot runs changes only through the services ----------------------------------


def test_a_lead_cannot_point_the_bot_at_a_draft_from_the_bot_form(client, baseline, people):
    experiment = run_through(draft(baseline, people), people)
    bot = baseline.bot
    bot.refresh_from_db()
    running = bot.current_release
    assert running == experiment.candidate_release
    unapproved = create_release(
        based_on=baseline, changes={"fib_proximity_bps": 40}, tag="wip", by=people["operator"]
    )
    log_in_as(client, "lara", TEAM_LEAD)
    url = reverse("admin:tradeops_bot_change", args=[bot.pk])

    data = {**change_form_data(client, url), "current_release": unapproved.pk, "name": "Alpha 2"}
    response = client.post(url, data)

    assert response.status_code == 302  # the rest of the form saves
    bot.refresh_from_db()
    assert bot.name == "Alpha 2"
    assert bot.current_release == running
    assert running.tag in client.get(url).content.decode()  # shown, read-only


# -- 14. the django-rq dashboard ---------------------------------------------------------------

DASHBOARD_PAGES = [
    ("django_rq_dashboard_changelist", []),
    ("django_rq_home", []),
    ("django_rq_jobs", [0]),
    ("django_rq_workers", [0]),
    ("django_rq_failed_jobs", [0]),
    ("django_rq_home_json", []),
]
DASHBOARD_POSTS = [
    ("django_rq_clear", [0], {"post": "yes"}),
    ("django_rq_actions", [0], {"action": "delete", "job_ids": ["x"]}),
    ("django_rq_requeue_all", [0], {}),
    ("django_rq_delete_failed_jobs", [0], {"post": "yes"}),
]


@pytest.fixture
def queued_job(db):
    queue = django_rq.get_queue("default", commit_mode="auto")
    queue.empty()
    yield queue.enqueue("tradeops.workers.no_such_job")
    queue.empty()


@pytest.mark.parametrize("role", [VIEWER, OPERATOR, TEAM_LEAD])
def test_only_superusers_drive_the_queue_dashboard(client, queued_job, role):
    log_in_as(client, "staff", role)
    for name, args in DASHBOARD_PAGES:
        assert client.get(reverse(f"admin:{name}", args=args)).status_code == 403, name
    for name, args, data in DASHBOARD_POSTS:
        assert client.post(reverse(f"admin:{name}", args=args), data).status_code == 403, name
    assert django_rq.get_queue("default").count == 1  # nothing emptied
    index = client.get(reverse("admin:index")).content.decode()
    assert "django_rq" not in index


def test_a_superuser_or_an_explicit_grant_drives_the_dashboard(admin_client, client, queued_job):
    home = admin_client.get(reverse("admin:django_rq_home"))
    assert home.status_code == 200
    # django-rq's templates carry inline scripts: allowed on its pages only.
    assert "'unsafe-inline'" in home["Content-Security-Policy"].split("script-src")[1]
    assert "django_rq" in admin_client.get(reverse("admin:index")).content.decode()

    user = log_in_as(client, "ops", VIEWER)
    user.user_permissions.add(
        Permission.objects.get(codename="admin", content_type__app_label="django_rq")
    )
    assert client.get(reverse("admin:django_rq_jobs", args=[0])).status_code == 200
    client.post(reverse("admin:django_rq_clear", args=[0]), {"post": "yes"})
    assert django_rq.get_queue("default").count == 0


# -- 15. alert channel secrets -----------------------------------------------------------------

SLACK = "slack://T0TEAM/B0BOT/xoxbSecretToken"
HOOK = "json://user:hookpass@ops.example.com/hooks/s3cretpath"


def stored_target(channel):
    with connection.cursor() as cursor:
        cursor.execute("SELECT target FROM integrity_alertchannel WHERE id = %s", [channel.pk])
        return cursor.fetchone()[0]


def test_channel_targets_are_encrypted_at_rest(db):
    channel = AlertChannel.objects.create(name="ops hook", kind="apprise", target=HOOK)

    assert "hookpass" not in stored_target(channel) and "s3cret" not in stored_target(channel)
    assert AlertChannel.objects.get(pk=channel.pk).target == HOOK


def test_a_rotated_key_still_reads_old_rows_and_a_wrong_key_fails_loudly(settings, db):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [old]
    channel = AlertChannel.objects.create(name="ops hook", kind="apprise", target=HOOK)

    settings.FIELD_ENCRYPTION_KEY = [new, old]
    assert AlertChannel.objects.get(pk=channel.pk).target == HOOK

    settings.FIELD_ENCRYPTION_KEY = [new]
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        AlertChannel.objects.get(pk=channel.pk)


@pytest.mark.parametrize("role", [VIEWER, OPERATOR])
def test_channel_secrets_are_masked_for_everyone_but_team_leads(client, db, role):
    slack = AlertChannel.objects.create(name="chat", kind="apprise", target=SLACK)
    hook = AlertChannel.objects.create(name="ops hook", kind="apprise", target=HOOK)
    log_in_as(client, "staff", role)

    listing = client.get(reverse("admin:integrity_alertchannel_changelist")).content.decode()
    pages = [
        client.get(reverse("admin:integrity_alertchannel_change", args=[channel.pk]))
        for channel in (slack, hook)
    ]

    for page in [listing, *(page.content.decode() for page in pages)]:
        for secret in ("T0TEAM", "xoxbSecretToken", "hookpass", "s3cretpath", "user:"):
            assert secret not in page
    assert "slack://…" in listing and "json://ops.example.com/…" in listing
    assert "json://ops.example.com/…" in pages[1].content.decode()


def test_a_team_lead_sees_and_edits_the_full_target(client, db):
    hook = AlertChannel.objects.create(name="ops hook", kind="apprise", target=HOOK)
    log_in_as(client, "lara", TEAM_LEAD)
    url = reverse("admin:integrity_alertchannel_change", args=[hook.pk])
    assert HOOK in client.get(url).content.decode()

    data = {**change_form_data(client, url), "target": SLACK}
    assert client.post(url, data).status_code == 302
    assert AlertChannel.objects.get(pk=hook.pk).target == SLACK


def test_an_operator_test_alert_goes_to_the_decrypted_target(client, db, httpserver):
    httpserver.expect_request("/hooks/s3cretpath", method="POST").respond_with_data("ok")
    target = httpserver.url_for("/hooks/s3cretpath").replace("http://", "json://")
    channel = AlertChannel.objects.create(name="ops hook", kind="apprise", target=target)
    log_in_as(client, "otto2", OPERATOR)

    client.post(
        reverse("admin:integrity_alertchannel_changelist"),
        {"action": "send_test_alert", "_selected_action": [channel.pk]},
    )

    assert len(httpserver.log) == 3
    assert set(channel.deliveries.values_list("status", flat=True)) == {"sent"}


@pytest.mark.django_db(transaction=True)
def test_existing_targets_are_encrypted_by_the_migration():
    executor = MigrationExecutor(connection)
    executor.migrate([("integrity", "0005_alter_alertdelivery_path_and_more")])
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO integrity_alertchannel (name, kind, target, min_severity, repeat_minutes,"
            " is_active, created_at) VALUES ('old', 'apprise', %s, 'warning', 60, true, now())",
            [HOOK],
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    channel = AlertChannel.objects.get(name="old")
    assert stored_target(channel) != HOOK and "hookpass" not in stored_target(channel)
    assert channel.target == HOOK


def run_check_deploy(tmp_path, **extra):
    env = {
        "PATH": os.environ["PATH"],
        "DEBUG": "False",
        "SECRET_KEY": "x" * 20 + "production-like-secret-key-with-enough-entropy-0123456789",
        "ALLOWED_HOSTS": "tradeops.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        cwd=django_settings.BASE_DIR,
    )


def test_production_requires_its_own_field_encryption_key(tmp_path):
    missing = run_check_deploy(tmp_path)
    assert missing.returncode != 0 and "FIELD_ENCRYPTION_KEY" in missing.stderr
    malformed = run_check_deploy(tmp_path, FIELD_ENCRYPTION_KEY="not-a-key")
    assert malformed.returncode != 0 and "not a list of Fernet keys" in malformed.stderr

    given = run_check_deploy(tmp_path, FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode())
    assert given.returncode == 0, given.stdout + given.stderr


# -- 16. login throttling ----------------------------------------------------------------------


def admin_login(client, password, ip="10.0.0.7"):
    return client.post(
        reverse("admin:login"),
        {"username": "lead", "password": password, "next": "/admin/"},
        REMOTE_ADDR=ip,
    )


def test_repeated_failed_admin_logins_lock_the_username_from_that_address(db):
    lead = User.objects.create_user("lead", password="right-password", is_staff=True)
    attacker = Client()
    for _ in range(4):
        assert admin_login(attacker, "guess").status_code == 200  # the form again, with an error
    assert admin_login(attacker, "guess").status_code == 429  # the fifth failure locks

    locked = admin_login(attacker, "right-password")

    assert locked.status_code == 429
    assert "_auth_user_id" not in attacker.session
    # The lead, elsewhere, still gets in; a success resets nothing for the attacker's address.
    assert admin_login(Client(), "right-password", ip="10.0.0.8").status_code == 302
    assert admin_login(attacker, "right-password").status_code == 429
    assert lead.pk


def test_the_axes_backend_guards_authentication():
    assert django_settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"


# -- 17. a new API token is shown once, in the page --------------------------------------------


def test_a_new_api_token_is_shown_in_the_page_and_never_in_a_cookie(client, bot):
    log_in_as(client, "lara", TEAM_LEAD)

    response = client.post(
        reverse("admin:tradeops_bot_changelist"),
        {"action": "issue_token", "_selected_action": [bot.pk]},
    )

    assert response.status_code == 200
    token = response.context["issued"][0][1]
    assert authenticate_bot_token(token) == bot
    assert token in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    for cookie in client.cookies.values():
        decoded = CookieStorage(HttpRequest())._decode(cookie.value) if cookie.value else None
        assert token not in f"{cookie.value} {decoded}"
    assert token not in str(dict(client.session.items()))
    later = client.get(reverse("admin:tradeops_bot_changelist")).content.decode()
    assert token not in later


def test_only_a_team_lead_issues_tokens(client, bot):
    log_in_as(client, "otto2", OPERATOR)
    client.post(
        reverse("admin:tradeops_bot_changelist"),
        {"action": "issue_token", "_selected_action": [bot.pk]},
    )
    assert bot.api_tokens.count() == 1  # only the one create_bot issued


# -- 18. Content-Security-Policy ---------------------------------------------------------------


def csp(response):
    return dict(
        directive.strip().split(" ", 1)
        for directive in response["Content-Security-Policy"].split(";")
    )


def test_admin_pages_carry_a_strict_content_security_policy(admin_client, bot):
    login_page = Client().get(reverse("admin:login"))
    assert login_page.status_code == 200 and csp(login_page)["script-src"] == "'self'"
    for url in [
        reverse("admin:index"),
        reverse("admin:tradeops_bot_changelist"),
        reverse("admin:tradeops_bot_change", args=[bot.pk]),
        reverse("admin:tradeops_configrelease_add"),
    ]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        policy = csp(response)
        assert policy["default-src"] == "'self'"
        assert policy["script-src"] == "'self'"  # no inline script anywhere in the admin
        assert policy["frame-ancestors"] == "'none'"
        assert policy["object-src"] == "'none'"


def test_the_baseline_report_and_its_exports_live_with_the_policy(client, bot):
    release = ConfigRelease.objects.create(bot=bot, version=1, tag="v1.4.0", approved_at=at(1))
    trade(bot, "a", at(8), 10, release=release, side="long")
    trade(bot, "b", at(9), -4, release=release)
    report = capture_baseline(release, captured_by=None, as_of=AS_OF)
    log_in_as(client, "vera2", VIEWER)

    page = client.get(reverse("admin:kpis_baselinereport_change", args=[report.pk]))
    assert page.status_code == 200 and page.content.decode().count("<canvas") == 2
    # The report's own <style> block needs inline styles; the charts are drawn by a static
    # script from our own origin (tests/test_charts.py).
    assert "'unsafe-inline'" in csp(page)["style-src"]
    for fmt in ("md", "csv", "json"):
        export = client.get(reverse("admin:kpis_baselinereport_export", args=[report.pk, fmt]))
        assert export.status_code == 200 and "Content-Security-Policy" in export
