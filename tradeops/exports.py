"""What an export does to text it did not write: one helper per format, used by every export.

A bot's words (symbols, exit and rejection reasons, release tags, notes, names) reach reports
and files that people open in tools which act on what they read: a Markdown viewer renders
links, images and HTML, a spreadsheet evaluates formulas, a terminal obeys escape sequences.
Each helper makes such text inert in its format and leaves it readable.
"""

import csv
import io
import json
import re
import unicodedata

from django.utils.http import content_disposition_header

# CommonMark lets any ASCII punctuation be backslash-escaped, and an escaped one is literal text.
# Escaped here, those that start something: code (`), emphasis (* _ ~), links and images
# ([ ] ( ) !), table cells (GFM's \|), headings and list markers (# + - =), autolinks (: @ and
# the dot of www.), math and extensions ($ ^ { }). `&`, `<` and `>` become entities instead,
# which renderers that do not take them escaped (Python-Markdown) also show as text.
_MARKDOWN_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_MARKDOWN_PUNCTUATION = frozenset("\\`*_~[]()!|#+-=:@.$^{}")

# OWASP's CSV injection guidance: a spreadsheet reads a cell starting with one of these as a
# formula (tab and CR included, since some strip them before deciding).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Lines end only where we end them; JSON keeps markup out of whoever embeds it in HTML.
_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_JSON_ESCAPED = re.compile("[<>&\u2028\u2029]")


def _is_control(char):
    """C0/C1 controls, line and paragraph separators: what breaks a line or drives a terminal."""
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def markdown_text(value):
    """`value` as literal inline Markdown text, on one line, safe inside a table cell."""
    out = []
    for char in str(value):
        if char in _MARKDOWN_ENTITIES:
            out.append(_MARKDOWN_ENTITIES[char])
        elif char in _MARKDOWN_PUNCTUATION:
            out.append("\\" + char)
        elif _is_control(char):
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def csv_cell(value):
    """A spreadsheet cell that cannot be a formula: text starting like one gets a leading `'`.

    Numbers (Decimal, int, float) stay numbers, negative ones included: the guard is for text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_text(header, rows):
    """A CSV file: every cell through csv_cell; text quoted, so a spreadsheet splitting on
    another separator (`;` in many locales) cannot start a cell inside it."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        writer.writerow(["" if v is None else csv_cell(v) for v in row])
    return out.getvalue()


def json_text(value, **dumps):
    """JSON whose text holds no `<`, `>`, `&` or line separators (as \\u escapes), so a file or
    page that embeds it shows the bot's words; it parses to exactly the same values."""
    text = json.dumps(value, **dumps)
    return _JSON_ESCAPED.sub(lambda m: _JSON_ESCAPES.get(m[0], f"\\u{ord(m[0]):04x}"), text)


def plain_text(value):
    """Text for a terminal or a log line: control characters shown as escapes (`\\x1b`), not
    obeyed."""
    return "".join(repr(char)[1:-1] if _is_control(char) else char for char in str(value))


def attachment(response, filename):
    """Make `response` a download named `filename`, however odd the name (quotes, non-ASCII)."""
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response
