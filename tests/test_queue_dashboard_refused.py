"""The queue dashboard refuses who may not drive it in the admin's own page (issue 23, section
5): a 403 with the admin's header and favicon, a sentence saying who may open it, and a link
back to the command center; not Django's bare "403 Forbidden"."""

import pytest
from django.urls import reverse

from tests.factories import log_in_as
from tradeops.roles import OPERATOR, TEAM_LEAD, VIEWER

PAGES = ["/admin/django_rq/", "/admin/django_rq/dashboard/"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", [VIEWER, OPERATOR, TEAM_LEAD])
def test_the_refusal_is_an_admin_page_saying_who_may_open_it(client, role, path):
    log_in_as(client, "staff", role)

    response = client.get(path)

    html = response.content.decode()
    assert response.status_code == 403
    assert '<link rel="icon" href="/static/tradeops/favicon.svg"' in html
    assert 'id="site-name"' in html  # the admin's header
    assert "for superusers and users granted django_rq.admin" in html
    assert f'<a href="{reverse("admin:index")}">Back to the command center</a>' in html


def test_the_superuser_still_opens_the_dashboard(admin_client):
    assert admin_client.get("/admin/django_rq/").status_code == 200
