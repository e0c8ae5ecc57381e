"""The cleanup runbook on an admin page, so an incident's page links to a page the team can
open: docs/operations.md's section, read from the repository at each request (one source, never
a copy to drift) and rendered from its small Markdown (headings, a numbered list, code)."""

import re

from django.conf import settings
from django.template.response import TemplateResponse
from django.utils.html import escape
from django.utils.safestring import mark_safe

OPERATIONS = settings.BASE_DIR / "docs" / "operations.md"
ANCHOR = '<a id="cleanup-runbook"></a>'
AN_ITEM = re.compile(r"^(\d+)\. (.*)")


def runbook_markdown():
    """From the runbook's anchor to the next section (a `## ` heading)."""
    text = OPERATIONS.read_text(encoding="utf-8")
    section = text[text.index(ANCHOR) + len(ANCHOR) :]
    return re.split(r"^## ", section, maxsplit=1, flags=re.MULTILINE)[0]


def _inline(text):
    text = escape(text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*([^*]+)\*", r"<em>\1</em>", text)
    return re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # the links point into the docs


def render(markdown):
    out, para, code, in_list = [], [], None, False

    def flush():
        if para:
            out.append(f"<p>{_inline(' '.join(para))}</p>")
            para.clear()

    for line in markdown.splitlines():
        stripped = line.strip()
        if code is not None:
            if stripped.startswith("```"):
                out.append(f"<pre>{escape(chr(10).join(code))}</pre>")
                code = None
            else:
                code.append(stripped)
            continue
        if stripped.startswith("```"):
            flush()
            code = []
        elif not stripped:
            flush()
        elif item := AN_ITEM.match(line):
            flush()
            out.append("</li><li>" if in_list else "<ol><li>")
            in_list = True
            para.append(item.group(2))
        else:
            if in_list and not line.startswith(" "):
                flush()
                out.append("</li></ol>")
                in_list = False
            if stripped.startswith("#"):
                out.append(f"<h2>{_inline(stripped.lstrip('# '))}</h2>")
            else:
                para.append(stripped)
    flush()
    if in_list:
        out.append("</li></ol>")
    return mark_safe("".join(out))  # every text went through escape


def cleanup_runbook_view(admin_site):
    def view(request):
        context = {
            **admin_site.each_context(request),
            "title": "Runbook: cleaning malformed trades",
            "runbook": render(runbook_markdown()),
        }
        return TemplateResponse(request, "admin/integrity/runbook.html", context)

    return view
