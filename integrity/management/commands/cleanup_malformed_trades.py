import getpass

from django.core.management.base import BaseCommand, CommandError

from integrity.cleanup import CleanupRefused, apply_cleanup, plan_cleanup, restore_cleanup
from tradeops.models import Bot


class Command(BaseCommand):
    help = (
        "Clean stored trades that fail validation, dry-run first: --dry-run writes a plan, "
        "--apply PLAN moves exactly those rows to quarantine, --restore PLAN puts them back."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group(required=True)
        action.add_argument("--dry-run", action="store_true", help="write and print a plan")
        action.add_argument("--apply", type=int, metavar="PLAN", help="apply a dry-run plan")
        action.add_argument("--restore", type=int, metavar="PLAN", help="undo an applied plan")
        parser.add_argument("--bot", help="bot slug (for --dry-run)")
        parser.add_argument("--by", default=getpass.getuser(), help="who runs it (recorded)")

    def handle(self, *args, dry_run, apply, restore, bot, by, **options):
        try:
            if dry_run:
                target = Bot.objects.filter(slug=bot).first() if bot else None
                if target is None:
                    raise CommandError("--dry-run needs --bot with an existing bot slug")
                plan = plan_cleanup(target, by=by)
                self._print(plan)
                if plan.rows:
                    self.stdout.write(f"Review it, then: --apply {plan.pk}")
            elif apply:
                plan = apply_cleanup(apply, by=by)
                self.stdout.write(
                    f"Applied plan {plan.pk}: {len(plan.rows)} trade(s) moved to quarantine "
                    f"(records {plan.quarantined_ids}). Undo with --restore {plan.pk}"
                )
            else:
                plan = restore_cleanup(restore, by=by)
                self.stdout.write(f"Restored plan {plan.pk}: {len(plan.rows)} trade(s) back.")
        except CleanupRefused as exc:
            raise CommandError(f"refused: {exc}") from None

    def _print(self, plan):
        self.stdout.write(
            f"Cleanup plan {plan.pk} for {plan.bot.slug} by {plan.planned_by}: "
            f"{len(plan.rows)} row(s), fingerprint {plan.fingerprint[:16]}"
        )
        for row in plan.rows:
            self.stdout.write(
                f"  {row['action']:<20} trade {row['external_id']:<20} "
                f"{'; '.join(row['reasons'])}  [{row['fingerprint'][:12]}]"
            )
