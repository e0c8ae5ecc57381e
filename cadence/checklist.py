"""The plan's immediate action checklist (section 7), derived from the data and never ticked by
hand, and the phase of the plan a bot is in. Reads only; a fixed number of queries for any
number of bots."""

import datetime
from dataclasses import dataclass

from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from experiments.models import Experiment, ExperimentDecision, ScalingStep
from integrity.alerts import firing_paths_of
from integrity.jobs import DAILY_CHECKS
from integrity.models import AlertChannel
from kpis.models import BaselineReport
from tradeops.models import ConfigRelease, JobRun, StabilizationWindow

# Daily checks count as scheduled while a daily run succeeded this recently (a day and the
# job's slack), so a dead scheduler unticks the item within hours.
DAILY_RUN_WITHIN = datetime.timedelta(hours=26)
# The plan: review Experiment A after 5-7 days with the predefined thresholds.
REVIEW_WITHIN = datetime.timedelta(days=7)


@dataclass(frozen=True)
class Item:
    title: str
    done: bool
    evidence: str
    link: str


@dataclass(frozen=True)
class Checklist:
    items: list
    phase: str

    @property
    def done(self):
        return sum(1 for item in self.items if item.done)

    def __str__(self):
        return f"{self.done} of {len(self.items)} done"


def _change(model, pk):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])


def _changelist(model, query=""):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return f"{url}?{query}" if query else url


def _at(moment):
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _baseline_item(bot, baseline, freeze):
    title = "Freeze current config and mark baseline commit/tag"
    if baseline is None:
        return Item(title, False, "no approved baseline release", _changelist(ConfigRelease))
    mark = f"{baseline.tag}" + (f" @ {baseline.git_commit[:12]}" if baseline.git_commit else "")
    if freeze is None:
        return Item(
            title,
            False,
            f"baseline {mark} approved; no freeze recorded",
            _changelist(StabilizationWindow, f"bot__id__exact={bot.pk}"),
        )
    return Item(
        title,
        True,
        f"baseline {mark} approved {_at(baseline.approved_at)}; frozen from "
        f"{_at(freeze.starts_at)}",
        _change(ConfigRelease, baseline.pk),
    )


def _report_item(baseline, report):
    title = "Capture baseline KPI report (7d/30d template)"
    if report is None:
        of = f" of {baseline.tag}" if baseline is not None else ""
        return Item(
            title, False, f"no baseline KPI report{of} captured", _changelist(BaselineReport)
        )
    return Item(
        title,
        True,
        f"{report.release.tag}: 7d and 30d captured {_at(report.captured_at)}, as of "
        f"{report.as_of}",
        _change(BaselineReport, report.pk),
    )


def _alerts_item(paths):
    """Done when a test alert of each critical path was confirmed as received (its link opened
    by the recipient, or a webhook's 2xx answer) on an active channel: which, and when."""
    title = "Enable/verify integrity alerts"
    confirmed = [f"{path.label}: {firing}" for path, firing in paths.items() if firing]
    missing = [path.label for path, firing in paths.items() if not firing]
    evidence = f"{len(confirmed)} of {len(paths)} firing paths confirmed on an active channel"
    if confirmed:
        evidence += f" ({'; '.join(confirmed)})"
    if missing:
        evidence += f"; not confirmed: {', '.join(missing)}"
    return Item(title, not missing, evidence, _changelist(AlertChannel))


def _daily_checks_item(last_success, now):
    title = "Schedule daily integrity checks"
    link = _changelist(JobRun, f"name={DAILY_CHECKS}")
    if last_success is None:
        return Item(title, False, "no successful daily run yet", link)
    done = last_success >= now - DAILY_RUN_WITHIN
    evidence = f"last successful daily run {_at(last_success)}"
    if not done:
        evidence += f" (older than {DAILY_RUN_WITHIN.total_seconds() / 3600:.0f} h)"
    return Item(title, done, evidence, link)


def _experiment_a_items(experiment, decided_at, now):
    started = "Start Experiment A (directional concentration control)"
    reviewed = "Review after 5-7 days with predefined thresholds"
    if experiment is None or experiment.started_at is None:
        evidence = "not drafted" if experiment is None else f"{experiment.status}, not started"
        link = _change(Experiment, experiment.pk) if experiment else _changelist(Experiment)
        return [Item(started, False, evidence, link), Item(reviewed, False, "A not started", link)]
    link = _change(Experiment, experiment.pk)
    due = experiment.started_at + REVIEW_WITHIN
    start = Item(started, True, f"started {_at(experiment.started_at)}", link)
    if decided_at is not None:
        on_time = decided_at <= due
        return [
            start,
            Item(
                reviewed,
                on_time,
                f"decided {experiment.decision or experiment.status} {_at(decided_at)}"
                + ("" if on_time else f", after the due date {_at(due)}"),
                link,
            ),
        ]
    if experiment.status == Experiment.Status.STOPPED:
        return [start, Item(reviewed, False, "stopped by a rollback trigger, not reviewed", link)]
    late = "overdue since" if now > due else "due by"
    return [start, Item(reviewed, False, f"not decided yet; {late} {_at(due)}", link)]


