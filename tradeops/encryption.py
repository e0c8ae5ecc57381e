"""Secrets at rest: a model field stored encrypted with Fernet (AES-128-CBC with HMAC-SHA256,
from `cryptography`), under the keys in FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY is a comma-separated list of Fernet keys: the first encrypts, every one
decrypts, so a key is rotated by putting the new one first and re-saving the rows. Unset, a key
derived from SECRET_KEY serves demo and test installs; `check --deploy` requires a real one.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models


def _derived_key():
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tradeops field encryption")
    return base64.urlsafe_b64encode(hkdf.derive(settings.SECRET_KEY.encode()))


def _cipher():
    keys = settings.FIELD_ENCRYPTION_KEY or [_derived_key()]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(text):
    return _cipher().encrypt(text.encode()).decode()


def decrypt(token):
    try:
        return _cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        # Loud on purpose: a wrong key must not pass ciphertext on as if it were the value.
        raise ImproperlyConfigured(
            "An encrypted value does not decrypt: FIELD_ENCRYPTION_KEY lacks the key it was "
            "encrypted with (when rotating, keep the old key listed after the new one)."
        ) from None


class EncryptedCharField(models.CharField):
    """A CharField stored encrypted. max_length bounds the plain text; the column is text, as the
    ciphertext is longer. Only `isnull` lookups: equal values never encrypt alike."""

    def get_internal_type(self):
        return "TextField"

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        return None if value is None else encrypt(value)

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_lookup(self, lookup_name):
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None


@checks.register(checks.Tags.security, deploy=True)
def check_field_encryption_key(app_configs, **kwargs):
    if not settings.FIELD_ENCRYPTION_KEY:
        problem = "FIELD_ENCRYPTION_KEY is not set (secrets use a key derived from SECRET_KEY)."
    else:
        try:
            _cipher()
            return []
        except ValueError as exc:
            problem = f"FIELD_ENCRYPTION_KEY is not a list of Fernet keys: {exc}"
    hint = (
        "Set FIELD_ENCRYPTION_KEY to a Fernet key: python -c "
        '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )
    return [checks.Error(problem, hint=hint, id="tradeops.E001")]
