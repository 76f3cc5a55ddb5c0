#!/usr/bin/env python3
"""watch's built-in HTTP/1.1 client (src/cli/h1.c) against servers that
answer the way real ones do, and the ways broken ones do.

    test_h1.py DYNHC STUB

A scripted TCP server on loopback reads each request and answers with the
bytes a test gives (split, trickled, chunked, cut, malformed), counting
connections, so that the tests see:
- every framing of an answer: Content-Length, chunks (extensions, trailers),
  the end of the connection, an interim 103 before the answer; any split;
- one connection kept for every check, a new one when the server closes it
  (said or not, idle or just as a request goes out), and after a timeout;
- the message of each kind of failure, the answer's secrets scrubbed;
- the request sent byte for byte as libcurl sends it (watch --libcurl);
- the metrics scrape and the canary sharing the connection, a scrape that
  hangs ending at half the round, metrics of another server left to libcurl;
- IPv6 targets.
Ends with unittest's summary.
"""

import json
import os
import re
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_probe as tp  # noqa: E402  (the watch driver)

BODY = (b'{"id":"cmpl-1","object":"text_completion","model":"m",'
        b'"choices":[{"index":0,"text":"1","finish_reason":"length"}]}')


def answer(body=BODY, status=b"200 OK", headers=b""):
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n" + headers +
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


IDLE_METRICS = (b"vllm:num_requests_running{model_name=\"m\"} 0.0\n"
                b"vllm:generation_tokens_total{model_name=\"m\"} 7.0\n")


def metrics_or_answer(head):
    """The idle exposition for a GET, a completion for anything else."""
    if head.startswith(b"GET "):
        return answer(IDLE_METRICS, headers=b"")
    return answer()


def chunked(pieces, trailer=b""):
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for i, piece in enumerate(pieces):
        ext = b";name=value" if i == 1 else b""
        out += b"%x%s\r\n%s\r\n" % (len(piece), ext, piece)
    return out + b"0\r\n" + trailer + b"\r\n"


