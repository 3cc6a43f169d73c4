"""Backoff for calls that are safe to repeat: exponential, jittered, bounded in count and time.

A small facade of our own (in the spirit of `stamina`): the policy is data, the clock,
the sleep and the random source are injected, so tests run the real loop in milliseconds.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from utlegg_gateway.config import RetrySettings

__all__ = ["Backoff", "Clock", "RetryPolicy", "Sleep"]

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry; `attempts` counts the first try."""

    attempts: int = 6
    total_seconds: float = 60.0
    initial_wait: float = 0.5
    max_wait: float = 8.0

    @classmethod
    def from_settings(cls, settings: RetrySettings) -> RetryPolicy:
        """The policy configured under `elan.retry`."""
        return cls(
            attempts=settings.attempts,
            total_seconds=settings.total_seconds,
            initial_wait=settings.initial_wait_seconds,
            max_wait=settings.max_wait_seconds,
        )

    def wait(self, retry_number: int, rng: random.Random, retry_after: float | None) -> float:
        """Seconds before retry `retry_number` (1-based): jittered backoff, at least Retry-After."""
        ceiling = min(self.max_wait, self.initial_wait * 2 ** (retry_number - 1))
        # "Equal jitter": half fixed, half random, so waits grow yet callers spread out.
        delay: float = ceiling / 2 + rng.uniform(0, ceiling / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def start(self, clock: Clock, rng: random.Random) -> Backoff:
        """A fresh budget for one logical call."""
        return Backoff(self, clock, rng)


class Backoff:
    """The retry budget of one logical call: `next_wait()` says how long, or None to stop."""

    def __init__(self, policy: RetryPolicy, clock: Clock, rng: random.Random) -> None:
        self._policy = policy
        self._clock = clock
        self._rng = rng
        self._deadline = clock() + policy.total_seconds
        self.attempts = 1

    def next_wait(self, retry_after: float | None = None) -> float | None:
        """The wait before the next attempt, or None when count or time is used up."""
        if self.attempts >= self._policy.attempts:
            return None
        delay = self._policy.wait(self.attempts, self._rng, retry_after)
        if self._clock() + delay > self._deadline:
            return None
        self.attempts += 1
        return delay
