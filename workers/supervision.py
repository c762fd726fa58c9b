"""``linkage up``'s watch over its children once the stack is up: a crash is logged and the
child started again after a backoff; a restart loop that does not settle stops the stack.

A county running the embedded stack on one machine expects a crashed worker, API or Temporal
server back by itself, not a dead stack: each is stateless or keeps its state on disk (the dev
server's SQLite store survives a ``kill -9``). A child that crashes again and again is not
helped by more restarts, though: then the stack stops with the reason, and someone must look.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from workers.launcher import Child


@dataclass(frozen=True)
class RestartPolicy:
    """How a crashed child comes back, and when to give up on it."""

    first_delay: float = 1.0
    """Seconds before the first restart; each crash in a row doubles it..."""
    longest_delay: float = 30.0
    """... up to this."""
    settled_after: float = 60.0
    """A child up this long had settled: its next crash starts the backoff from the first delay."""
    window: float = 120.0
    most_crashes: int = 5
    """More crashes than this within ``window`` seconds: a loop that will not settle."""


class Backoff:
    """The crash record of one child: how long to wait before its restart, or to give up."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self.crashes: deque[float] = deque()
        self.in_a_row = 0

    def crashed(self, at: float, up_for: float) -> float | None:
        """Record a crash at ``at`` (monotonic seconds) after ``up_for`` seconds of running:
        the delay before the restart, or None when the crashes do not settle."""
        policy = self.policy
        if up_for >= policy.settled_after:
            self.in_a_row = 0
        self.crashes.append(at)
        while self.crashes and self.crashes[0] <= at - policy.window:
            self.crashes.popleft()
        if len(self.crashes) > policy.most_crashes:
            return None
        delay = min(policy.first_delay * 2**self.in_a_row, policy.longest_delay)
        self.in_a_row += 1
        return delay


class _Watched:
    def __init__(self, child: Child, policy: RestartPolicy) -> None:
        self.child = child
        self.backoff = Backoff(policy)
        self.restart_at: float | None = None


class Supervisor:
    """Looks after ``children`` each time ``tend`` is called (``linkage up`` calls it a few times a
    second); ``say`` and ``warn`` write its one-line reports."""

    def __init__(
        self,
        children: Sequence[Child],
        say: Callable[[str], None],
        warn: Callable[[str], None],
        policy: RestartPolicy | None = None,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self._watched = [_Watched(child, self.policy) for child in children]
        self._say = say
        self._warn = warn

    def tend(self, now: float) -> str | None:
        """Restart what is due, notice what died; the reason to stop the stack, if there is one."""
        for watched in self._watched:
            child = watched.child
            if watched.restart_at is not None:
                if now >= watched.restart_at:
                    watched.restart_at = None
                    child.start()
                    self._say(f"restarted {child.name} (pid {child.pid})")
                continue
            if child.running:
                continue
            what = f"{child.name} (pid {child.pid}) {child.exit_description()}"
            # Whatever it left in its process group goes with it before a new one starts.
            child.kill()
            delay = watched.backoff.crashed(now, now - child.started_at)
            if delay is None:
                crashes = len(watched.backoff.crashes)
                return (
                    f"{what}: {crashes} crashes within {self.policy.window:.0f} s, a restart "
                    "loop that does not settle"
                )
            self._warn(f"{what}; restarting it in {delay:g} s")
            watched.restart_at = now + delay
        return None
