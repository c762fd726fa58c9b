"""Rate limits of the submissions without an account, per client address and per phone number.

The counting is the ``limits`` package's (moving windows, storage chosen by URI: ``memory://`` for
one API process, ``redis://`` to share the counts between several): a limiter is easy to get
subtly wrong (window edges, concurrent hits), and that one is maintained and tested. A request
is checked against every limit first and counted only once all admit it, so a refused request
uses up nothing, and nothing behind the check runs for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse_many, storage, strategies

from api.problems import ProblemError
from settings import Settings


@dataclass(frozen=True)
class Throttle:
    limiter: strategies.MovingWindowRateLimiter
    per_address: list[RateLimitItem]
    per_phone: list[RateLimitItem]

    @classmethod
    def of(cls, settings: Settings) -> Throttle:
        store = storage.storage_from_string(settings.public_limit_storage)
        return cls(
            strategies.MovingWindowRateLimiter(store),
            parse_many(settings.public_limit_per_address),
            parse_many(settings.public_limit_per_phone),
        )

    def admit(self, what: str, address: str, phone: str | None = None) -> None:
        """Count one submission of kind ``what``, or raise a 429 with ``Retry-After``.

        Raises:
            ProblemError: 429 naming ``phone`` when the phone's limit is reached, else the
                address's; nothing is counted then.
        """
        keys: list[tuple[RateLimitItem, tuple[str, str, str], str | None]] = [
            (item, ("address", what, address), None) for item in self.per_address
        ]
        if phone:
            keys += [(item, ("phone", what, phone), "phone") for item in self.per_phone]
        for item, key, field in keys:
            if not self.limiter.test(item, *key):
                reset = self.limiter.get_window_stats(item, *key).reset_time
                wait = max(math.ceil(reset - time.time()), 1)
                who = "该手机号" if field else "您的网络地址"
                raise ProblemError(
                    429,
                    f"{who}提交过于频繁，请 {_wait_label(wait)}后再试",
                    slug="rate-limited",
                    field=field,
                    headers={"Retry-After": str(wait)},
                )
        for item, key, _ in keys:
            self.limiter.hit(item, *key)


def _wait_label(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} 秒"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} 分钟"
    return f"{math.ceil(seconds / 3600)} 小时"


def throttle_of(request: Request) -> Throttle:
    """The app's throttle, made on first use from its settings."""
    state = request.app.state
    found: Throttle | None = getattr(state, "public_throttle", None)
    if found is None:
        found = state.public_throttle = Throttle.of(state.settings)
    return found


def client_address(request: Request) -> str:
    # uvicorn's proxy_headers put the forwarded client here when a trusted proxy stands before it.
    return request.client.host if request.client else "unknown"
