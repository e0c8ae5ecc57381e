"""Param values by their ParamSpec: each checked against its type and bounds, and compared by
value for its type (a respelled decimal is the same value). Releases, the one-change rule and
the compare page all read params through here."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from tradeops.models import ParamSpec


def _decimal(value):
    """A decimal param's value as a number, or None if it is not one: written as a string
    ("0.35") or a whole number (0), never a bool or a float, and finite."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _typed(spec, value):
    """The value as the spec's type, or ValidationError naming the key. No silent coercion:
    "18" for an int param is a different value from 18 (and changing only the type is a change).
    """
    key = spec.key
    if spec.value_type == ParamSpec.ValueType.BOOL:
        if not isinstance(value, bool):
            raise ValidationError({key: f"{key}: expected true or false, got {value!r}"})
        return value
    if spec.value_type == ParamSpec.ValueType.STR:
        if not isinstance(value, str):
            raise ValidationError({key: f"{key}: expected a string, got {value!r}"})
        return value
    if spec.value_type == ParamSpec.ValueType.INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError({key: f"{key}: expected a whole number, got {value!r}"})
        number = Decimal(value)
    else:
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ValidationError({key: f"{key}: expected a decimal string, got {value!r}"})
        number = _decimal(value)
        if number is None:
            raise ValidationError({key: f"{key}: not a decimal: {value!r}"})
    if spec.min_value is not None and number < spec.min_value:
        raise ValidationError({key: f"{key}: {value} is below the minimum {spec.min_value}"})
    if spec.max_value is not None and number > spec.max_value:
        raise ValidationError({key: f"{key}: {value} is above the maximum {spec.max_value}"})
    return value


def validate_params(params):
    """Every key must be a known ParamSpec with a value of its type within its bounds."""
    if not isinstance(params, dict):
        raise ValidationError("params must be an object of key: value")
    specs = {spec.key: spec for spec in ParamSpec.objects.filter(key__in=params)}
    unknown = sorted(set(params) - set(specs))
    if unknown:
        raise ValidationError(f"unknown parameter(s) {', '.join(unknown)}: add a ParamSpec first")
    errors = {}
    for key, value in params.items():
        try:
            _typed(specs[key], value)
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def same_value(value_type, old, new):
    """Whether two param values are the same value for the param's type (ParamSpec.value_type):

    - decimal: the same number however it is written: "0.3", "0.30" and "0.300" are one value,
      and so are 5, "5" and "5.0" (a whole decimal may be written as a JSON number);
    - int, bool and str: the same JSON value of the same type. An int param's 18 and "18"
      differ: "18" is not a whole number, and a change of type only is still a change (which
      the one-change rule then refuses as no lever); true and 1 differ likewise;
    - a key without a ParamSpec (value_type None), or a value its type does not allow: the same
      JSON value of the same type.

    The one comparison behind the one-change rule, the release diff and the compare page.
    """
    if value_type == ParamSpec.ValueType.DECIMAL:
        old_number, new_number = _decimal(old), _decimal(new)
        if old_number is not None and new_number is not None:
            return old_number == new_number
    return type(old) is type(new) and old == new


def diff_params(old, new):
    """{key: (old value, new value)} for keys changed, added (old None) or removed (new None).
    Values compare by `same_value` for the key's type: a respelled decimal is no change."""
    keys = sorted(set(old) | set(new))
    value_types = dict(ParamSpec.objects.filter(key__in=keys).values_list("key", "value_type"))
    return {
        key: (old.get(key), new.get(key))
        for key in keys
        if key not in old
        or key not in new
        or not same_value(value_types.get(key), old[key], new[key])
    }


def compare_params(old, new):
    """Every key of two releases side by side: [(key, category, old value, new value, changed)]."""
    changed = diff_params(old, new)
    categories = dict(ParamSpec.objects.values_list("key", "category"))
    return [
        (key, categories.get(key, "unknown"), old.get(key), new.get(key), key in changed)
        for key in sorted(set(old) | set(new))
    ]