class Server:
    """Accepts connections on loopback and answers each request with what
    respond(server, conn, request) does; records every request as
    (connection number, head, body)."""

    def __init__(self, respond, family=socket.AF_INET):
        self.respond = respond
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        host = "[::1]" if family == socket.AF_INET6 else "127.0.0.1"
        self.url = "http://%s:%d" % (host, self.port)
        self.lock = threading.Lock()
        self.connections = 0
        self.requests = []
        self.open = []
        self.closing = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                number = self.connections
                self.open.append(conn)
            threading.Thread(target=self.serve, args=(conn, number), daemon=True).start()

    @staticmethod
    def read_request(conn, pending):
        while b"\r\n\r\n" not in pending:
            data = conn.recv(65536)
            if not data:
                return None, b""
            pending += data
        head, rest = pending.split(b"\r\n\r\n", 1)
        found = re.search(rb"(?im)^content-length: *(\d+)", head)
        length = int(found.group(1)) if found else 0  # a GET has no body
        while len(rest) < length:
            data = conn.recv(65536)
            if not data:
                return None, b""
            rest += data
        return (head, rest[:length]), rest[length:]

    def head_of(self, index):
        with self.lock:
            return self.requests[index - 1][1]

    def serve(self, conn, number):
        pending = b""
        with conn:
            while True:
                try:
                    request, pending = self.read_request(conn, pending)
                except OSError:
                    return
                if request is None or self.closing:
                    return
                with self.lock:
                    self.requests.append((number, request[0], request[1]))
                    index = len(self.requests)
                try:
                    if self.respond(conn, index, number) is False:
                        return
                except OSError:
                    return

    def count(self):
        with self.lock:
            return len(self.requests), self.connections

    def stop(self):
        self.closing = True
        self.sock.close()
        with self.lock:
            for conn in self.open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def trickle(conn, data, pause=0.002):
    """Sends data in pieces that cut every line and the head from the body."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    cuts = sorted({3, 9, 14, 17, data.find(b"\r\n") + 1, data.find(b"\r\n\r\n") + 2,
                   data.find(b"\r\n\r\n") + 4, len(data) - 5})
    start = 0
    for cut in cuts + [len(data)]:
        if start < cut <= len(data):
            conn.sendall(data[start:cut])
            time.sleep(pause)
            start = cut


class H1Test(unittest.TestCase):
    def setUp(self):
        self.servers = []
        self.watch = None

    def tearDown(self):
        if self.watch is not None and self.watch.proc.returncode is None:
            code, _ = self.watch.stop()
            self.assertEqual(code, 0, self.watch.stderr)
        if self.watch is not None:
            self.assertNotIn("Sanitizer", self.watch.stderr)
            self.assertNotIn("runtime error", self.watch.stderr)
        for s in self.servers:
            s.stop()

    def serve(self, respond, family=socket.AF_INET):
        server = Server(respond, family)
        self.servers.append(server)
        return server

    def start(self, server, *args, timeout="300ms", metrics=False):
        self.watch = tp.Watch("--url", server.url, "--port", "0", "--interval", "100ms",
                              "--timeout", timeout, "--spread", "0",
                              *(() if metrics else ("--no-metrics",)), *args)
        return self.watch

    def checks(self, server, count, seconds=10 * tp.SLACK):
        """Waits until server got count requests; (requests, connections)."""
        deadline = time.monotonic() + seconds
        while server.count()[0] < count:
            if time.monotonic() > deadline:
                self.fail("%d of %d requests within %.0f s" % (server.count()[0], count,
                                                                seconds))
            time.sleep(0.01)
        return server.count()

    def assert_healthy_throughout(self, server, count):
        """count checks all healthy: ready at once and never an error."""
        self.watch.wait_for(200, 5 * tp.SLACK)
        start = server.count()[0]
        while server.count()[0] < start + count:
            self.assertIsNone(self.watch.last_error(server.url))
            self.assertEqual(self.watch.health()[0], 200)
            time.sleep(0.02)
        self.assertIsNone(self.watch.last_error(server.url))

    def assert_error(self, server, pattern, seconds=5 * tp.SLACK):
        deadline = time.monotonic() + seconds
        error = None
        while time.monotonic() < deadline:
            error = self.watch.last_error(server.url)
            if error is not None and re.fullmatch(pattern, error):
                return error
            time.sleep(0.02)
        self.fail("last error %r does not match %r" % (error, pattern))

    # Framing ----------------------------------------------------------------

    def test_content_length_keeps_one_connection_for_every_check(self):
        server = self.serve(lambda conn, i, n: conn.sendall(answer()))
        self.start(server)
        self.assert_healthy_throughout(server, 5)
        self.assertEqual(server.count()[1], 1)

    def test_answer_trickled_across_every_line_is_whole(self):
        server = self.serve(lambda conn, i, n: trickle(conn, answer()))
        self.start(server, timeout="2s")
        self.assert_healthy_throughout(server, 3)
        self.assertEqual(server.count()[1], 1)

    def test_chunked_answer_with_extension_and_trailer(self):
        pieces = [BODY[:10], BODY[10:11], BODY[11:]]
        server = self.serve(lambda conn, i, n: trickle(conn, chunked(pieces, b"X-Trailer: 1\r\n")))
        self.start(server, timeout="2s")
        self.assert_healthy_throughout(server, 3)
        self.assertEqual(server.count()[1], 1)

    def test_interim_103_before_the_answer(self):
        early = b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
        server = self.serve(lambda conn, i, n: conn.sendall(early + answer()))
        self.start(server)
        self.assert_healthy_throughout(server, 3)

    def assert_a_connection_per_check(self, data, linger=0.0):
        """A server that sends data and closes the connection (after linger
        seconds): every check healthy, each on a connection of its own."""
        def respond(conn, i, n):
            conn.sendall(data)
            time.sleep(linger)
            return False
        server = self.serve(respond)
        self.start(server)
        self.assert_healthy_throughout(server, 4)
        requests, connections = server.count()
        self.assertEqual(connections, requests)

    def test_answer_ended_by_the_close_takes_a_new_connection_each_time(self):
        self.assert_a_connection_per_check(
            b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + BODY)

    def test_connection_close_header_is_honoured(self):
        self.assert_a_connection_per_check(answer(headers=b"Connection: close\r\n"))

    # Connections the server closes -------------------------------------------

    def test_idle_connection_closed_by_the_server_is_replaced(self):
        # uvicorn (vLLM) closes a kept connection after 5 s idle: here after
        # 20 ms, well before the next check, without saying so.
        self.assert_a_connection_per_check(answer(), linger=0.02)

    def test_answer_followed_by_the_end_of_the_servers_side_is_not_reused(self):
        # The server shuts its side with the answer but keeps reading: a
        # request sent on that connection would never be answered.
        def respond(conn, i, n):
            conn.sendall(answer())
            conn.shutdown(socket.SHUT_WR)
        server = self.serve(respond)
        self.start(server)
        self.assert_healthy_throughout(server, 4)
        requests, connections = server.count()
        self.assertEqual(connections, requests)

    def test_kept_connection_closed_as_the_request_goes_out_is_tried_again(self):
        # The second request of every connection is read and dropped: the
        # race of an idle timeout with a check. The check goes again on a new
        # connection and stays healthy.
        def respond(conn, i, n):
            with server.lock:
                seen = sum(1 for c, _, _ in server.requests if c == n)
            if seen == 2:
                return False
            conn.sendall(answer())
        server = self.serve(respond)
        self.start(server)
        self.assert_healthy_throughout(server, 6)
        self.assertGreaterEqual(server.count()[1], 3)

    def test_every_connection_closed_without_an_answer(self):
        server = self.serve(lambda conn, i, n: False)
        self.start(server)
        self.assert_error(server, r"the connection closed without an answer")

    def test_connection_closed_in_the_middle_of_the_answer(self):
        def respond(conn, i, n):
            conn.sendall(answer()[:-20])
            return False
        server = self.serve(respond)
        self.start(server)
        self.assert_error(server, r"the connection closed in the middle of the answer "
                                  r"\(\d+ bytes read\)")

    def test_timeout_closes_the_connection_and_the_next_check_opens_one(self):
        hang = threading.Event()
        hang.set()

        def respond(conn, i, n):
            if hang.is_set():
                time.sleep(1.0)
                return False
            conn.sendall(answer())
        server = self.serve(respond)
        self.start(server)
        self.assert_error(server, r"no answer within 300 ms")
        hang.clear()
        self.watch.wait_for(200, 5 * tp.SLACK)
        self.assertGreaterEqual(server.count()[1], 2)

    def test_refused_connection(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]  # closed again: nothing listens there
        url = "http://127.0.0.1:%d" % port
        self.watch = tp.Watch("--url", url, "--port", "0", "--interval", "100ms", "--no-metrics")
        self.watch.wait_for_error(url, "cannot connect: Connection refused", 5 * tp.SLACK)

    # Malformed and hostile answers -------------------------------------------

    def malformed(self, data, pattern):
        def respond(conn, i, n):
            conn.sendall(data)
            return False
        server = self.serve(respond)
        self.start(server)
        self.assert_error(server, pattern)

    def test_not_http(self):
        self.malformed(b"SSH-2.0-OpenSSH_9.2\r\n",
                       r"the answer is malformed \(no HTTP/1.x status line\): 'SSH-2.0.*'")

    def test_http2_preface_is_not_http1(self):
        self.malformed(b"HTTP/2 200\r\n\r\n", r"the answer is malformed \(no HTTP/1.x status.*")

    def test_transfer_encoding_other_than_chunked(self):
        self.malformed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                       r"the answer is malformed \(a Transfer-Encoding other than chunked\): .*")

    def test_two_different_content_lengths(self):
        self.malformed(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n{}",
                       r"the answer is malformed \(two different Content-Length\): .*")

    def test_content_length_not_a_number(self):
        self.malformed(b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
                       r"the answer is malformed \(a Content-Length that is no number\): .*")

    def test_chunk_size_not_hexadecimal(self):
        self.malformed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                       r"the answer is malformed \(a chunk size that is not hexadecimal\): .*")

    def test_chunk_longer_than_its_size(self):
        self.malformed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}\r\n",
                       r"the answer is malformed \(a chunk longer than its size\): .*")

    def test_switching_protocols(self):
        self.malformed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
                       r"the answer is malformed \(a protocol switch nobody asked for\): .*")

    def test_endless_header_line(self):
        def respond(conn, i, n):
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * (70 * 1024))
            time.sleep(1)
            return False
        server = self.serve(respond)
        self.start(server, timeout="2s")
        self.assert_error(server, r"the answer is malformed \(a head line longer than 64 KiB\): .*")

    def test_content_length_past_the_limit(self):
        self.malformed(b"HTTP/1.1 200 OK\r\nContent-Length: 9437184\r\n\r\n{",
                       r"the answer is larger than 8 MiB")

    def test_chunks_past_the_limit(self):
        def respond(conn, i, n):
            conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            piece = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))
            for _ in range(9):
                conn.sendall(piece)
            return False
        server = self.serve(respond)
        self.start(server, timeout="5s")
        self.assert_error(server, r"the answer is larger than 8 MiB")

    def test_http_error_answer_shows_its_start_with_secrets_scrubbed(self):
        def respond(conn, i, n):
            with server.lock:
                head = server.requests[-1][1]
            auth = re.search(rb"(?im)^authorization: *(.*)$", head).group(1)
            conn.sendall(answer(b"denied for " + auth.strip(), b"401 Unauthorized"))
        server = self.serve(respond)
        with tempfile.NamedTemporaryFile("w", suffix=".token") as token:
            token.write("s3cr3t-t0ken-value\n")
            token.flush()
            self.start(server, "--bearer-token-file", token.name)
            error = self.assert_error(server, r"HTTP 401: 'denied for REDACTED'")
        self.assertNotIn("s3cr3t", error)
        self.watch.stop()
        self.assertNotIn("s3cr3t", self.watch.stderr)

    # The request ----------------------------------------------------------------

    def test_request_is_what_libcurl_sends(self):
        server = self.serve(lambda conn, i, n: conn.sendall(answer()))
        args = ("--header", "X-Tenant: blue", "--header", "X-Empty:", "--model", "m1")
        seen = []
        for extra in ((), ("--libcurl",)):
            self.start(server, *args, *extra)
            before = server.count()[0]
            self.checks(server, before + 1)
            with server.lock:
                _, head, body = server.requests[before]
            lines = head.decode().split("\r\n")
            headers = sorted((k.lower(), v) for k, v in (line.split(":", 1) for line in lines[1:]))
            seen.append((lines[0], headers, body))
            self.watch.stop()
        self.assertEqual(seen[0], seen[1])
        request_line, headers, body = seen[0]
        self.assertEqual(request_line, "POST /v1/completions HTTP/1.1")
        self.assertIn(("x-empty", ""), headers)
        self.assertIn(("host", " 127.0.0.1:%d" % server.port), headers)
        self.assertEqual(json.loads(body)["model"], "m1")

    # Metrics scrapes ------------------------------------------------------------

    def test_scrape_and_canary_share_one_connection(self):
        server = self.serve(lambda conn, i, n: conn.sendall(metrics_or_answer(server.head_of(i))))
        self.start(server, metrics=True)
        self.assert_healthy_throughout(server, 8)
        with server.lock:
            lines = [head.split(b"\r\n", 1)[0] for _, head, _ in server.requests]
        self.assertEqual(lines[:4],
                         [b"GET /metrics HTTP/1.1", b"POST /v1/completions HTTP/1.1"] * 2)
        self.assertEqual(server.count()[1], 1)
        self.watch.stop()
        self.assertNotIn("no usable metrics", self.watch.stderr)

    def test_scrape_request_is_what_libcurl_sends(self):
        server = self.serve(lambda conn, i, n: conn.sendall(metrics_or_answer(server.head_of(i))))
        seen = []
        for extra in ((), ("--libcurl",)):
            self.start(server, "--header", "X-Tenant: blue", *extra, metrics=True)
            before = server.count()[0]
            self.checks(server, before + 2)
            with server.lock:
                heads = [head for _, head, _ in server.requests[before:]]
            get = next(h for h in heads if h.startswith(b"GET "))
            lines = get.decode().split("\r\n")
            seen.append((lines[0], sorted(line.lower() for line in lines[1:])))
            self.watch.stop()
        self.assertEqual(seen[0], seen[1])
        self.assertNotIn("x-tenant: blue", seen[0][1])  # the checks' headers, not the scrape's

    def test_hanging_scrape_ends_at_half_the_round_and_the_canary_goes(self):
        def respond(conn, i, n):
            if server.head_of(i).startswith(b"GET "):
                time.sleep(1.0)
                return False
            conn.sendall(answer())
        server = self.serve(respond)
        self.start(server, timeout="400ms", metrics=True)
        self.watch.wait_for(200, 5 * tp.SLACK)
        self.assertIsNone(self.watch.last_error(server.url))
        self.watch.stop()
        self.assertRegex(self.watch.stderr, r"no usable metrics at http://127\.0\.0\.1:\d+/metrics "
                                            r"\(no answer within 200 ms\)")

    def test_metrics_of_another_server_are_read_too(self):
        metrics = self.serve(lambda conn, i, n: conn.sendall(answer(IDLE_METRICS)))
        server = self.serve(lambda conn, i, n: conn.sendall(answer()))
        self.start(server, "--metrics-url", metrics.url + "/metrics", metrics=True)
        self.assert_healthy_throughout(server, 3)
        self.assertGreaterEqual(metrics.count()[0], 3)
        with server.lock:
            self.assertTrue(all(h.startswith(b"POST ") for _, h, _ in server.requests))

    def test_ipv6_target(self):
        try:
            server = self.serve(lambda conn, i, n: conn.sendall(answer()), socket.AF_INET6)
        except OSError:
            self.skipTest("no IPv6 loopback")
        self.start(server)
        self.assert_healthy_throughout(server, 3)
        self.assertEqual(server.count()[1], 1)
        with server.lock:
            head = server.requests[0][1]
        self.assertIn(b"\r\nHost: [::1]:%d\r\n" % server.port, head)


if __name__ == "__main__":
    tp.run_driver(H1Test, __doc__)
