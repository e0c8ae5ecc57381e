"""Units and layout (issue 23, section 5): equity with 2 decimals on the Bot page, the queue
dashboard's app page refused (403, not 404) to who may not drive it, every admin page naming a
favicon that exists, and the bot's quote currency."""

from decimal import Decimal

from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.factories import log_in_as
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER


def test_the_bot_page_shows_starting_equity_with_two_decimals(client, bot):
    bot.starting_equity = Decimal("25000")
    bot.save(update_fields=["starting_equity"])
    log_in_as(client, "lara", TEAM_LEAD)

    html = client.get(reverse("admin:tradeops_bot_change", args=[bot.pk])).content.decode()

    assert 'value="25000.00"' in html and "25000.000000" not in html


def test_the_queue_dashboards_app_page_is_refused_not_missing(client, db):
    for role in (VIEWER, OPERATOR, TEAM_LEAD):
        log_in_as(client, f"staff-{role}".replace(" ", ""), role)
        assert client.get("/admin/django_rq/").status_code == 403, role


def test_the_superuser_still_opens_the_dashboards_app_page(admin_client):
    assert admin_client.get("/admin/django_rq/").status_code == 200


def test_every_admin_page_names_a_favicon_that_exists(client, db):
    log_in_as(client, "vic", VIEWER)

    html = client.get(reverse("admin:index")).content.decode()

    assert '<link rel="icon" href="/static/tradeops/favicon.svg"' in html
    assert finders.find("tradeops/favicon.svg")


def test_a_bot_counts_its_money_in_usdt_unless_told(bot):
    assert bot.quote_currency == "USDT"
