"""A config release's life, in the order it is lived, one module a step:

1. drafts: a draft copied from a release with edits (create_release), edited (edit_release)
   and approved by a team lead who wrote none of it (approve_release, the lifecycle table's
   four-eyes); after that it never changes.
2. current: run_release makes it what a bot runs now (Bot.current_release, a ReleaseChange
   saying why); the bot's baseline (baseline_of, set_baseline) and the stabilization freezes
   that hold both still (freeze_config, end_freeze, refuse_if_frozen).
3. pull: the bot polls GET /api/v1/config (routed by experiments.urls) and is served it, with
   an ETag.
4. push: a bot with a webhook is also told every change the moment it commits, and every change
   of its trading mode (the receiver experiments.apps connects). Its rows, ReleaseWebhook and
   ReleasePush, live in integrity.models beside the alerts' deliveries, whose sending they share
   (integrity.delivery); the job that sends them is experiments.jobs.push_release_changes.
5. freqtrade: the release as a freqtrade strategy parameter file (pulled with
   ?format=freqtrade, or downloaded from the admin).

The models are the core's (tradeops.models.releases), so Bot and Trade point at them; their
admin is experiments.admin.releases and experiments.admin.release_push. The services of steps 1
and 2 are importable from here.
"""

from experiments.releases.current import (
    active_freeze,
    baseline_of,
    end_freeze,
    freeze_config,
    refuse_if_frozen,
    run_release,
    set_baseline,
)
from experiments.releases.drafts import (
    EDITABLE_FIELDS,
    approve_release,
    check_tag_free,
    create_release,
    edit_release,
)

__all__ = [
    "EDITABLE_FIELDS",
    "active_freeze",
    "approve_release",
    "baseline_of",
    "check_tag_free",
    "create_release",
    "edit_release",
    "end_freeze",
    "freeze_config",
    "refuse_if_frozen",
    "run_release",
    "set_baseline",
]
