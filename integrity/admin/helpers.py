"""A delivery's attempts as a table: an alert's page here, a release push's in
experiments.admin.release_push."""

from django.utils.html import format_html, format_html_join


def attempts_table(row):
    """Every attempt of a delivery (an alert or a push): when, response, error, how long."""
    if not row.attempt_log:
        return "no attempt yet"
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{} ms</td><td>{}</td></tr>",
        (
            (entry["at"], entry["response_code"] or "-", entry["duration_ms"], entry["error"])
            for entry in row.attempt_log
        ),
    )
    return format_html(
        "<table><tr><th>at</th><th>response</th><th>took</th><th>error</th></tr>{}</table>", rows
    )
