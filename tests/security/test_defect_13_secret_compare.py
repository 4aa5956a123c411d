"""Defect 13 (part): ``Secret.__eq__`` compared values with ``==``, whose time depends on where they differ.

hmac.compare_digest takes the same time wherever two values differ (Python docs: "uses an approach
designed to prevent timing analysis"); the test watches that the comparison goes through it.
"""

from __future__ import annotations

import hmac

import pytest

from labkit.config import Secret

pytestmark = pytest.mark.unit


@pytest.fixture
def digest_calls(monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((type(a), type(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    return calls


def test_secrets_are_compared_with_compare_digest(digest_calls):
    assert Secret("s3cret-value", "a") == Secret("s3cret-value", "b")
    assert Secret("s3cret-value", "a") != Secret("s3cret-valuX", "a")
    assert len(digest_calls) == 2 and all(t == (bytes, bytes) for t in digest_calls)


def test_non_ascii_secrets_compare_by_value(digest_calls):
    # compare_digest refuses non-ASCII str; the secret is compared as its UTF-8 bytes
    assert Secret("pässwörd-ü", "env") == Secret("pässwörd-ü", "keyring")
    assert Secret("pässwörd-ü", "env") != Secret("pässwörd-u", "env")
    assert digest_calls


def test_a_secret_never_equals_its_plain_text():
    assert Secret("s3cret-value", "a") != "s3cret-value"
