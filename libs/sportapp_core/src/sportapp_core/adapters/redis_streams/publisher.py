"""The relay's side: appending outbox events to the stream, in order, each once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from sportapp_core.adapters.redis_streams.codec import (
    NO_SUCH_KEY,
    REDIS,
    encode,
    position_of,
    redis_errors,
)
from sportapp_core.ports import StoredEvent
from sportapp_core.services.errors import DependencyUnavailable

# Appends a batch in position order, in one round trip, and never leaves a gap: an event the stream
# holds already is skipped; an event whose predecessor the stream does not hold, or an XADD Redis
# refuses (out of memory, say), ends the batch there, so nothing after it is appended. (A pipeline of
# plain XADDs would run the later ones after a failed one, and leave a hole no XADD could fill.)
# KEYS[1]: the stream. ARGV: per event, its position, its field count, then its fields and values.
# Returns {the newest position the stream holds, why the batch stopped early or ""}.
_APPEND_IN_ORDER = """
local stream = KEYS[1]
local newest = 0
if redis.call('EXISTS', stream) == 1 then
  local info = redis.call('XINFO', 'STREAM', stream)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then newest = tonumber(string.match(info[i + 1], '^%d+')) end
  end
end
local i = 1
while i <= #ARGV do
  local position = tonumber(ARGV[i])
  local count = tonumber(ARGV[i + 1])
  if position > newest + 1 then
    return {newest, 'gap: the stream holds up to ' .. newest .. ', the batch goes on at ' .. position}
  end
  if position == newest + 1 then
    local command = {'XADD', stream, position .. '-0'}
    for j = i + 2, i + 1 + 2 * count do command[#command + 1] = ARGV[j] end
    local answer = redis.pcall(unpack(command))
    if type(answer) == 'table' and answer.err then
      return {newest, 'refused at ' .. position .. ': ' .. answer.err}
    end
    newest = position
  end
  i = i + 2 + 2 * count
end
return {newest, ''}
"""


class StreamAppendStopped(DependencyUnavailable):
    """The stream took a batch only up to a point (Redis refused an entry, or the batch would have
    left a gap): what it holds is gap-free, and the relay resumes from its newest entry."""

    def __init__(self, newest: int, reason: str) -> None:
        super().__init__(REDIS)
        self.newest = newest
        self.reason = reason

    def __str__(self) -> str:
        return f"the stream holds events up to {self.newest}; {self.reason}"


class RedisStreamPublisher:
    """The relay's side: appends outbox events to one stream (an :class:`EventPublisher`)."""

    def __init__(self, client: redis.Redis, stream: str) -> None:
        self._client = client
        self._stream = stream
        self._append_in_order = client.register_script(_APPEND_IN_ORDER)

    def last_position(self) -> int:
        """The newest position the stream ever held (0 for a new or empty stream)."""
        with redis_errors():
            try:
                info: dict[str, Any] = self._client.xinfo_stream(self._stream)
            except redis.ResponseError as error:
                if NO_SUCH_KEY in str(error).lower():
                    return 0
                raise
        return position_of(str(info["last-generated-id"]))

    def publish(self, events: Sequence[StoredEvent]) -> int:
        """Append ``events`` in order, in one round trip (a script run atomically by Redis), skipping
        those the stream holds already (an earlier attempt whose answer was lost, or another
        relay); return the newest position held. Raises :class:`StreamAppendStopped` when the batch
        stopped early, after appending what came before the stop."""
        arguments: list[str | int] = []
        for event in events:
            fields = encode(event)
            arguments += [event.position, len(fields)]
            for name, value in fields.items():
                arguments += [name, value]
        with redis_errors():
            newest, stopped = self._append_in_order(keys=[self._stream], args=arguments)
        if stopped:
            raise StreamAppendStopped(int(newest), str(stopped))
        return int(newest)