def _phase(baseline, freeze, gate, live, scaling, reached, now):
    """The section of the plan the bot is in, from the same facts: a live change says where the
    plan is; else the furthest section it ever reached (`reached`: its latest experiment that
    ran, or "scaling" once a risk step was approved), so a phase never goes backwards when a
    keep makes a new baseline whose own freeze and gate are still to come; before any, the first
    gate not yet passed."""
    if scaling:
        return "5) Scaling plan: a risk step holding"
    if reached == "scaling":
        return "5) Scaling plan: next step to propose"
    if live is not None:
        return f"4) Experiment queue: {live.name}"
    if reached is not None:
        return f"4) Experiment queue: {reached.name} {reached.get_status_display().lower()}"
    if baseline is None or freeze is None or freeze.effective_end > now:
        return "1) Lock and stabilize the current winner"
    if gate is not None and not gate.passed:
        return "2) Make integrity controls permanent"
    return "3) Decision framework: next experiment to queue"


def checklists(bots, now=None, gates=None):
    """{bot id: Checklist} for `bots`, in a fixed number of queries."""
    now = now or timezone.now()
    bots = list(bots)
    baselines = {
        release.bot_id: release
        for release in ConfigRelease.objects.filter(
            bot__in=bots, is_baseline=True, approved_at__isnull=False
        )
    }
    # A release's evidence is its own: the first freeze from its creation on (a freeze of the
    # release it replaced is not one of it), and its own report (not the one it replaced).
    freezes = {}
    for freeze in StabilizationWindow.objects.filter(bot__in=bots).order_by("starts_at"):
        baseline = baselines.get(freeze.bot_id)
        if baseline is not None and freeze.starts_at >= baseline.created_at:
            freezes.setdefault(freeze.bot_id, freeze)
    reports = {}
    for report in (
        BaselineReport.objects.filter(release__in=baselines.values())
        .select_related("release")
        .order_by("captured_at")
    ):
        reports[report.release.bot_id] = report
    paths = firing_paths_of(bots, as_of=now)
    last_daily = (
        JobRun.objects.filter(name=DAILY_CHECKS, outcome=JobRun.Outcome.SUCCEEDED)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    experiments_a = {}
    for experiment in Experiment.objects.filter(bot__in=bots, plan_key="A").order_by("created_at"):
        # The first A that ran (an iteration is still A); else the latest draft.
        current = experiments_a.get(experiment.bot_id)
        if current is None or current.started_at is None:
            experiments_a[experiment.bot_id] = experiment
    decided = dict(
        ExperimentDecision.objects.filter(experiment__in=experiments_a.values())
        .values_list("experiment")
        .annotate(first=Min("decided_at"))
        .order_by()
    )
    live = {
        exp.bot_id: exp
        for exp in Experiment.objects.filter(bot__in=bots, status=Experiment.Status.RUNNING)
    }
    scaling = set(
        ScalingStep.objects.filter(bot__in=bots, status=ScalingStep.Status.HOLDING).values_list(
            "bot", flat=True
        )
    )
    # The furthest the plan ever got: an experiment that ran, a risk step that was approved.
    reached = {}
    for ran in Experiment.objects.filter(bot__in=bots, started_at__isnull=False).order_by(
        "started_at"
    ):
        reached[ran.bot_id] = ran
    for bot_id in ScalingStep.objects.filter(bot__in=bots, started_at__isnull=False).values_list(
        "bot", flat=True
    ):
        reached[bot_id] = "scaling"
    result = {}
    for bot in bots:
        baseline = baselines.get(bot.pk)
        freeze = freezes.get(bot.pk)
        experiment = experiments_a.get(bot.pk)
        items = [
            _baseline_item(bot, baseline, freeze),
            _report_item(baseline, reports.get(bot.pk)),
            _alerts_item(paths[bot.pk]),
            _daily_checks_item(last_daily, now),
            *_experiment_a_items(
                experiment, decided.get(experiment.pk) if experiment else None, now
            ),
        ]
        gate = (gates or {}).get(bot.pk)
        phase = _phase(
            baseline, freeze, gate, live.get(bot.pk), bot.pk in scaling, reached.get(bot.pk), now
        )
        result[bot.pk] = Checklist(items, phase)
    return result
