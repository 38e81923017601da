"""Which servers this process serves when the bot runs as several processes (Discord shards).

Discord gives a server's events to shard ``(guild_id >> 22) % shard_count``, and direct
messages to shard 0. ``BRIEFBOT_SHARD_COUNT`` is the number of shards across all processes;
``BRIEFBOT_SHARD_IDS`` the ones this process connects (all of them when unset). A process
registers the commands, and runs the background jobs (watch, schedule, weekly report), only
of the servers on its own shards; the global commands and the jobs of a corpus shared by all
servers belong to the process holding shard 0. So two processes never sync the same
commands or reindex the same corpus on a timer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.settings import Settings


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord gives a server's events to."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ShardPlan:
    """The shards of this process out of ``count`` (``count`` None: one unsharded process)."""

    count: int | None = None
    ids: tuple[int, ...] = ()

    @classmethod
    def of(cls, settings: Settings) -> ShardPlan:
        count = settings.shard_count
        if count is None:
            return cls()
        return cls(count, tuple(sorted(settings.shard_ids)) or tuple(range(count)))

    @property
    def sharded(self) -> bool:
        return self.count is not None

    def owns(self, guild_id: int) -> bool:
        """Whether this process receives ``guild_id``'s events (and so serves it)."""
        return self.count is None or shard_of(guild_id, self.count) in self.ids

    @property
    def owns_direct_messages(self) -> bool:
        """Direct messages (and the global commands, and a shared corpus's jobs) go to shard 0."""
        return self.count is None or 0 in self.ids

    def servers(self, guild_ids: Iterable[int]) -> list[int]:
        """The servers among ``guild_ids`` this process serves, in order."""
        return sorted(g for g in guild_ids if self.owns(g))

    def describe(self) -> str:
        if self.count is None:
            return "one process for every server (no BRIEFBOT_SHARD_COUNT)"
        shards = ", ".join(str(i) for i in self.ids)
        return f"shard{'s' if len(self.ids) != 1 else ''} {shards} of {self.count}"
