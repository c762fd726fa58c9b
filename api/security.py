"""Who is calling: staff by password and JWT, departments' machine clients by API key, citizens by
tracking code and PIN.

Argon2 (pwdlib) is deliberately slow — about a fifth of a second here — so every function that
verifies or hashes is synchronous and meant for a worker thread, never the event loop. A citizen's
PIN is the exception: the server derives it, so it is kept as a keyed hash (``hash_pin``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any

import jwt
from pwdlib import PasswordHash
from sqlalchemy import case, literal, update
from sqlmodel import Session, col, select

from domain.administration import LOGIN_ATTEMPTS, LOGIN_LOCKOUT
from settings import Settings
from store.tables import ApiKey, Department, Issue, User, UTCDateTime

ALGORITHM = "HS256"
PIN_ATTEMPTS = 5
PIN_LOCKOUT = timedelta(minutes=15)
API_KEY_HEADER = "X-API-Key"

_hasher = PasswordHash.recommended()


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(secret: str, hashed: str | None) -> bool:
    """Argon2 verify; a missing hash is checked against a dummy so timing does not tell."""
    try:
        return _hasher.verify(secret, hashed or _dummy_hash())
    except Exception:  # a malformed stored hash is a refusal, not a server error
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


# ---- counting wrong secrets ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Lockout:
    """Where a row counts wrong secrets in a row, and how many lock it for how long.

    The count is one atomic UPDATE, so concurrent guesses cannot slip past the limit.
    """

    table: type[User] | type[Issue]
    failures: str  # the column names, as the staff and the citizen rows spell them
    locked_until: str
    attempts: int
    duration: timedelta

    def lock(self, row: User | Issue | None, now: datetime) -> datetime | None:
        """When the row's lock runs out, or None when it is open (or there is no row)."""
        until: datetime | None = getattr(row, self.locked_until, None)
        return until if until is not None and until > now else None

    def clear(self, session: Session, row: User | Issue) -> None:
        """A right secret wipes the count and any lock; no write when there is neither."""
        if getattr(row, self.failures) or getattr(row, self.locked_until) is not None:
            session.exec(
                update(self.table)
                .where(col(self.table.id) == row.id)
                .values({self.failures: 0, self.locked_until: None})
            )
            session.commit()

    def fail(self, session: Session, row: User | Issue, now: datetime) -> datetime | None:
        """Count a wrong secret; the lock the count has reached, if any."""
        failures_column = col(getattr(self.table, self.failures))
        locked_column = col(getattr(self.table, self.locked_until))
        # A lock that has run out starts a fresh count.
        expired = locked_column.is_not(None) & (locked_column <= now)
        failures = case((expired, 1), else_=failures_column + 1)
        session.exec(
            update(self.table)
            .where(col(self.table.id) == row.id)
            .values(
                {
                    self.failures: failures,
                    self.locked_until: case(
                        (failures >= self.attempts, literal(now + self.duration, UTCDateTime())),
                        (expired, literal(None, UTCDateTime())),
                        else_=locked_column,
                    ),
                }
            )
        )
        session.commit()
        session.refresh(row)
        return self.lock(row, now)


_STAFF_LOCKOUT = _Lockout(User, "failed_logins", "locked_until", LOGIN_ATTEMPTS, LOGIN_LOCKOUT)
_PIN_LOCKOUT = _Lockout(Issue, "pin_failures", "pin_locked_until", PIN_ATTEMPTS, PIN_LOCKOUT)


# ---- staff: password and JWT --------------------------------------------------------------------


class LoginCheck(Enum):
    OK = "ok"
    WRONG = "wrong"  # unknown user, wrong password or disabled: the answer does not say which
    LOCKED = "locked"
    MUST_CHANGE = "must_change"  # right password, but an admin's reset asks for a new one


@dataclass(frozen=True)
class Login:
    result: LoginCheck
    user: User | None = None
    locked_until: datetime | None = None


