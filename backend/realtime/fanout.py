"""python-socketio's Redis manager, measured: each message it publishes carries its publication time,
so every process that receives it (the sender too: Redis echoes it back) records the pub/sub lag; failed
publishes and receives are counted, and a gauge says whether the subscription is up.

The manager's own retry loops are kept as they are; their failures are seen through the logger the
manager is given (python-socketio reports them as errors on it) and through `_redis_connect`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import socketio

from backend.monitoring import Metrics

SENT_AT = "ecabinet_sent_at"
"""The key of the publication time (Unix seconds) in each message; python-socketio ignores keys it
does not know."""


class _CountingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The manager's logger: its errors are failed publishes ("Cannot publish to redis") and receives
    ("Cannot receive from redis"), counted before they are logged."""

    def __init__(self, logger: logging.Logger, metrics: Metrics) -> None:
        super().__init__(logger, {})
        self.metrics = metrics

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        """python-socketio puts the Redis error in `extra`; it goes into the message (where the log's
        scrubbing sees it), not into fields the formatters would drop."""
        extra = kwargs.pop("extra", None) or {}
        cause = extra.get("redis_exception")
        return (f"{msg} ({cause})" if cause else msg), kwargs

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        text = str(msg)
        if "receive" in text:
            self.metrics.redis_errors.labels("receive").inc()
            self.metrics.pubsub_connected.set(0)
        elif "publish" in text:
            self.metrics.redis_errors.labels("publish").inc()
        super().error(msg, *args, **kwargs)


class MeasuredRedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    def __init__(self, url: str, *, channel: str, metrics: Metrics, write_only: bool = False) -> None:
        super().__init__(url, channel=channel, write_only=write_only,
                         logger=_CountingLogger(logging.getLogger("socketio.redis"), metrics))
        self.metrics = metrics

    def _redis_connect(self) -> None:
        super()._redis_connect()
        subscribe = self.pubsub.subscribe

        async def subscribed(*args: Any, **kwargs: Any) -> Any:
            answer = await subscribe(*args, **kwargs)
            self.metrics.pubsub_connected.set(1)
            return answer

        self.pubsub.subscribe = subscribed

    async def _publish(self, data: Any) -> Any:
        if isinstance(data, dict):
            data = {**data, SENT_AT: time.time()}
        self.metrics.pubsub_published.inc()
        return await super()._publish(data)

    async def _listen(self) -> AsyncIterator[Any]:
        """Each message decoded once, here: the lag is read from it and the dict is what the manager's
        loop handles (it takes dicts as they are)."""
        async for raw in super()._listen():
            try:
                data = self.json.loads(raw)
            except (ValueError, TypeError):
                yield raw
                continue
            self.metrics.pubsub_received.inc()
            sent = data.get(SENT_AT) if isinstance(data, dict) else None
            if isinstance(sent, int | float):
                self.metrics.pubsub_lag.observe(max(0.0, time.time() - sent))
            yield data
