#!/usr/bin/env python
"""The browser pass of issue 23: every page that carries one of its items, as the demo's lead,
operator and viewer, at 1,400 and 420 px, saved as docs/screenshots/pass/<page>-<role>-<width>.jpg
(JPEG, full page, to keep the repository small), with docs/ui-pass.md linking them.

Against a running demo (`make demo`, or the same three commands on a database of your own):

    scripts/browser_pass.py --url http://127.0.0.1:8200

The pages are found as the lead sees them (the command center's links, the lists' first rows),
so the pass follows the demo's ids. Run `manage.py cleanup_malformed_trades --dry-run --bot
demo-perp` first to have a cleanup plan page in the pass. Each page's HTTP status and what the
browser reported (console errors, responses of 400 and above) go into the doc's tables.
Needs Playwright and Debian's Chromium, as tests/browser.py.
"""

import argparse
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

PROJECT = Path(__file__).resolve().parent.parent
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
ROLES = ["lead", "operator", "viewer"]
WIDTHS = [1400, 420]
HEIGHT = 900
PASSWORD = "tradeops-demo"  # demo.scenario.DEMO_PASSWORD
# The admin's nav sidebar is sticky and as tall as the window: a full-page capture of a shorter
# window cuts it off, so the window is made as tall as the page first (tests/browser.py).
FULL_HEIGHT = """Math.max(document.documentElement.scrollHeight, ...Array.from(
    document.querySelectorAll("#nav-sidebar"),
    (nav) => nav.getBoundingClientRect().top + window.scrollY + nav.scrollHeight,
))"""

# Issue 23's items, and the pages whose screenshots show each.
ITEMS = [
    ("§1 the embedded default is live: drift shown, schedule running", ["home", "bot", "shadow"]),
    ("§2 every figure's window labelled", ["home", "bot", "daily-missed", "daily-today"]),
    ("§2 a drill-down filters its line's window", ["home", "unknown-exits"]),
    ("§2 trigger headroom recomputed and drawn", ["experiment-a", "home"]),
    ("§2 the plan line never goes back", ["home", "checklist", "plan"]),
    ("§2 a release's evidence is its own", ["checklist", "release", "baseline-report"]),
    ("§2 the gate's reason in words", ["home", "checklist"]),
    ("§3 an action offered only when it can succeed", ["experiment-b", "incident-1", "bot"]),
    ("§3 an action lands back on its object", ["experiment-b", "incident-1"]),
    ("§4 the experiment page leads with the decision", ["experiment-a", "experiment-b"]),
    ("§4 the release compare page", ["release-compare"]),
    ("§4 the weekly review", ["weekly"]),
    ("§5 money carries its currency; equity 2 decimals", ["home", "bot", "trades", "weekly"]),
    ("§5 date inputs in the admin's format", ["weekly", "daily-today"]),
    ("§5 at 1,400 px no list clips", ["trades", "fills", "quarantine", "experiments"]),
    ("§5 at 420 px charts keep legend and axis titles", ["experiment-a", "daily-today"]),
    ("§5 alert targets masked for a viewer", ["alert-channels", "alert-channel"]),
    ("§5 the queue dashboard answers 403, not 404 (superusers only)", ["queue-dashboard"]),
    ("§6 an open incident to acknowledge", ["incidents", "incident-1", "incident-2"]),
    ("§6 the cleanup SOP (dry-run → apply → restore)", ["incident-1", "cleanup-plans"]),
    ("§6 a missed daily review", ["home", "daily-missed"]),
    ("§6 the drift watch visible", ["shadow", "home"]),
]


@dataclass
class Shot:
    status: int
    path: str
    problems: list = field(default_factory=list)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(browser, url, role, width):
    context = browser.new_context(base_url=url, viewport={"width": width, "height": HEIGHT})
    page = context.new_page()
    page.goto("/admin/login/")
    page.fill("#id_username", role)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert urlsplit(page.url).path == "/admin/", f"{role} not let in: {page.url}"
    return context, page


def hrefs(page, pattern):
    """The paths of the page's links matching `pattern`, in order, each once (a filtered list's
    links carry its filters in their query)."""
    links = page.eval_on_selector_all("a[href]", "(links) => links.map((a) => a.href)")
    paths = [urlsplit(h).path for h in links]
    return list(dict.fromkeys(p for p in paths if re.search(pattern, p)))


def link_named(page, name):
    return page.get_by_role("link", name=name).first.get_attribute("href")