def login(session: Session, username: str, password: str, now: datetime | None = None) -> Login:
    """Check a staff login, counting failures: ``LOGIN_ATTEMPTS`` in a row lock the account for
    ``LOGIN_LOCKOUT`` (a guesser gets a handful of tries, the owner waits a quarter of an hour).

    The count is one atomic UPDATE, as for PINs, so concurrent guesses cannot slip past it.
    Unknown users cost the same time as known ones.
    """
    now = now or datetime.now(UTC)
    user = session.exec(select(User).where(User.username == username)).first()
    locked = _STAFF_LOCKOUT.lock(user, now)
    if locked is not None:
        return Login(LoginCheck.LOCKED, locked_until=locked)
    ok = verify_secret(password, user.password_hash if user else None)
    if user is None or not user.active:
        return Login(LoginCheck.WRONG)
    if ok:
        _STAFF_LOCKOUT.clear(session, user)
        if user.must_change_password:
            return Login(LoginCheck.MUST_CHANGE, user=user)
        return Login(LoginCheck.OK, user=user)
    locked = _STAFF_LOCKOUT.fail(session, user, now)
    if locked is not None:
        return Login(LoginCheck.LOCKED, locked_until=locked)
    return Login(LoginCheck.WRONG)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this password who may sign in now, or None."""
    attempt = login(session, username, password)
    return attempt.user if attempt.result is LoginCheck.OK else None


def temporary_password() -> str:
    """A one-time password an admin hands over: it meets the policy and must be changed."""
    letters = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
    digits = "23456789"
    body = [secrets.choice(letters + digits) for _ in range(10)]
    return "".join([secrets.choice(letters), *body, secrets.choice(digits)])


def create_access_token(user: User, settings: Settings, now: datetime | None = None) -> str:
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user.username,
        "role": user.role,
        "unit": user.unit_code,
        "department": user.department_code,
        "iat": issued,
        "exp": issued + timedelta(minutes=settings.access_token_minutes),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_access_token(token: str, settings: Settings) -> dict[str, Any] | None:
    """The claims of a valid, unexpired token signed with our key; None otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"]},
        )
    except jwt.PyJWTError:
        return None
    return claims


# ---- departments' machine clients: API keys -----------------------------------------------------


def create_api_key(session: Session, department_code: str, name: str) -> str:
    """Create a key for a department's machine client and return its plaintext, shown only once.

    Raises:
        ValueError: no department has this code.
    """
    if session.get(Department, department_code) is None:
        raise ValueError(f"unknown department {department_code}")
    _, key = new_api_key(session, department_code, name)
    session.commit()
    return key


def new_api_key(session: Session, department_code: str, name: str) -> tuple[ApiKey, str]:
    """Add (not commit) a key row; return it and the plaintext.

    The key reads ``<prefix>.<secret>``: the prefix finds the row, the secret is kept only as an
    argon2 hash, so a leaked database does not leak working keys.
    """
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)  # URL-safe base64 never contains the "." separator
    row = ApiKey(
        prefix=prefix,
        key_hash=hash_secret(secret),
        department_code=department_code,
        name=name,
        created_at=datetime.now(UTC),
    )
    session.add(row)
    return row, f"{prefix}.{secret}"


class _VerifiedKeys:
    """Keys that passed argon2 recently, by prefix: a machine client calls often, and a fifth of a
    second of hashing per request would be its whole latency. The row is still read on every call
    (revocation applies at once) and an entry holds only a SHA-256 digest, bound to the stored hash.
    """

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, prefix: str, digest: bytes, key_hash: str) -> bool:
        with self._lock:
            entry = self._entries.get(prefix)
            return (
                entry is not None and hmac.compare_digest(entry[0], digest) and entry[1] == key_hash
            )

    def remember(self, prefix: str, digest: bytes, key_hash: str) -> None:
        with self._lock:
            self._entries[prefix] = (digest, key_hash)
            self._entries.move_to_end(prefix)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_verified_keys = _VerifiedKeys()


def authenticate_api_key(session: Session, key: str) -> ApiKey | None:
    """The unrevoked key row this plaintext belongs to, or None."""
    prefix, dot, secret = key.strip().partition(".")
    if not dot or not prefix or not secret or len(key) > 256:
        return None
    row = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if row is None or row.revoked_at is not None:
        return None
    digest = hashlib.sha256(secret.encode()).digest()
    if not _verified_keys.known(prefix, digest, row.key_hash):
        if not verify_secret(secret, row.key_hash):
            return None
        _verified_keys.remember(prefix, digest, row.key_hash)
    _touch(session, row)
    return row


KEY_USE_RESOLUTION = timedelta(minutes=1)


def _touch(session: Session, row: ApiKey) -> None:
    """Record a key's use for the admins' list, at most once a minute per key."""
    now = datetime.now(UTC)
    if row.last_used_at is not None and now - row.last_used_at < KEY_USE_RESOLUTION:
        return
    session.exec(update(ApiKey).where(col(ApiKey.id) == row.id).values(last_used_at=now))
    session.commit()
    row.last_used_at = now


