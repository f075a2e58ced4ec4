"""Dealer secrets at rest: sealed with AES-GCM under a key kept outside the database (a file,
created on first start, mounted from a secret store in production)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.key_files import read_or_create

_NONCE_BYTES = 12


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the dealer secrets key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_key_file(cls, path: Path) -> SecretBox:
        return cls(read_or_create(path, lambda: AESGCM.generate_key(bit_length=256)))

    def seal(self, secret: str, dealer_id: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        # The dealer id is bound in: a sealed secret copied to another dealer's row won't open.
        return nonce + self._aead.encrypt(nonce, secret.encode(), dealer_id.encode())

    def open(self, sealed: bytes, dealer_id: str) -> str:
        nonce, ciphertext = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, ciphertext, dealer_id.encode()).decode()


def fingerprint(secret: str) -> str:
    """What staff see of a secret: enough to tell two apart, nothing to sign with."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]
