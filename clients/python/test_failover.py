"""The failover over HTTP against a running callguard (not a stand-in): choose and record.

Run by test/python-failover.test.ts, which starts callguard with the rules below and passes
CALLGUARD_URL and CALLGUARD_TOKEN (an alerts token). By hand, against such a callguard:
    CALLGUARD_URL=... CALLGUARD_TOKEN=... /usr/bin/python3 -m unittest -v test_failover

Rules the server runs (a minute is a second there):
    {"rules": {"twilio": {"providers": ["twilio"], "failure_rate": 0.5, "min_calls": 5,
                          "window_minutes": 120, "log_patterns": []}},
     "providers": {"exotel": {"max_per_second": 3}}}
"""
from __future__ import annotations

import os
import socket
import time
import unittest

from callguard_client import CallguardClient, Choice

DEADLINE = 20.0


def setUpModule() -> None:
    if not os.environ.get("CALLGUARD_URL") or not os.environ.get("CALLGUARD_TOKEN"):
        raise RuntimeError("set CALLGUARD_URL and CALLGUARD_TOKEN to a running callguard (see this file's docstring)")


class Failover(unittest.TestCase):
    def setUp(self) -> None:
        self.client = CallguardClient(interval=0.05)

    def tearDown(self) -> None:
        self.client.close()

    def test_a_failing_provider_is_held_and_its_calls_go_to_the_next(self) -> None:
        self.assertEqual(self.client.choose("calls", ["twilio", "plivo"]), Choice("twilio", 0.0))
        for _ in range(6):
            self.client.record("twilio", False, 120.0)
        self.assertTrue(self.client.flush())
        self.assertEqual(self.client.stats()["calls_sent"], 6)
        deadline = time.monotonic() + DEADLINE
        while self.client.choose("calls", ["twilio", "plivo"]).provider != "plivo":
            self.assertLess(time.monotonic(), deadline, "twilio was not held in time")
            time.sleep(0.05)
        # Held: with no other candidate, nothing is chosen, and the caller is told to wait.
        alone = self.client.choose("calls", ["twilio"])
        self.assertIsNone(alone.provider)
        self.assertGreater(alone.wait, 0)
        self.client.record("plivo", True, 80.0)
        self.assertTrue(self.client.flush())

    def test_a_provider_at_its_capacity_spills_to_the_next_and_alone_says_how_long_to_wait(self) -> None:
        chosen = [self.client.choose("calls", ["exotel", "telnyx"]).provider for _ in range(4)]
        self.assertEqual(chosen[:3], ["exotel"] * 3)
        self.assertEqual(chosen[3], "telnyx")
        full = self.client.choose("calls", ["exotel"])
        self.assertIsNone(full.provider)
        self.assertGreater(full.wait, 0)
        self.assertLessEqual(full.wait, 1.0)

    def test_refused_requests_raise(self) -> None:
        with self.assertRaisesRegex(ValueError, "CALLGUARD_QUEUES"):
            self.client.choose("nope", ["twilio"])
        with self.assertRaisesRegex(ValueError, "HTTP 400"):
            self.client.choose("calls", ["p%d" % i for i in range(9)])

    def test_choose_connections_send_at_once(self) -> None:
        # A request's body must not wait for the server's delayed ACK of its headers (Nagle).
        self.client.choose("calls", ["vonage", "sinch"])
        conn = self.client._local.conn
        self.assertEqual(conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)
        # Also after the kept-alive connection was closed and opened again.
        conn.close()
        self.client.choose("calls", ["vonage", "sinch"])
        self.assertEqual(self.client._local.conn.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), 1)

    def test_choose_latency(self) -> None:
        """Measures (prints) choose's latency on this connection; the figure is checked by its caller."""
        for _ in range(50):
            self.client.choose("calls", ["vonage", "sinch"])  # warm up
        took = []
        for _ in range(1000):
            start = time.perf_counter()
            choice = self.client.choose("calls", ["vonage", "sinch"])
            took.append((time.perf_counter() - start) * 1000)
            self.assertEqual(choice.provider, "vonage")
        took.sort()
        print(f"choose latency over 1000 calls: p50 {took[499]:.2f} ms, p99 {took[989]:.2f} ms, max {took[-1]:.2f} ms", flush=True)


if __name__ == "__main__":
    unittest.main()
