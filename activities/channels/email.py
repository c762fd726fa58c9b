"""Email over SMTP (aiosmtplib): a Chinese subject, a plain-text body and an HTML alternative.

``Message-ID`` is derived from the idempotency key, so every retry of one notice is the same
message to the receiving side: mail stores and clients collapse duplicates by Message-ID, which is
how "at least once" stays invisible to a reader. The raw key also travels in
``X-Linkage-Idempotency-Key`` for programs that read the mailbox.

Config: ``host`` (required), ``port`` (default 465 with ``tls``, 587 with ``starttls``, else 25),
``username`` (optional; the password is the target's secret), ``starttls`` (bool), ``tls``
(implicit TLS, bool), ``from`` (required), ``to`` (address or list, required), ``timeout``,
``validate_certs`` (default true), ``message_id_domain`` (default: the sender's domain).

SMTP replies map like HTTP ones: 5xx is final, 4xx ("try again later", greylisting, full queue)
and connection trouble are transient.
"""

from __future__ import annotations

import hashlib
import html
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parseaddr
from typing import Any

import aiosmtplib

from activities.channels.base import (
    Clock,
    DeliveryError,
    DeliveryResult,
    OutboundMessage,
    PermanentDeliveryError,
    Target,
    TransientDeliveryError,
    require,
    short,
    timeout_of,
    utcnow,
)


def message_id(idempotency_key: str, domain: str) -> str:
    """A valid, stable ``Message-ID`` for a key.

    The key is hashed because Message-ID allows only a narrow character set and the key (workflow id
    + sequence) may contain anything; the hash keeps it unique per key and identical across retries.
    """
    # 128 bits is ample for uniqueness and keeps the header within 78 characters for ordinary
    # domains, so it is not folded (some dedupers compare the raw, folded value).
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<linkage.{digest}@{domain}>"


def _recipients(config: Mapping[str, Any]) -> list[str]:
    raw = require(config, "to", "email")
    values = [raw] if isinstance(raw, str) else [str(v) for v in raw]
    addresses = [addr for _, addr in getaddresses(values) if "@" in addr]
    if not addresses:
        raise PermanentDeliveryError(f"email target has no valid 'to' address: {raw!r}")
    return addresses


def _domain_of(address: str) -> str:
    domain = parseaddr(address)[1].rpartition("@")[2]
    # Message-ID must be ASCII; an internationalised domain falls back to a reserved name.
    return domain if domain and domain.isascii() else "linkage.invalid"


def email_html(message: OutboundMessage) -> str:
    """The HTML alternative: the plain text, escaped, with the link made clickable.

    Built from the text rather than from the markdown so the two parts can never disagree; only
    http(s) links become anchors, so a crafted link cannot turn into ``javascript:``.
    """
    body = "<br>\n".join(html.escape(line) for line in message.text.splitlines())
    link = ""
    if message.link and message.link.lower().startswith(("https://", "http://")):
        link = f'<p><a href="{html.escape(message.link, quote=True)}">查看详情</a></p>\n'
    return (
        '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(message.title)}</title></head>\n<body>\n"
        f"<p>{body}</p>\n{link}</body></html>\n"
    )


def build_email(
    message: OutboundMessage, sender: str, recipients: list[str], date_from: Clock = utcnow
) -> EmailMessage:
    """The MIME message: multipart/alternative of text/plain and text/html, both UTF-8.

    Both parts are base64: Chinese text in quoted-printable triples in size, and 8bit would depend
    on every relay on the way announcing 8BITMIME.
    """
    mail = EmailMessage(policy=SMTP)
    mail["Subject"] = message.title  # the policy encodes it (RFC 2047) as UTF-8
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = format_datetime(date_from())
    mail["Message-ID"] = message_id(message.idempotency_key, _domain_of(sender))
    mail["X-Linkage-Idempotency-Key"] = message.idempotency_key
    mail["X-Linkage-Kind"] = message.kind
    mail.set_content(message.text, subtype="plain", charset="utf-8", cte="base64")
    mail.add_alternative(email_html(message), subtype="html", charset="utf-8", cte="base64")
    return mail


# aiosmtplib returns only the text of the final reply, and raises unless DATA got 250.
DELIVERED = int(aiosmtplib.SMTPStatus.completed)


def classify_smtp_error(exc: Exception) -> DeliveryError:
    """The retry decision for an aiosmtplib failure."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in exc.recipients)
        # One "try later" is reason enough to try again: the hard-refused ones stay refused.
        if any(400 <= c < 500 for c in codes):
            return TransientDeliveryError(short(detail), min(codes))
        return PermanentDeliveryError(short(detail), max(codes) if codes else None)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        detail = short(f"{type(exc).__name__}: {exc.message}")
        if 500 <= exc.code < 600:
            return PermanentDeliveryError(detail, exc.code)
        return TransientDeliveryError(detail, exc.code)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        # e.g. starttls configured but not offered, or AUTH not offered: a config mismatch.
        return PermanentDeliveryError(short(f"not supported: {exc}"))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentDeliveryError(short(f"certificate refused: {exc}"))
    if isinstance(exc, (aiosmtplib.SMTPException, OSError, TimeoutError)):
        return TransientDeliveryError(short(f"{type(exc).__name__}: {exc}"))
    return PermanentDeliveryError(short(f"{type(exc).__name__}: {exc}"))


class EmailSender:
    channel = "email"

    def __init__(self, clock: Clock = utcnow) -> None:
        self._clock = clock

    async def send(self, message: OutboundMessage, target: Target) -> DeliveryResult:
        config = target.config
        host = str(require(config, "host", self.channel))
        sender = str(require(config, "from", self.channel))
        recipients = _recipients(config)
        use_tls = bool(config.get("tls", False))
        # Explicit, never aiosmtplib's opportunistic default: a target that says STARTTLS must get
        # it or fail, and one that does not is not surprised by a certificate check.
        start_tls = bool(config.get("starttls", False))
        if use_tls and start_tls:
            raise PermanentDeliveryError("email target sets both tls and starttls")
        try:
            port = int(config.get("port") or (465 if use_tls else 587 if start_tls else 25))
        except (TypeError, ValueError) as exc:
            raise PermanentDeliveryError(f"bad port {config.get('port')!r}") from exc
        username = config.get("username") or None
        if username and not target.secret:
            raise PermanentDeliveryError("email target has a username but no password secret")

        mail = build_email(message, sender, recipients, self._clock)
        try:
            refused, reply = await aiosmtplib.send(
                mail,
                sender=parseaddr(sender)[1],
                recipients=recipients,
                hostname=host,
                port=port,
                username=str(username) if username else None,
                password=target.secret if username else None,
                use_tls=use_tls,
                start_tls=start_tls,
                validate_certs=bool(config.get("validate_certs", True)),
                timeout=timeout_of(config),
            )
        except Exception as exc:  # aiosmtplib raises a wide family; classify rather than leak
            raise classify_smtp_error(exc) from exc

        if refused:
            # Some recipients took it, some did not. A temporary refusal is worth a retry (the ones
            # who already have it dedupe on Message-ID); hard refusals are reported, not retried.
            detail = "; ".join(f"{rcpt}: {r.code} {r.message}" for rcpt, r in refused.items())
            if any(400 <= r.code < 500 for r in refused.values()):
                raise TransientDeliveryError(short(f"partly refused: {detail}"), DELIVERED)
            return DeliveryResult(DELIVERED, short(f"{reply}; refused: {detail}"))
        return DeliveryResult(DELIVERED, short(reply))