# ---- citizens: tracking code and PIN ------------------------------------------------------------

# Crockford's base32 without I, L, O, U: read aloud over the phone without confusion.
_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _derive(settings: Settings, purpose: str, issue_id: str) -> bytes:
    return hmac.new(
        settings.secret_key.encode(), f"{purpose}:{issue_id}".encode(), hashlib.sha256
    ).digest()


def tracking_code_for(issue_id: str, settings: Settings) -> str:
    """The citizen's tracking code: derived, so a retried registration gets the same one."""
    number = int.from_bytes(_derive(settings, "tracking-code", issue_id)[:8], "big")
    chars = []
    for _ in range(10):  # 50 bits: collisions are negligible at a province's volume
        number, index = divmod(number, 32)
        chars.append(_CODE_ALPHABET[index])
    return "".join(chars)


PIN_HASH_SCHEME = "hmac-sha256$"


def hash_pin(issue_id: str, pin: str, settings: Settings) -> str:
    """What the read model keeps of a PIN: a keyed hash bound to the issue.

    Not argon2: a PIN is six digits the server derived, so a slow hash of it would be broken by
    anyone holding the database in a million guesses anyway; what protects it is the server's
    key, which the database does not hold. A keyed hash costs microseconds where argon2 cost a
    fifth of a second of CPU on every registration.
    """
    digest = hmac.new(
        settings.secret_key.encode(), f"pin-hash:{issue_id}:{pin}".encode(), hashlib.sha256
    ).hexdigest()
    return PIN_HASH_SCHEME + digest


def verify_pin(issue_id: str, pin: str, stored: str | None, settings: Settings) -> bool:
    """A keyed-hash PIN in constant time; rows registered before it keep their argon2 hash."""
    if stored is None or not stored.startswith(PIN_HASH_SCHEME):
        return verify_secret(pin, stored)
    return hmac.compare_digest(hash_pin(issue_id, pin, settings), stored)


def pin_for(issue_id: str, settings: Settings) -> str:
    """The citizen's 6-digit PIN, derived with the server's secret: unguessable from the id, and
    the same on a retried registration, so the retry can show the PIN the first answer showed."""
    number = int.from_bytes(_derive(settings, "pin", issue_id)[:8], "big")
    return f"{number % 1_000_000:06d}"


def normalise_tracking_code(code: str) -> str:
    """Accept what people type: lower case, spaces and dashes, O for 0, I/L for 1."""
    cleaned = code.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(str.maketrans("OIL", "011"))


class PinCheck(Enum):
    OK = "ok"
    WRONG = "wrong"  # unknown tracking code or wrong PIN: the answer does not say which
    LOCKED = "locked"


@dataclass(frozen=True)
class CitizenAccess:
    result: PinCheck
    issue: Issue | None = None
    locked_until: datetime | None = None


def check_pin(
    session: Session,
    tracking_code: str,
    pin: str,
    settings: Settings,
    now: datetime | None = None,
) -> CitizenAccess:
    """Verify a citizen's tracking code and PIN, with lockout after repeated wrong PINs.

    ``pin_failures`` and ``pin_locked_until`` are the one field family of the issue row the API
    writes: a wrong PIN must be counted before anything reaches the workflow (a refused guess is
    no event of the issue and must not enter its history), and only the API sees failed attempts.
    The recorder never overwrites these columns. The counting is one atomic UPDATE so concurrent
    guesses cannot slip past the limit.
    """
    now = now or datetime.now(UTC)
    code = normalise_tracking_code(tracking_code)
    issue = session.exec(select(Issue).where(Issue.tracking_code == code)).first()
    locked = _PIN_LOCKOUT.lock(issue, now)
    if locked is not None:
        return CitizenAccess(PinCheck.LOCKED, locked_until=locked)
    if issue is None:
        hash_pin(code, pin, settings)  # an unknown code costs what a wrong PIN does
        return CitizenAccess(PinCheck.WRONG)
    if verify_pin(issue.id, pin.strip(), issue.pin_hash, settings):
        _PIN_LOCKOUT.clear(session, issue)
        return CitizenAccess(PinCheck.OK, issue=issue)
    locked = _PIN_LOCKOUT.fail(session, issue, now)
    if locked is not None:
        return CitizenAccess(PinCheck.LOCKED, locked_until=locked)
    return CitizenAccess(PinCheck.WRONG)
