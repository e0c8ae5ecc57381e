"""What ingestion tells the apps above it, so the core and ingestion never import them.

Receivers run inside the sender's transaction: what they write (an incident) stands or falls with
the batch. Integrity connects its receivers in its AppConfig.ready().
"""

from django.dispatch import Signal

# Records of a batch were refused: bot, kind, malformed (count), conflicts (count), errors (the
# response's per-record error entries), source.
records_refused = Signal()

# A body could not be read at all and was quarantined whole: bot, kind, error, source.
body_refused = Signal()

# The API stored a batch (after commit): bot. Watches that must run while bots are pushing.
batch_received = Signal()

# A shadow bot was created (tradeops.services.create_bot, in its transaction): bot, by, now. The
# decision framework gives it the release it should run.
shadow_created = Signal()

# A bot's trading mode changed (tradeops.services.set_trading_mode, in its transaction): bot, now.
# Integrity pushes the new mode to the bot's webhook once it commits.
trading_mode_changed = Signal()
