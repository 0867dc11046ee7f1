# -*- coding: utf-8 -*-
# Copyright: openclaw.vllm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets out of every text we print: one home for the redaction of an API key or a token
that a server's answer or an exception may echo. Installed on hosts with the rest of this package."""

MASK = "[REDACTED]"
_MIN_LENGTH = 4  # a shorter "secret" would mask ordinary words (and guards nothing: it is guessed at once)


def redact(text, secrets):
    """``text`` with each secret (and its form without surrounding whitespace, which is what
    goes on the wire) replaced by MASK, longest first so that no part of one survives."""
    if not text:
        return text
    forms = set()
    for secret in secrets or ():
        if not secret:
            continue
        for form in (secret, secret.strip()):
            if len(form) >= _MIN_LENGTH:
                forms.add(form)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text
