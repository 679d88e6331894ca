"""What the seed calls anonymized analytics: IP addresses and user agents are never stored,
only a keyed hash of them (HMAC-SHA-256, truncated to 16 bytes).

An unkeyed hash of an IPv4 address is reversed by trying all 2**32 of them (about half an hour
on one core); a keyed one cannot be without the key, which lives in the environment
(CHAINDB_ANALYTICS_KEY), never in the database. Rotating the key unlinks the periods before
and after it. The hashes still let one count distinct listeners; they remain pseudonymous
personal data under the GDPR (Art. 4(5)), so erasing a user clears them too (see erasure).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os

from chaindb.errors import ConfigError, InvalidInput

ANALYTICS_KEY_ENV = "CHAINDB_ANALYTICS_KEY"
ANALYTICS_KEY_CHARS_MIN = 32
HASH_BYTES = 16


def analytics_key() -> bytes:
    """The hashing key, from the environment; refused when missing or short."""
    key = os.environ.get(ANALYTICS_KEY_ENV, "")
    if len(key) < ANALYTICS_KEY_CHARS_MIN:
        state = "is not set" if not key else f"has {len(key)} characters"
        raise ConfigError(
            f"{ANALYTICS_KEY_ENV} {state}: IP addresses and user agents are stored only as a "
            f"keyed hash, and the key must be at least {ANALYTICS_KEY_CHARS_MIN} random "
            "characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
        )
    return key.encode()


def keyed_hash(key: bytes, value: str) -> bytes:
    return hmac.new(key, value.encode(), hashlib.sha256).digest()[:HASH_BYTES]


def ip_hash(key: bytes, ip_address: str, field: str = "ip_address") -> bytes:
    """The keyed hash of an IP address in its canonical spelling (so '::1' and '0::1' agree)."""
    try:
        canonical = ipaddress.ip_address(ip_address).compressed
    except ValueError:
        raise InvalidInput(field, ip_address, "must be an IPv4 or IPv6 address") from None
    return keyed_hash(key, canonical)
