"""The decision framework's admin, a package as Django's own admin is: the options of each model
(options: experiments and their decisions, with the experiment's moves in actions; releases:
releases and freezes; release_push: the bot's page with its release push, and the pushes;
scaling: risk scaling steps), their forms, the HTML pieces the pages show (helpers) and the audit
history they share (history). Each model is registered here, once, and nowhere else."""

from django.contrib import admin

from experiments.admin.options import ExperimentAdmin, ExperimentDecisionAdmin
from experiments.admin.release_push import BotAdmin, ReleasePushAdmin
from experiments.admin.releases import ConfigReleaseAdmin, StabilizationWindowAdmin
from experiments.admin.scaling import ScalingStepAdmin
from experiments.models import Experiment, ExperimentDecision, ScalingStep
from integrity.models import ReleasePush
from tradeops.models import Bot, ConfigRelease, StabilizationWindow

admin.site.register(Experiment, ExperimentAdmin)
admin.site.register(ExperimentDecision, ExperimentDecisionAdmin)
admin.site.register(ConfigRelease, ConfigReleaseAdmin)
admin.site.register(StabilizationWindow, StabilizationWindowAdmin)
admin.site.register(ScalingStep, ScalingStepAdmin)
admin.site.register(Bot, BotAdmin)
admin.site.register(ReleasePush, ReleasePushAdmin)
