"""Unit tests of callguard_client against a local http.server standing in for callguard.

Run: /usr/bin/python3 -m unittest -v test_callguard_client   (from clients/python; needs loguru)
"""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import unittest
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

from loguru import logger as loguru_logger

import callguard_client
from callguard_client import CallguardClient

HERE = os.path.dirname(os.path.abspath(__file__))
DEADLINE = 15.0


def setUpModule() -> None:
    loguru_logger.remove()  # loguru's default stderr handler would print the tests' exceptions


class Request:
    def __init__(self, path: str, headers: Dict[str, str], body: bytes) -> None:
        self.path, self.headers, self.body = path, headers, body

    def lines(self) -> List[Dict[str, Any]]:
        return [json.loads(line) for line in self.body.decode().splitlines()]


class FakeCallguard:
    """Records every request; answers from `statuses` in turn (then 202); `hang` holds answers back."""

    def __init__(self) -> None:
        self.requests: List[Request] = []
        self.statuses: List[int] = []
        self.hang = threading.Event()
        self.release = threading.Event()
        self.changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with fake.changed:
                    fake.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    status = fake.statuses.pop(0) if fake.statuses else 202
                    fake.changed.notify_all()
                if fake.hang.is_set():
                    fake.release.wait(DEADLINE)
                records = len(body.splitlines()) if self.path == "/health/logs" else 0
                reply = json.dumps({"records": records, "matched": 0, "dropped": 0} if status == 202 else {"error": {"code": "x", "message": "no"}}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:
                    pass  # the client gave up on a hung request, as it should

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, condition: Callable[[List[Request]], bool]) -> List[Request]:
        with self.changed:
            if not self.changed.wait_for(lambda: condition(self.requests), DEADLINE):
                raise AssertionError(f"condition not met within {DEADLINE} s; requests: {[r.path for r in self.requests]}")
            return list(self.requests)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def restore_env(saved: Dict[str, Optional[str]]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


class ClientTest(unittest.TestCase):
    def setUp(self) -> None:
        self.fake = FakeCallguard()
        self.clients: List[CallguardClient] = []

    def tearDown(self) -> None:
        for client in self.clients:
            client.close(0)
        self.fake.close()

    def client(self, **options: Any) -> CallguardClient:
        options.setdefault("token", "secret-token")
        client = CallguardClient(options.pop("url", self.fake.url), **options)
        self.clients.append(client)
        return client

    def stdlib_logger(self, client: CallguardClient, name: str) -> logging.Logger:
        log = logging.getLogger(name)
        log.setLevel(logging.DEBUG)
        log.propagate = False
        handler = client.handler()
        log.addHandler(handler)
        self.addCleanup(log.removeHandler, handler)
        return log

    def test_logging_records_go_as_ndjson_with_the_bearer_token_and_an_idempotency_key(self) -> None:
        client = self.client(interval=60)
        log = self.stdlib_logger(client, "test.ndjson")
        log.warning("Twilio API error %s", 20003)
        try:
            raise ConnectionError("telnyx call failed: 503")
        except ConnectionError:
            log.exception("dial failed")
        self.assertTrue(client.flush(DEADLINE))
        [request] = self.fake.requests
        self.assertEqual(request.path, "/health/logs")
        self.assertEqual(request.headers["authorization"], "Bearer secret-token")
        self.assertEqual(request.headers["content-type"], "application/x-ndjson")
        self.assertRegex(request.headers["idempotency-key"], r"^[0-9a-f]{32}$")
        first, second = request.lines()
        self.assertEqual({k: first[k] for k in ("levelname", "levelno", "message", "logger")}, {"levelname": "WARNING", "levelno": 30, "message": "Twilio API error 20003", "logger": "test.ndjson"})
        self.assertEqual((second["levelname"], second["levelno"], second["message"]), ("ERROR", 40, "dial failed"))
        self.assertEqual(second["exc_text"], "ConnectionError: telnyx call failed: 503")
        self.assertEqual(client.stats()["records_sent"], 2)
        self.assertEqual(client.stats()["server_records"], 2)

    def test_loguru_sink_with_serialize_on_and_off_sends_loguru_shaped_records(self) -> None:
        client = self.client()
        ids = [loguru_logger.add(client.loguru_sink, serialize=True, level="WARNING"), loguru_logger.add(client.loguru_sink, level="WARNING")]
        for handler_id in ids:
            self.addCleanup(loguru_logger.remove, handler_id)
        loguru_logger.info("not sent")
        try:
            raise TimeoutError("soniox transcription failed")
        except TimeoutError:
            loguru_logger.exception("transcribe failed")
        self.assertTrue(client.flush(DEADLINE))
        lines = [line for r in self.fake.requests for line in r.lines()]
        self.assertEqual(len(lines), 2)
        for line in lines:
            record = line["record"]
            self.assertEqual(record["level"], {"name": "ERROR", "no": 40})
            self.assertEqual(record["message"], "transcribe failed")
            self.assertEqual(record["exception"], {"type": "TimeoutError", "value": "soniox transcription failed"})

    def test_a_serialized_line_passed_as_a_string_is_sent_in_loguru_shape_and_junk_is_dropped(self) -> None:
        client = self.client()
        line = json.dumps({"text": "long formatted line\n", "record": {"level": {"name": "WARNING", "no": 30, "icon": "!"}, "message": "twilio api error", "exception": None, "extra": {"big": "x" * 100}}})
        client.loguru_sink(line)
        client.loguru_sink("not json")
        client.loguru_sink("[1, 2]")
        self.assertTrue(client.flush(DEADLINE))
        [sent] = self.fake.requests[0].lines()
        self.assertEqual(sent["record"]["level"], {"name": "WARNING", "no": 30, "icon": "!"})
        self.assertEqual(sent["record"]["message"], "twilio api error")
        self.assertNotIn("text", sent)
        self.assertEqual(client.stats()["dropped_invalid"], 2)

    def test_report_error_coalesces_counts_per_rule_and_ignores_bad_arguments(self) -> None:
        client = self.client(interval=60)  # nothing goes before flush() wakes the sender
        client.report_error("twilio")
        client.report_error("twilio", 2)
        client.report_error("soniox")
        for bad in [("",), ("x", 0), ("x", True), ("x", 1.5), (None,), ("y" * 65,)]:
            client.report_error(*bad)  # type: ignore[arg-type]
        self.assertTrue(client.flush(DEADLINE))
        [request] = self.fake.requests
        self.assertEqual(request.path, "/health/errors")
        self.assertEqual(request.headers["content-type"], "application/json")
        self.assertEqual(json.loads(request.body), [{"rule": "twilio", "count": 3}, {"rule": "soniox", "count": 1}])
        stats = client.stats()
        self.assertEqual((stats["errors_queued"], stats["errors_sent"], stats["dropped_invalid"]), (4, 4, 6))

    def test_a_failed_batch_is_retried_with_the_same_idempotency_key_and_body(self) -> None:
        self.fake.statuses = [503, 503]
        client = self.client(interval=0.05, max_backoff=0.1)
        client.report_error("twilio", 5)
        requests = self.fake.wait_for(lambda rs: len(rs) == 3)
        self.assertTrue(client.flush(DEADLINE))
        self.assertEqual(len({r.headers["idempotency-key"] for r in requests}), 1)
        self.assertEqual(len({r.body for r in requests}), 1)
        stats = client.stats()
        self.assertEqual((stats["retries"], stats["errors_sent"]), (2, 5))
        self.assertIn("HTTP 503", stats["last_error"])

    def test_a_batch_the_server_refuses_is_dropped_not_retried(self) -> None:
        self.fake.statuses = [401]
        client = self.client()
        client.report_error("twilio")
        self.fake.wait_for(lambda rs: len(rs) == 1)
        self.assertTrue(client.flush(DEADLINE))
        client.report_error("soniox")  # the next batch is a new request: the refused one was not retried
        self.assertTrue(client.flush(DEADLINE))
        first, second = self.fake.requests
        self.assertEqual((json.loads(first.body)[0]["rule"], json.loads(second.body)[0]["rule"]), ("twilio", "soniox"))
        self.assertNotEqual(first.headers["idempotency-key"], second.headers["idempotency-key"])
        stats = client.stats()
        self.assertEqual((stats["dropped_rejected"], stats["errors_sent"], stats["retries"]), (1, 1, 0))
        self.assertIn("HTTP 401", stats["last_error"])

    def test_a_full_buffer_drops_the_oldest_records_and_counts_them(self) -> None:
        client = self.client(interval=60, max_buffer=5)
        log = self.stdlib_logger(client, "test.bounded")
        for i in range(8):
            log.error("record %d", i)
        self.assertEqual((client.stats()["dropped_overflow"], client.stats()["buffered"]), (3, 5))
        self.assertTrue(client.flush(DEADLINE))
        sent = [line["message"] for r in self.fake.requests for line in r.lines()]
        self.assertEqual(sent, [f"record {i}" for i in range(3, 8)])

    def test_logging_never_waits_for_a_server_that_does_not_answer_and_never_raises(self) -> None:
        self.fake.hang.set()
        client = self.client(interval=0.01, timeout=DEADLINE)
        log = self.stdlib_logger(client, "test.hang")
        log.error("first")
        self.fake.wait_for(lambda rs: len(rs) == 1)  # the sender is now stuck in a request
        longest = 0.0
        for i in range(500):
            started = time.perf_counter()
            log.error("twilio api error %d", i)
            longest = max(longest, time.perf_counter() - started)
        log.error("%d", "not a number")  # a bad format string is the app's bug, not a crash
        client.loguru_sink(object())
        client.report_error(object())  # type: ignore[arg-type]
        print(f"\n  longest log call while the server hung: {longest * 1000:.2f} ms", file=sys.stderr)
        # A call that waited for the stuck request would take its whole timeout (DEADLINE);
        # the bound proves it did not without racing the machine's load. Speed lives in the bench.
        self.assertLess(longest, DEADLINE / 3)
        self.assertEqual(client.stats()["internal_errors"], 1)
        self.fake.release.set()
        self.fake.hang.clear()
        self.assertTrue(client.flush(DEADLINE))
        self.assertEqual(client.stats()["records_sent"], 501)

    def test_a_server_that_is_down_is_retried_with_back_off(self) -> None:
        client = self.client(url=f"http://127.0.0.1:{closed_port()}", interval=0.01, max_backoff=0.05)
        client.report_error("twilio")
        wait_until(lambda: bool(client.stats()["retries"] >= 3))
        stats = client.stats()
        self.assertEqual((stats["errors_sent"], stats["dropped_expired"]), (0, 0))
        self.assertIn("Connection refused", stats["last_error"] or "")

    def test_flush_against_a_dead_server_backs_off_instead_of_retrying_every_few_ms(self) -> None:
        client = self.client(url=f"http://127.0.0.1:{closed_port()}")  # default interval and back-off
        client.report_error("twilio")
        started = time.monotonic()
        self.assertFalse(client.flush(1.5))
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        # One send, one retry for the flush, then back-off (0.25 s doubling): a handful, not hundreds.
        retries = client.stats()["retries"]
        self.assertGreaterEqual(retries, 2)
        self.assertLessEqual(retries, 6)

    def test_a_batch_still_failing_after_retry_for_is_dropped_and_counted(self) -> None:
        client = self.client(url=f"http://127.0.0.1:{closed_port()}", interval=0.01, max_backoff=0.02, retry_for=0.2)
        client.report_error("twilio", 4)
        wait_until(lambda: bool(client.stats()["dropped_expired"] == 4))
        self.assertTrue(client.flush(DEADLINE))

    def test_large_volumes_go_in_batches_under_the_server_body_limit_in_order(self) -> None:
        client = self.client(interval=60)
        log = self.stdlib_logger(client, "test.batches")
        log.error("x" * 100_000)  # clipped to 8 KiB
        for i in range(1500):
            log.error("record %d %s", i, "y" * 200)
        self.assertTrue(client.flush(DEADLINE))
        self.assertTrue(all(len(r.body) <= 64 * 1024 for r in self.fake.requests))
        self.assertGreater(len(self.fake.requests), 2)
        lines = [line["message"] for r in self.fake.requests for line in r.lines()]
        self.assertEqual(len(lines[0]), callguard_client.MAX_TEXT)
        self.assertEqual([int(m.split()[1]) for m in lines[1:]], list(range(1500)))

    def test_configuration_comes_from_the_environment(self) -> None:
        saved = {k: os.environ.get(k) for k in ("CALLGUARD_URL", "CALLGUARD_TOKEN")}
        self.addCleanup(restore_env, saved)
        os.environ["CALLGUARD_URL"], os.environ["CALLGUARD_TOKEN"] = self.fake.url + "/", "env-token"
        client = self.client(url=None, token=None)
        self.assertEqual(client.url, self.fake.url)
        client.report_error("twilio")
        self.assertTrue(client.flush(DEADLINE))
        self.assertEqual(self.fake.requests[0].headers["authorization"], "Bearer env-token")
        del os.environ["CALLGUARD_URL"]
        with self.assertRaises(ValueError):
            CallguardClient()

    def test_module_level_helpers_use_the_configured_client(self) -> None:
        client = callguard_client.configure(self.fake.url, "module-token")
        self.clients.append(client)
        self.addCleanup(setattr, callguard_client, "_default", None)
        callguard_client.report_error("twilio", 2)
        callguard_client.loguru_sink(json.dumps({"text": "", "record": {"level": {"name": "ERROR", "no": 40}, "message": "twilio api error"}}))
        self.assertTrue(client.flush(DEADLINE))
        self.assertEqual(sorted(r.path for r in self.fake.requests), ["/health/errors", "/health/logs"])


class ExitTest(unittest.TestCase):
    """The flush at exit runs in a real interpreter exiting without calling close()."""

    def run_app(self, url: str, timed: bool = False) -> "subprocess.CompletedProcess[str]":
        # atexit runs the last registered first: registered before the client, this prints how long
        # the client's flush at exit took.
        timing = "import atexit, time; T = [0.0]; atexit.register(lambda: print(round(time.monotonic() - T[0], 3)))\n"
        script = (
            (timing if timed else "")
            + "import logging, callguard_client\n"
            f"client = callguard_client.CallguardClient({url!r}, 't', interval=60, exit_timeout=1.0, timeout=30)\n"
            "log = logging.getLogger('app'); log.addHandler(client.handler())\n"
            "for i in range(3): log.error('twilio api error %d', i)\n"
            "client.report_error('twilio', 7)\n"
            + ("T[0] = time.monotonic()\n" if timed else "")
        )
        return subprocess.run([sys.executable, "-c", script], cwd=HERE, capture_output=True, text=True, timeout=60)

    def test_what_is_buffered_is_sent_at_exit(self) -> None:
        fake = FakeCallguard()
        self.addCleanup(fake.close)
        result = self.run_app(fake.url)
        self.assertEqual(result.returncode, 0, result.stderr)
        by_path = {r.path: r for r in fake.requests}
        self.assertEqual([line["message"] for line in by_path["/health/logs"].lines()], [f"twilio api error {i}" for i in range(3)])
        self.assertEqual(json.loads(by_path["/health/errors"].body), [{"rule": "twilio", "count": 7}])

    def test_exit_takes_at_most_exit_timeout_when_the_server_does_not_answer(self) -> None:
        fake = FakeCallguard()
        fake.hang.set()
        self.addCleanup(fake.close)
        started = time.monotonic()
        result = self.run_app(fake.url, timed=True)
        elapsed = time.monotonic() - started
        self.assertEqual(result.returncode, 0, result.stderr)
        flush_seconds = float(result.stdout.strip())
        print(f"\n  exit with a hung server: flush {flush_seconds:.2f} s, process {elapsed:.2f} s", file=sys.stderr)
        self.assertLess(flush_seconds, 1.0 + 0.5 + 0.5)  # exit_timeout, the join's margin, scheduling
        self.assertEqual(len(fake.requests), 1)  # one attempt, cut short; nothing waits on a retry


class ScriptedServer:
    """Answers each POST with the next (status, headers, body) of `replies`, then 202; records the requests."""

    def __init__(self, replies: List[Any]) -> None:
        self.requests: List[Request] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                server.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status, headers, reply = replies.pop(0) if replies else (202, {}, {"job_id": "j", "counts": {}})
                data = json.dumps(reply).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class NamesAndRedirectsTest(unittest.TestCase):
    """Issue 19: unknown rule names are dropped on their own; the token never follows a redirect."""

    def client(self, url: str, **options: Any) -> CallguardClient:
        client = CallguardClient(url, token="secret-token", **options)
        self.addCleanup(client.close, 0)
        return client

    def server(self, replies: List[Any]) -> ScriptedServer:
        server = ScriptedServer(replies)
        self.addCleanup(server.close)
        return server

    def test_with_its_rules_a_count_for_another_name_is_dropped_alone_and_warned_once(self) -> None:
        server = self.server([])
        client = self.client(server.url, rules=["twilio"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client.report_error("twilio", 5)
            client.report_error("no-such-rule", 1)
            client.report_error("no-such-rule", 1)
            client.report_error("x" * 100, 1)
            self.assertTrue(client.flush(DEADLINE))
        self.assertEqual([json.loads(r.body) for r in server.requests], [[{"rule": "twilio", "count": 5}]])
        stats = client.stats()
        self.assertEqual((stats["errors_sent"], stats["dropped_unknown"], stats["dropped_invalid"]), (5, 2, 1))
        messages = [str(w.message) for w in caught]
        self.assertEqual(len([m for m in messages if "no-such-rule" in m]), 1)
        self.assertEqual(len([m for m in messages if "xxxx" in m]), 1)

    def test_without_rules_an_unknown_rule_reply_drops_that_name_and_sends_the_rest(self) -> None:
        unknown = {"error": {"code": "unknown_rule", "message": "unknown rule(s): no-such-rule; configured: twilio, telnyx"}}
        server = self.server([(400, {}, unknown)])
        client = self.client(server.url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client.report_error("twilio", 5)
            client.report_error("no-such-rule", 1)
            self.assertTrue(client.flush(DEADLINE))
        bodies = [json.loads(r.body) for r in server.requests]
        self.assertEqual(bodies[-1], [{"rule": "twilio", "count": 5}])
        self.assertEqual(len(bodies), 2)
        self.assertNotEqual(server.requests[0].headers["idempotency-key"], server.requests[1].headers["idempotency-key"])
        stats = client.stats()
        self.assertEqual((stats["errors_sent"], stats["dropped_unknown"], stats["dropped_rejected"]), (5, 1, 0))
        self.assertEqual(len([w for w in caught if "no-such-rule" in str(w.message)]), 1)

    def test_a_batch_of_unknown_names_only_is_counted_as_dropped_once(self) -> None:
        unknown = {"error": {"code": "unknown_rule", "message": "unknown rule(s): no-such-rule; configured: twilio"}}
        server = self.server([(400, {}, unknown)])
        client = self.client(server.url)
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            client.report_error("no-such-rule", 3)
            self.assertTrue(client.flush(DEADLINE))
        self.assertEqual(len(server.requests), 1)
        stats = client.stats()
        self.assertEqual((stats["errors_sent"], stats["dropped_unknown"], stats["dropped_rejected"]), (0, 3, 0))

    def test_a_redirect_is_not_followed_so_the_token_never_reaches_its_target(self) -> None:
        target = self.server([])
        server = self.server([(307, {"Location": target.url + "/health/errors"}, {})])
        client = self.client(server.url)
        client.report_error("twilio", 1)
        self.assertTrue(client.flush(DEADLINE))
        self.assertEqual(len(server.requests), 1)
        self.assertEqual(target.requests, [])
        self.assertIn("307", client.last_error or "")
        self.assertEqual(client.stats()["dropped_rejected"], 1)

    def test_a_server_it_cannot_reach_is_warned_about_once(self) -> None:
        client = self.client(f"http://127.0.0.1:{closed_port()}", interval=0.01, max_backoff=0.02)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            client.report_error("twilio", 1)
            wait_until(lambda: client.stats()["retries"] >= 3)
        self.assertEqual(len([w for w in caught if "cannot reach" in str(w.message)]), 1)


if __name__ == "__main__":
    unittest.main()
