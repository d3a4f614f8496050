"""Ships a Python app's log records and error counts to callguard.

Standard library only, Python >= 3.9. Records are matched against the rules on the server; this
module only batches them: NDJSON to ``POST /health/logs``, counts to ``POST /health/errors``,
from one background thread every 250 ms.

Guarantees: logging calls and ``report_error`` never block on the network and never raise; the
buffer is bounded (the oldest record is dropped, and counted, when it is full); a failed batch is
retried with back-off under the same ``Idempotency-Key``; what is buffered is flushed at exit,
for at most ``exit_timeout`` seconds.

    client = CallguardClient()                      # CALLGUARD_URL, CALLGUARD_TOKEN
    logging.getLogger().addHandler(client.handler(logging.WARNING))
    loguru.logger.add(client.loguru_sink, serialize=True, level="WARNING")
    client.report_error("twilio")

Failover (one breaker shared with the guarded Node workers): ``choose`` asks callguard which of
the candidates to call now (one request, one Redis step); ``record`` batches the call's outcome
like the counts, to ``POST /providers/outcomes``.

    provider, wait = client.choose("calls", ["twilio", "plivo"])
    if provider is None: retry_in(wait)             # every candidate held or full
    else: client.record(provider, ok, duration_ms)
"""
from __future__ import annotations

import atexit
import http.client
import json
import logging
import os
import random
import socket
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid
import warnings
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, Iterable, List, NamedTuple, Optional, Tuple, Union

__all__ = ["CallguardClient", "CallguardHandler", "Choice", "configure", "default_client", "loguru_sink", "report_error"]

MAX_TEXT = 8192  # characters kept of a message or an exception; phrases are short
MAX_LINE = 32 * 1024  # a record longer than this after clipping is dropped
MAX_BATCH_BYTES = 60 * 1024  # the server refuses bodies over 64 KiB
MAX_BATCH_RECORDS = 1000
MAX_RULES_PER_BATCH = 500  # 500 reports with 64-character names stay under the body limit
MAX_RULE_LENGTH = 64
MAX_COUNT = 1_000_000  # per rule per batch, the server's limit

MAX_CALLS_PER_BATCH = 1000  # outcomes per POST /providers/outcomes, the server's limit
CHOOSE_UNAVAILABLE_WAIT = 1.0  # seconds to wait when callguard could not answer (no provider is called)


class _NoDelay:
    """http.client sends a request's headers and its body in two writes. With Nagle's algorithm on
    (the socket default), the body then waits for the server's delayed ACK of the headers: a few
    milliseconds on loopback, every few dozen ``choose`` calls. urllib3 turns it off the same way."""

    sock: Any

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _HTTPConnection(_NoDelay, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_NoDelay, http.client.HTTPSConnection):
    pass


class Choice(NamedTuple):
    """What ``choose`` answers: the provider to call now, or None and how many seconds to wait."""

    provider: Optional[str]
    wait: float


# A buffered record: a compact dict built on the app's thread, or a serialized line parsed later.
_Item = Union[Dict[str, Any], str]


@dataclass
class _Batch:
    kind: str  # "records" (/health/logs), "errors" (counts, /health/errors) or "calls" (outcomes, /providers/outcomes)
    body: bytes
    size: int  # log records, or the sum of the error counts
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    created: float = field(default_factory=time.monotonic)
    attempts: int = 0
    next_try: float = 0.0


# What _without_unknown returns when every name of a batch was dropped on its own.
_ALL_DROPPED = _Batch("errors", b"", 0)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuses every redirect: the request fails with the 3xx instead of taking the token elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