def discover(browser, url):
    """The pages of the pass, named, as the lead finds them from the command center."""
    context, page = log_in(browser, url, "lead", 1400)
    pages = {"home": "/admin/", "checklist": "/admin/checklist/"}
    bots = hrefs(page, r"/admin/tradeops/bot/\d+/change/$")
    experiments = hrefs(page, r"/admin/experiments/experiment/\d+/change/$")
    pages["bot"], pages["shadow"] = bots[0], bots[1] if len(bots) > 1 else bots[0]
    pages["unknown-exits"] = link_named(page, "See unknown exits")
    pages["daily-today"] = link_named(page, "today's")
    missed = hrefs(page, r"/admin/review/daily/[\w-]+/\d{4}-\d\d-\d\d/$")
    if missed:
        pages["daily-missed"] = missed[0]
    pages["weekly"] = hrefs(page, r"/admin/review/weekly/[\w-]+/$")[0]
    pages["plan"] = "/admin/experiments/experiment/plan/"
    pages["release"] = hrefs(page, r"/admin/tradeops/configrelease/\d+/change/$")[0]
    bot_id = re.search(r"/bot/(\d+)/", pages["bot"]).group(1)

    page.goto("/admin/experiments/experiment/")
    experiments += hrefs(page, r"/admin/experiments/experiment/\d+/change/$")
    for key, path in zip("ab", dict.fromkeys(experiments), strict=False):
        pages[f"experiment-{key}"] = path

    # The release the bot runs, compared with the one before it (the list runs newest first).
    page.goto(f"/admin/tradeops/configrelease/?bot__id__exact={bot_id}")
    releases = hrefs(page, r"/admin/tradeops/configrelease/\d+/change/$")
    older = releases[releases.index(pages["release"]) + 1 :]
    if older:
        new, old = (re.search(r"/(\d+)/change/", r).group(1) for r in (pages["release"], older[0]))
        pages["release-compare"] = f"/admin/tradeops/configrelease/compare/{old}/{new}/"
    page.goto("/admin/kpis/baselinereport/")
    reports = hrefs(page, r"/admin/kpis/baselinereport/\d+/change/$")
    if reports:
        pages["baseline-report"] = reports[0]

    pages["incidents"] = "/admin/integrity/integrityincident/?status__in=open,acknowledged"
    page.goto(pages["incidents"])
    for n, path in enumerate(hrefs(page, r"/integrityincident/\d+/change/$"), 1):
        pages[f"incident-{n}"] = path
    pages["cleanup-plans"] = "/admin/integrity/cleanupplan/"
    page.goto(pages["cleanup-plans"])
    for n, path in enumerate(hrefs(page, r"/cleanupplan/\d+/change/$")[:1], 1):
        pages[f"cleanup-plan-{n}"] = path

    pages["trades"] = "/admin/tradeops/trade/"
    pages["fills"] = "/admin/tradeops/fill/"
    pages["quarantine"] = "/admin/tradeops/quarantinedrecord/"
    pages["experiments"] = "/admin/experiments/experiment/"
    pages["alert-channels"] = "/admin/integrity/alertchannel/"
    page.goto(pages["alert-channels"])
    channels = hrefs(page, r"/alertchannel/\d+/change/$")
    if channels:
        pages["alert-channel"] = channels[0]
    pages["queue-dashboard"] = "/admin/django_rq/"
    context.close()
    return pages


def capture(page, path, out):
    """Open `path`, wait for its charts, save the whole page; what went wrong is kept."""
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on(
        "response",
        lambda r: r.status >= 400 and problems.append(f"HTTP {r.status} {urlsplit(r.url).path}"),
    )
    response = page.goto(path)
    page.wait_for_load_state("networkidle")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": max(page.evaluate(FULL_HEIGHT), HEIGHT)})
    page.screenshot(path=out, full_page=True, type="jpeg", quality=60)
    page.set_viewport_size({"width": width, "height": HEIGHT})
    return Shot(response.status if response else 0, urlsplit(page.url).path, problems)


def run(url, out, roles, widths, only):
    out.mkdir(parents=True, exist_ok=True)
    shots = {}
    with sync_playwright() as playwright:
        browser = launch(playwright)
        pages = discover(browser, url)
        pages = {name: path for name, path in pages.items() if not only or name in only}
        for role in roles:
            for width in widths:
                context, _ = log_in(browser, url, role, width)
                for name, path in pages.items():
                    page = context.new_page()
                    file = out / f"{name}-{role}-{width}.jpg"
                    shots[name, role, width] = capture(page, path, file)
                    page.close()
                    print(f"{name:16} {role:8} {width:5} {shots[name, role, width].status}")
                context.close()
        browser.close()
    return pages, shots


def write_doc(doc, out, pages, shots, roles, widths):
    rel = out.relative_to(doc.parent)
    lines = [
        "# The browser pass of issue 23",
        "",
        "Every page that carries an item of issue 23, as the demo's lead, operator and viewer at",
        "1,400 and 420 px, taken by `scripts/browser_pass.py` against `make demo` (after",
        "`manage.py cleanup_malformed_trades --dry-run --bot demo-perp`). A cell links the",
        "full-page screenshot and gives the HTTP status; what the browser reported follows.",
        "",
        "## The issue's items and the pages that show them",
        "",
    ]
    for item, names in ITEMS:
        shown = [f"[{n}](#{n})" for n in names if n in pages]
        lines.append(f"- {item}: {', '.join(shown)}")
    for name, path in pages.items():
        lines += ["", f"## {name}", "", f"`{path}`", ""]
        lines.append("| role | " + " | ".join(f"{w} px" for w in widths) + " |")
        lines.append("|---|" + "---|" * len(widths))
        notes = []
        for role in roles:
            cells = []
            for width in widths:
                shot = shots.get((name, role, width))
                if not shot:
                    cells.append("–")
                    continue
                cells.append(f"[{shot.status}]({rel}/{name}-{role}-{width}.jpg)")
                notes += [f"- {role}, {width} px: {p}" for p in dict.fromkeys(shot.problems)]
            lines.append(f"| {role} | " + " | ".join(cells) + " |")
        if notes:
            lines += ["", *notes]
    doc.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8200")
    parser.add_argument("--out", type=Path, default=PROJECT / "docs" / "screenshots" / "pass")
    parser.add_argument("--doc", type=Path, default=PROJECT / "docs" / "ui-pass.md")
    parser.add_argument("--roles", nargs="+", default=ROLES)
    parser.add_argument("--widths", nargs="+", type=int, default=WIDTHS)
    parser.add_argument("--only", nargs="*", help="page names (default: every page)")
    args = parser.parse_args()
    pages, shots = run(args.url, args.out.resolve(), args.roles, args.widths, args.only)
    write_doc(args.doc.resolve(), args.out.resolve(), pages, shots, args.roles, args.widths)


if __name__ == "__main__":
    main()
