"""The docs live in the repository (issue 23, section 7): the README is the front door with its two
set-up commands, every link between the pages resolves, nothing points at a file outside the
repository, and the incident pages name the cleanup runbook's anchor."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from integrity.models import IntegrityIncident
from integrity.services import open_or_bump_incident
from tests.factories import log_in_as
from tradeops.roles import OPERATOR

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"
PAGES = [README, *sorted((PROJECT / "docs").glob("*.md"))]
FENCED = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"\]\(([^)\s]+)\)")
RUNBOOK = "docs/operations.md#cleanup-runbook"


def prose(path):
    return FENCED.sub("", path.read_text())


def anchors(path):
    """GitHub's anchors of a Markdown page: one per heading, and each explicit <a id>."""
    text = prose(path)
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    slugs = {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}
    return slugs | set(re.findall(r'<a id="([^"]+)"></a>', text))


def test_the_readme_keeps_exactly_its_two_set_up_commands():
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", README.read_text(), re.DOTALL | re.MULTILINE)

    assert blocks == [("sh", "make demo\n"), ("sh", "make test\n")]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_and_image_of_a_page_resolves_in_the_repository(page):
    for target in LINK.findall(prose(page)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, fragment = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        assert linked.is_file(), f"{page.name}: {target}"
        assert PROJECT in linked.parents, f"{page.name} points outside the repository: {target}"
        if fragment:
            assert fragment in anchors(linked), f"{page.name}: {target}"


def test_nothing_in_the_repository_cites_a_file_outside_it():
    outside = ("DESIGN.md", "the plan file", "000_8e74")
    files = [
        path
        for pattern in ("*.py", "*.md", "*.html")
        for path in PROJECT.rglob(pattern)
        if not {".venv", ".git", "vendor", "node_modules"} & set(path.parts)
        and path != Path(__file__)
    ]

    citing = [str(path) for path in files for name in outside if name in path.read_text()]

    assert citing == []


def test_the_docs_list_the_commands_the_readme_test_runs():
    command_line = (PROJECT / "docs" / "bot-api.md").read_text().split("### Command line", 1)[1]

    for command in ("create_bot <slug>", "create_token <slug>", "setup_roles"):
        assert f"python manage.py {command}" in command_line


def incident_page(client, bot, kind):
    incident = open_or_bump_incident(bot=bot, kind=kind, severity="critical", title=kind.label)
    log_in_as(client, "ops", OPERATOR)
    url = reverse("admin:integrity_integrityincident_change", args=[incident.pk])
    return client.get(url).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "kind",
    [IntegrityIncident.Kind.MALFORMED_STORED_TRADE, IntegrityIncident.Kind.BLOCKED_MALFORMED_TRADE],
)
def test_a_malformed_trade_incident_names_the_cleanup_runbook(client, bot, kind):
    page = incident_page(client, bot, kind)

    assert RUNBOOK in page
    assert reverse("admin:integrity_cleanupplan_changelist") in page
    assert "cleanup-runbook" in anchors(PROJECT / "docs" / "operations.md")


@pytest.mark.django_db
def test_other_incidents_do_not_name_the_runbook(client, bot):
    assert RUNBOOK not in incident_page(client, bot, IntegrityIncident.Kind.ORPHAN_FILLS)
