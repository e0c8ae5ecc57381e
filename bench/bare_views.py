"""The real limit of a page: a minimal Django view that reads what the page shows (values of its
columns, its ordering, its LIMIT) and renders it as a bare HTML table, behind the same
middleware (session, user, CSRF, security) and the same test Client as the page it twins.

A benchmark mounts its twins beside the app's URLs and makes its module the URLconf of the run:

    urlpatterns = [path("", include("tradeops.urls"))]
    url = mount(urlpatterns, "trades", lambda request: Trade.objects.values_list(...)[:100])
    with override_settings(ROOT_URLCONF=__name__): client.get(url)
"""

from django.http import HttpResponse, HttpResponseForbidden
from django.urls import path
from django.utils.html import format_html, format_html_join


def is_staff(request):
    """What every admin page checks first: the session's user, active staff."""
    return request.user.is_active and request.user.is_staff


def table(title, columns, rows):
    """A page: the title and a table of the rows, escaped."""
    head = format_html_join("", "<th>{}</th>", ((column,) for column in columns))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((value,) for value in row)),) for row in rows),
    )
    return HttpResponse(
        format_html(
            "<!doctype html><title>{}</title><h1>{}</h1><table><tr>{}</tr>{}</table>",
            title,
            title,
            head,
            body,
        )
    )


def rows_view(title, rows_of):
    """A staff-only page of `rows_of(request)`: a values_list queryset with the page's filter,
    ordering and LIMIT (its fields are the columns)."""

    def view(request):
        if not is_staff(request):
            return HttpResponseForbidden()
        rows = rows_of(request)
        return table(title, rows._fields, list(rows))

    return view


def mount(urlpatterns, name, view):
    """Add `view` at /bare/<name>/ to `urlpatterns`; its URL."""
    urlpatterns.insert(0, path(f"bare/{name}/", view))
    return f"/bare/{name}/"