class CallguardClient:
    """Batches log records and error counts to one callguard server from a daemon thread."""

    def __init__(
        self,
        url: Optional[str] = None,
        token: Optional[str] = None,
        *,
        interval: float = 0.25,
        max_buffer: int = 10_000,
        timeout: float = 5.0,
        retry_for: float = 60.0,
        max_backoff: float = 5.0,
        exit_timeout: float = 2.0,
        rules: Optional[Iterable[str]] = None,
    ) -> None:
        url = url if url is not None else os.environ.get("CALLGUARD_URL", "")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"callguard URL must start with http:// or https:// (CALLGUARD_URL), got {url!r}")
        if max_buffer < 1 or interval <= 0 or timeout <= 0:
            raise ValueError("max_buffer, interval and timeout must be positive")
        self.url = url.rstrip("/")
        self._token = token if token is not None else os.environ.get("CALLGUARD_TOKEN", "")
        self._interval = interval
        self._timeout = timeout
        self._retry_for = retry_for
        self._max_backoff = max_backoff
        self._exit_timeout = exit_timeout
        self._max_buffer = max_buffer
        # Never follows a redirect: it would carry the bearer token to whatever host the reply names.
        self._opener = urllib.request.build_opener(_NoRedirect())
        # Rule names, when the app gives them (or the server told us): counts for others are dropped on their own.
        self._rules = frozenset(rules) if rules is not None else None
        self._warned: set = set()
        self._unreachable_warned = False
        self._stats: Dict[str, int] = dict.fromkeys(
            [
                "records_queued", "records_sent", "errors_queued", "errors_sent",
                "dropped_overflow", "dropped_invalid", "dropped_unknown", "dropped_rejected", "dropped_expired", "dropped_closed",
                "retries", "internal_errors", "server_records", "server_matched", "server_dropped",
                "calls_queued", "calls_sent",
            ],
            0,
        )
        self.last_error: Optional[str] = None
        self._start()
        atexit.register(self._at_exit)
        if hasattr(os, "register_at_fork"):
            # A forked worker (gunicorn --preload) has no sender thread: start its own, empty.
            os.register_at_fork(after_in_child=self._start)

    def _start(self) -> None:
        self._lock = threading.Lock()
        self._buffer: Deque[_Item] = deque()
        self._counts: Dict[str, int] = {}
        self._calls: List[Dict[str, Any]] = []
        self._local = threading.local()  # each thread's keep-alive connection for choose()
        self._pending: Optional[_Batch] = None
        self._carry: Optional[str] = None
        self._busy = False  # the sender holds records it took from the buffer
        self._closed = False
        self._final_deadline: Optional[float] = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="callguard-client", daemon=True)
        self._thread.start()

    # --- what the app calls: constant time, under one short lock, never raises

    def report_error(self, rule: str, count: int = 1) -> None:
        """Counts ``count`` errors for ``rule`` (a rule name from the server's rules.json)."""
        try:
            valid = isinstance(rule, str) and 0 < len(rule) <= MAX_RULE_LENGTH
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                self._bump("dropped_invalid")
                return
            if not valid:
                self._drop_name(rule, count, "dropped_invalid", "not a rule name (1 to 64 characters)")
                return
            if self._rules is not None and rule not in self._rules:
                self._drop_name(rule, count, "dropped_unknown", "no rule of that name")
                return
            with self._lock:
                if self._closed:
                    self._stats["dropped_closed"] += count
                    return
                if rule not in self._counts and len(self._counts) >= self._max_buffer:
                    self._stats["dropped_overflow"] += count
                    return
                total = self._counts.get(rule, 0) + count
                self._counts[rule] = min(total, MAX_COUNT)
                self._stats["dropped_overflow"] += max(0, total - MAX_COUNT)
                self._stats["errors_queued"] += count
        except Exception:
            self._bump("internal_errors")

    def record(self, provider: str, ok: bool, duration_ms: float) -> None:
        """Records one call's outcome for the rate rules (batched, never blocks or raises)."""
        try:
            if not isinstance(provider, str) or not 0 < len(provider) <= MAX_RULE_LENGTH or not isinstance(ok, bool):
                self._bump("dropped_invalid")
                return
            call = {"provider": provider, "ok": ok, "duration_ms": max(0.0, float(duration_ms))}
            with self._lock:
                if self._closed:
                    self._stats["dropped_closed"] += 1
                    return
                if len(self._calls) >= self._max_buffer:
                    self._stats["dropped_overflow"] += 1
                    return
                self._calls.append(call)
                self._stats["calls_queued"] += 1
        except Exception:
            self._bump("internal_errors")

    def choose(self, queue: str, providers: List[str], timeout: Optional[float] = None) -> Choice:
        """The provider to call now among ``providers`` (most preferred first), or None and a wait.

        Callguard picks the first candidate not held with room under its probe, throttle and
        capacity, in the same Redis step as the guarded Node workers, and takes its slot: call it.
        None: the queue or every candidate is held, or each is full; ask again after ``wait``
        seconds. When callguard cannot answer, no provider is chosen (``last_error`` says why).
        A request callguard refuses (unknown queue, bad names) raises ValueError.
        """
        body = json.dumps({"queue": queue, "providers": list(providers)})
        headers = {"Content-Type": "application/json", "User-Agent": "callguard-client-python/1"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile: once more on a new one
            conn = self._connection(timeout)
            try:
                conn.request("POST", self._path + "/providers/choose", body=body, headers=headers)
                response = conn.getresponse()
                text = response.read()
            except Exception as err:
                conn.close()
                self._local.conn = None
                if attempt == 1:
                    continue
                self.last_error = f"/providers/choose: {err!r}"
                return Choice(None, CHOOSE_UNAVAILABLE_WAIT)
            if response.status == 200:
                reply = json.loads(text)
                if reply.get("provider"):
                    return Choice(reply["provider"], 0.0)
                wait_ms = int(reply.get("wait_ms", 0))  # 0 while held: ask again in a while
                return Choice(None, wait_ms / 1000.0 if wait_ms > 0 else CHOOSE_UNAVAILABLE_WAIT)
            self.last_error = f"/providers/choose: HTTP {response.status} {text.decode(errors='replace')[:300]}"
            if response.status in (400, 401, 403, 404, 413, 415, 422):
                raise ValueError(self.last_error)
            return Choice(None, _seconds(response.getheader("Retry-After")) or CHOOSE_UNAVAILABLE_WAIT)
        return Choice(None, CHOOSE_UNAVAILABLE_WAIT)

    def _connection(self, timeout: Optional[float]) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            parsed = urllib.parse.urlsplit(self.url)
            cls = _HTTPSConnection if parsed.scheme == "https" else _HTTPConnection
            conn = cls(parsed.hostname or "localhost", parsed.port, timeout=timeout or self._timeout)
            self._local.conn = conn
        return conn

    @property
    def _path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    def handler(self, level: int = logging.NOTSET) -> "CallguardHandler":
        """A ``logging.Handler`` shipping to this client."""
        return CallguardHandler(self, level)

    def loguru_sink(self, message: Any) -> None:
        """A loguru sink: ``logger.add(client.loguru_sink, serialize=True)``.

        Takes loguru's message (its ``.record`` is read, so ``serialize`` may be on or off) or a
        line loguru serialized, as a string.
        """
        try:
            record = getattr(message, "record", None)
            self._enqueue(_from_loguru(record) if isinstance(record, dict) else str(message))
        except Exception:
            self._bump("internal_errors")

    def flush(self, timeout: float = 5.0) -> bool:
        """Waits until everything buffered was sent (or dropped); False when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        nudged = False
        while time.monotonic() < deadline:
            with self._lock:
                if not (self._buffer or self._counts or self._calls or self._busy or self._pending or self._carry):
                    return True
                if self._pending is not None and not nudged:
                    # The caller is waiting: retry once now. After that the back-off holds, so a dead
                    # server costs a few attempts per flush, not one every 10 ms.
                    self._pending.next_try = 0.0
                    nudged = True
            self._wake.set()
            time.sleep(0.01)
        return False

    def close(self, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Sends what is buffered for at most ``timeout`` seconds, stops the thread, returns stats()."""
        timeout = self._exit_timeout if timeout is None else timeout
        with self._lock:
            self._closed = True
            self._final_deadline = time.monotonic() + timeout
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout + 0.5)
        try:
            atexit.unregister(self._at_exit)
        except Exception:
            pass
        return self.stats()

    def stats(self) -> Dict[str, Any]:
        """Counters since start; ``records_*`` are log records, ``errors_*`` are report_error counts."""
        with self._lock:
            out: Dict[str, Any] = dict(self._stats)
            out["buffered"] = len(self._buffer)
        out["last_error"] = self.last_error
        return out

    def _drop_name(self, rule: Any, count: int, stat: str, why: str) -> None:
        """Drops the counts of one name that is no rule, on its own; warns once per name."""
        name = str(rule)[:80]
        with self._lock:
            self._stats[stat] += count
            first = name not in self._warned and len(self._warned) < 1000
            if first:
                self._warned.add(name)
        if first:
            warnings.warn(f"callguard: dropped error counts for {name!r}: {why}", RuntimeWarning, stacklevel=3)

    def _enqueue(self, item: _Item) -> None:
        with self._lock:
            if self._closed:
                self._stats["dropped_closed"] += 1
                return
            if len(self._buffer) >= self._max_buffer:
                self._buffer.popleft()
                self._stats["dropped_overflow"] += 1
            self._buffer.append(item)
            self._stats["records_queued"] += 1

    def _bump(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._stats[name] += n

    def _at_exit(self) -> None:
        if not self._closed:
            self.close(self._exit_timeout)

    # --- the sender thread

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            stopping = self._stop.is_set()
            try:
                self._send_due(final=stopping)
            except Exception as err:  # the thread must outlive any bug in a cycle
                self._bump("internal_errors")
                self.last_error = f"internal: {err!r}"
            if stopping:
                self._expire_rest()
                return

    def _send_due(self, final: bool) -> None:
        with self._lock:
            self._busy = True
        try:
            self._send_batches(final)
        finally:
            with self._lock:
                self._busy = False

    def _send_batches(self, final: bool) -> None:
        while True:
            batch = self._pending or self._next_batch()
            if batch is None:
                return
            self._pending = batch
            now = time.monotonic()
            if final:
                remaining = (self._final_deadline or now) - now
                if remaining <= 0:
                    return
                timeout = min(self._timeout, remaining)
            elif now < batch.next_try:
                return
            else:
                timeout = self._timeout
            outcome, retry_after = self._post(batch, timeout)
            if outcome == "retry" and not self._unreachable_warned:
                self._unreachable_warned = True
                warnings.warn(f"callguard: cannot reach the server ({self.last_error}); counts are kept and retried", RuntimeWarning, stacklevel=2)
            elif outcome != "retry":
                self._unreachable_warned = False
            if outcome == "retry":
                self._bump("retries")
                if final:
                    return  # at exit a failed server is not waited for
                if now - batch.created >= self._retry_for:
                    self._finish(batch, "dropped_expired")
                    continue
                batch.attempts += 1
                backoff = min(self._max_backoff, self._interval * 2 ** batch.attempts) * random.uniform(0.5, 1.0)
                batch.next_try = time.monotonic() + max(backoff, min(retry_after or 0.0, self._retry_for))
                return
            if outcome == "unknown_rule":
                known = self._without_unknown(batch)
                if known is _ALL_DROPPED:
                    continue  # every name was dropped, and counted, on its own
                if known is not None:
                    self._pending = known
                    continue
            self._finish(batch, f"{batch.kind}_sent" if outcome == "sent" else "dropped_rejected")

    def _without_unknown(self, batch: _Batch) -> Optional[_Batch]:
        """After a 400 unknown_rule: drops the unknown names on their own; the rest as a new batch
        (_ALL_DROPPED when no name is left; None when the batch cannot be read)."""
        try:
            reports = json.loads(batch.body)
            known = self._rules or frozenset()
            keep = [r for r in reports if r["rule"] in known]
            for r in reports:
                if r["rule"] not in known:
                    self._drop_name(r["rule"], int(r["count"]), "dropped_unknown", "no rule of that name on the server")
        except Exception:
            return None
        with self._lock:
            self._pending = None
        if not keep:
            return _ALL_DROPPED
        return _Batch("errors", json.dumps(keep).encode(), sum(int(r["count"]) for r in keep))

    def _finish(self, batch: _Batch, outcome: str) -> None:
        with self._lock:
            self._stats[outcome] += batch.size
            self._pending = None

    def _next_batch(self) -> Optional[_Batch]:
        with self._lock:
            if self._counts:
                reports = [(r, self._counts.pop(r)) for r in list(self._counts)[:MAX_RULES_PER_BATCH]]
            else:
                reports = []
        if reports:
            body = json.dumps([{"rule": rule, "count": count} for rule, count in reports]).encode()
            return _Batch("errors", body, sum(count for _, count in reports))
        with self._lock:
            calls, self._calls = self._calls[:MAX_CALLS_PER_BATCH], self._calls[MAX_CALLS_PER_BATCH:]
        if calls:
            return _Batch("calls", json.dumps({"calls": calls}).encode(), len(calls))
        lines: List[str] = []
        size = 0
        if self._carry is not None:
            lines.append(self._carry)
            size = len(self._carry) + 1
            self._carry = None
        while len(lines) < MAX_BATCH_RECORDS:
            with self._lock:
                if not self._buffer:
                    break
                item = self._buffer.popleft()
            line = self._encode(item)
            if line is None:
                continue
            if size + len(line) + 1 > MAX_BATCH_BYTES:
                self._carry = line
                break
            lines.append(line)
            size += len(line) + 1
        if not lines:
            return None
        return _Batch("records", ("\n".join(lines) + "\n").encode(), len(lines))

    def _encode(self, item: _Item) -> Optional[str]:
        """One NDJSON line (ASCII, so characters are bytes), or None when the record is unusable."""
        try:
            record = item if isinstance(item, dict) else _from_serialized(item)
            line = json.dumps(record, default=str) if record is not None else None
        except Exception:
            line = None
        if line is None or len(line) > MAX_LINE:
            self._bump("dropped_invalid")
            return None
        return line

    def _post(self, batch: _Batch, timeout: float) -> Tuple[str, Optional[float]]:
        path, content_type = {
            "records": ("/health/logs", "application/x-ndjson"),
            "errors": ("/health/errors", "application/json"),
            "calls": ("/providers/outcomes", "application/json"),
        }[batch.kind]
        headers = {
            "Content-Type": content_type,
            "Idempotency-Key": batch.key,
            "User-Agent": "callguard-client-python/1",
        }
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(self.url + path, data=batch.body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=timeout) as response:
                self._note_reply(batch, response.read())
            return "sent", None
        except urllib.error.HTTPError as err:
            detail = _read_quietly(err)
            self.last_error = f"{path}: HTTP {err.code} {detail[:300]}"
            retry_after = _seconds(err.headers.get("Retry-After") if err.headers else None)
            if err.code in (408, 425, 429) or err.code >= 500:
                return "retry", retry_after
            if err.code == 400 and batch.kind == "errors" and self._learn_rules(detail):
                return "unknown_rule", None
            return "rejected", None
        except Exception as err:  # refused, reset, timed out, DNS: the server is away, try again
            self.last_error = f"{path}: {err!r}"
            return "retry", None

    def _learn_rules(self, detail: str) -> bool:
        """Reads the configured rule names from a 400 unknown_rule reply; True when it was one."""
        try:
            error = json.loads(detail)["error"]
            if error.get("code") != "unknown_rule" or "configured:" not in error.get("message", ""):
                return False
            names = error["message"].rsplit("configured:", 1)[1]
            self._rules = frozenset(n.strip() for n in names.split(",") if n.strip())
            return True
        except Exception:
            return False

    def _note_reply(self, batch: _Batch, body: bytes) -> None:
        if batch.kind != "records":
            return
        try:
            reply = json.loads(body)
            with self._lock:
                self._stats["server_records"] += int(reply.get("records", 0))
                self._stats["server_matched"] += int(reply.get("matched", 0))
                self._stats["server_dropped"] += int(reply.get("dropped", 0))
        except Exception:
            pass  # the batch was accepted; the reply is only for stats

    def _expire_rest(self) -> None:
        with self._lock:
            left = len(self._buffer) + (1 if self._carry is not None else 0) + sum(self._counts.values()) + len(self._calls)
            self._stats["dropped_expired"] += left + (self._pending.size if self._pending is not None else 0)
            self._buffer.clear()
            self._counts.clear()
            self._calls.clear()
            self._pending = None
            self._carry = None


class CallguardHandler(logging.Handler):
    """A ``logging.Handler``; without a client it uses ``default_client()`` (CALLGUARD_URL)."""

    def __init__(self, client: Optional[CallguardClient] = None, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self._client = client

    def emit(self, record: logging.LogRecord) -> None:
        try:
            client = self._client or default_client()
            if client is None:
                return
            out: Dict[str, Any] = {
                "levelname": record.levelname,
                "levelno": record.levelno,
                "message": record.getMessage()[:MAX_TEXT],
                "logger": record.name,
                "created": record.created,
            }
            exc = record.exc_info
            if exc and exc[0] is not None:
                # The exception's own line, not the whole traceback: phrases live in the message,
                # and source lines in a traceback would match rules by accident.
                out["exc_text"] = "".join(traceback.format_exception_only(exc[0], exc[1])).strip()[-MAX_TEXT:]
            client._enqueue(out)
        except Exception:
            if self._client is not None:
                self._client._bump("internal_errors")


def _from_loguru(record: Dict[str, Any]) -> Dict[str, Any]:
    """loguru's record reduced to the fields callguard reads, in loguru's serialized shape."""
    level = record["level"]
    exception = None
    if record.get("exception") is not None:
        kind, value = record["exception"].type, record["exception"].value
        exception = {"type": getattr(kind, "__name__", None), "value": None if value is None else str(value)[:MAX_TEXT]}
    time_ = record.get("time")
    return {
        "record": {
            "level": {"name": level.name, "no": level.no},
            "message": str(record["message"])[:MAX_TEXT],
            "exception": exception,
            "name": record.get("name"),
            "time": {"timestamp": time_.timestamp()} if time_ is not None else None,
        }
    }


def _from_serialized(line: str) -> Optional[Dict[str, Any]]:
    """A line loguru serialized (or any JSON object); loguru's are reduced like _from_loguru's."""
    parsed = json.loads(line)
    if not isinstance(parsed, dict):
        return None
    inner = parsed.get("record")
    if not isinstance(inner, dict):
        return parsed
    exception = inner.get("exception")
    if isinstance(exception, dict):
        exception = {"type": exception.get("type"), "value": str(exception.get("value"))[:MAX_TEXT]}
    return {
        "record": {
            "level": inner.get("level"),
            "message": str(inner.get("message", ""))[:MAX_TEXT],
            "exception": exception,
            "name": inner.get("name"),
            "time": inner.get("time"),
        }
    }


def _read_quietly(err: urllib.error.HTTPError) -> str:
    try:
        return err.read().decode("utf-8", "replace")
    except Exception:
        return ""
    finally:
        err.close()


def _seconds(value: Optional[str]) -> Optional[float]:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


# --- a process-wide client for the module-level helpers

_default: Optional[CallguardClient] = None
_default_lock = threading.Lock()
_default_failed = False


def configure(url: Optional[str] = None, token: Optional[str] = None, **options: Any) -> CallguardClient:
    """Sets the client the module-level helpers use (raises ValueError on a bad URL: call it at start-up)."""
    global _default
    client = CallguardClient(url, token, **options)
    with _default_lock:
        old, _default = _default, client
    if old is not None:
        old.close(0)
    return client


def default_client() -> Optional[CallguardClient]:
    """The configured client, else one from CALLGUARD_URL / CALLGUARD_TOKEN; None when that is unset."""
    global _default, _default_failed
    with _default_lock:
        if _default is None and not _default_failed:
            try:
                _default = CallguardClient()
            except ValueError as err:
                _default_failed = True
                try:
                    sys.stderr.write(f"callguard_client: {err}; records and reports are discarded\n")
                except Exception:
                    pass
        return _default


def report_error(rule: str, count: int = 1) -> None:
    """Counts errors for a rule on the default client; never raises, never waits."""
    client = default_client()
    if client is not None:
        client.report_error(rule, count)


def loguru_sink(message: Any) -> None:
    """``logger.add(callguard_client.loguru_sink, serialize=True)`` with the default client."""
    client = default_client()
    if client is not None:
        client.loguru_sink(message)
