"""A release as a freqtrade strategy parameter file: the `<StrategyClass>.json` freqtrade loads
from beside the strategy's .py file (HyperStrategyMixin.load_params_from_file, freqtrade
2026.9), the same layout hyperopt writes (HyperoptTools.export_params):

    {"strategy_name": "FibZoneStrategy",
     "params": {"buy": {"buy_fib_proximity_bps": 18}, "stoploss": {"stoploss": -0.05}, ...},
     "ft_stratparam_v": 1,
     "export_time": "..."}

freqtrade refuses the file unless `strategy_name` is the strategy's class name, and reads each
parameter from the space the strategy declares it in: a file that puts a parameter in another
space is silently ignored for it (the strategy runs its default). So every release param goes to
a space it is known to be in, or the export refuses, naming it:

- `stoploss`, `max_open_trades`, `minimal_roi` (or `roi`) and the `trailing_*` settings go to
  freqtrade's own spaces of those names (ft_set_special_params_from_file);
- a param named `buy_…`, `sell_…`, `enter_…`, `exit_…` or `protection_…` goes to that space
  (freqtrade's own rule for a parameter declared without a space);
- any other to the space the bot's freqtrade source names for it (`param_spaces`).

Decimal params are written as JSON numbers (freqtrade's parameters are floats). The file also
says which TradeOps release it is (`tradeops`: bot, tag, version, git commit), which freqtrade
ignores; served to the bot (GET /api/v1/config?format=freqtrade) it also carries the bot's
trading mode (`trading`, `trading_version`, ...: Bot.trading_config), which the deploy script
applies through freqtrade's REST API. `export_time` is when the release was approved, so one
release always exports the same bytes (the admin's download carries no trading mode).
"""

import json
from decimal import Decimal

from tradeops.models import ParamSpec

SPECIAL_SPACES = {"stoploss": "stoploss", "max_open_trades": "max_open_trades"}
ROI_KEYS = ("minimal_roi", "roi")
TRAILING_KEYS = (
    "trailing_stop",
    "trailing_stop_positive",
    "trailing_stop_positive_offset",
    "trailing_only_offset_is_reached",
)
NAMED_SPACES = ("buy", "sell", "enter", "exit", "protection")


class ExportRefused(ValueError):
    """The release cannot be written as this bot's parameter file; the message says why."""


def _space(key, param_spaces):
    if key in param_spaces:
        return param_spaces[key]
    prefix = key.split("_", 1)[0]
    return prefix if prefix in NAMED_SPACES and "_" in key else None


def _freqtrade_value(value, value_type):
    if value_type == ParamSpec.ValueType.DECIMAL and isinstance(value, str | int | Decimal):
        return float(Decimal(str(value)))
    return value


def parameter_file(release, source, bot=None, *, with_trading=False):
    """The parameter file for `release` (a dict, as JSON would hold it) for the freqtrade bot
    `source` reads, run by `bot` (the release's own bot unless given: a shadow runs its live
    bot's releases), with the bot's trading mode if `with_trading`; ExportRefused when it cannot
    be written right."""
    bot = bot or release.bot
    if source is None or not source.strategy_name:
        raise ExportRefused(
            f"bot {bot.slug} has no freqtrade strategy name: set it on its freqtrade "
            "source (a sync fills it in from the trades)"
        )
    if not source.strategy_name.isidentifier():
        raise ExportRefused(
            f"{source.strategy_name!r} is not a strategy class name (freqtrade names the file "
            "after the class and refuses any other name in it)"
        )
    types = dict(ParamSpec.objects.filter(key__in=release.params).values_list("key", "value_type"))
    params, unplaced = {}, []
    for key, value in sorted(release.params.items()):
        value = _freqtrade_value(value, types.get(key))
        if key in ROI_KEYS:
            params["roi"] = value
        elif key in SPECIAL_SPACES:
            params[SPECIAL_SPACES[key]] = {key: value}
        elif key in TRAILING_KEYS:
            params.setdefault("trailing", {})[key] = value
        elif space := _space(key, source.param_spaces or {}):
            params.setdefault(space, {})[key] = value
        else:
            unplaced.append(key)
    if unplaced:
        raise ExportRefused(
            f"release {release.tag}: no freqtrade space known for {', '.join(unplaced)}; name "
            "each in the freqtrade source's parameter spaces, e.g. {\"" + unplaced[0] + '": "buy"}'
        )
    return {
        "strategy_name": source.strategy_name,
        "params": params,
        "ft_stratparam_v": 1,
        "export_time": (release.approved_at or release.created_at).isoformat(),
        "tradeops": {
            "bot": bot.slug,
            # A shadow's freqtrade runs with dry_run: true in its own config; said here too.
            **({"shadow_of": bot.shadow_of.slug, "dry_run": True} if bot.is_shadow else {}),
            "release": release.tag,
            "version": release.version,
            "git_commit": release.git_commit,
            **(bot.trading_config() if with_trading else {}),
        },
    }


def parameter_file_text(release, source, bot=None):
    return json.dumps(parameter_file(release, source, bot), indent=2) + "\n"


def file_name(source):
    return f"{source.strategy_name}.json"
