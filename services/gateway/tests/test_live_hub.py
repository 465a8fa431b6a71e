import socket

import pytest
from tandem_gateway.adapters.live import LiveHub, LiveSubscription, StreamLost

pytestmark = pytest.mark.unit


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_subscription_that_cannot_reach_redis_fails_cleanly() -> None:
    hub = LiveHub(f"redis://127.0.0.1:{_closed_port()}/0", max_pending=10)
    await hub.start()
    try:
        for _ in range(2):  # and the hub is in a usable state afterwards
            with pytest.raises(StreamLost):
                async with hub.subscription("tandem:live:conversation:x"):
                    pass
            assert hub.subscription_count == 0
    finally:
        await hub.stop()


async def test_a_subscriber_that_falls_behind_is_told_so() -> None:
    subscription = LiveSubscription("c", max_pending=2)
    subscription.offer(b"1")
    subscription.offer(b"2")
    subscription.offer(b"3")  # over the limit: the socket must reconnect and catch up
    assert await subscription.get() == b"1"
    assert await subscription.get() == b"2"
    with pytest.raises(StreamLost, match="behind"):
        await subscription.get()
