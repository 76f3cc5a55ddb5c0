#!/usr/bin/env python3
"""A stand-in for an OpenAI-compatible inference server, for the probe and
watch tests. Standard library only.

    openai_stub.py [--port N] [--mode MODE] [--delay-ms N] [--metrics METRICS]
                   [--cert PEM --key PEM [--client-ca PEM]]

Listens on 127.0.0.1 (port 0: any free one) and prints the port as the first
line of stdout. With --cert and --key it speaks HTTPS only; with --client-ca
too it refuses a client without a certificate signed by that CA. MODE says how it answers POST /v1/completions,
/v1/chat/completions and /v1/embeddings:

    healthy    a valid answer for the route (choices, or data for embeddings)
    slow       the same after --delay-ms milliseconds
    http500    HTTP 500 with a long text body holding control characters
    malformed  HTTP 200 with a body that is not JSON
    nochoices  HTTP 200 with a JSON object without choices or data
    empty      HTTP 200 with empty choices and data arrays
    echo401    HTTP 401 with a body echoing every request header, credentials
               included, as a careless server would
    hang       reads the request and never answers (until the mode changes)
    close      sends the headers and part of the body, then closes
    dead       stops listening and exits

GET /metrics answers as METRICS says, vLLM's names and the same values under
custom_running and custom_tokens_total (for the options that name others):

    none              404: no metrics (the default)
    idle              no request running, the token counter still
    busy-progressing  3 requests running, the counter 5 tokens further at each read
    busy-stalled      3 requests running, the counter still (a wedged engine,
                      whose API server answers /metrics all the same)

Control routes, answered in every mode:
    POST /_mode   body "MODE" or "slow MS": switches the mode at run time
    POST /_metrics  body "METRICS" switches the metrics; "restart" sets the
                  counter back to 0 (a server restarted)
    GET  /_mode   the current mode
    GET  /_last   {"path", "content_type", "body", "headers"} of the last POST to
                  any other path (query included; headers: [name, value] pairs
                  as received)
"""

import argparse
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MODES = ("healthy", "slow", "http500", "malformed", "nochoices", "empty", "echo401", "hang",
         "close", "dead")
METRICS = ("none", "idle", "busy-progressing", "busy-stalled")

EXPOSITION = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{{model_name="stub"}} {running:.1f}
# HELP vllm:generation_tokens_total Number of generation tokens processed.
# TYPE vllm:generation_tokens_total counter
vllm:generation_tokens_total{{model_name="stub",note="a }} and a \\" in a label"}} {tokens:.1f}
# TYPE custom_running gauge
custom_running {running:.1f}
# TYPE custom_tokens_total counter
custom_tokens_total {tokens:.1f} 1700000000000
"""

ANSWERS = {
    "/v1/completions": {"id": "cmpl-stub", "object": "text_completion", "model": "stub",
                        "choices": [{"index": 0, "text": " blue", "finish_reason": "length"}]},
    "/v1/chat/completions": {"id": "chatcmpl-stub", "object": "chat.completion", "model": "stub",
                             "choices": [{"index": 0, "finish_reason": "length",
                                          "message": {"role": "assistant", "content": "Hi"}}]},
    "/v1/embeddings": {"object": "list", "model": "stub",
                       "data": [{"object": "embedding", "index": 0, "embedding": [0.1, -0.2]}]},
}


class State:
    """What the handler threads share, under one lock."""

    def __init__(self, mode, delay_ms, metrics):
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.mode = mode
        self.delay_ms = delay_ms
        self.metrics = metrics
        self.tokens = 1000
        self.last = {}

    def exposition(self):
        """The metrics text, or None for none; a progressing counter moves."""
        with self.lock:
            if self.metrics == "none":
                return None
            if self.metrics == "busy-progressing":
                self.tokens += 5
            running = 0 if self.metrics == "idle" else 3
            return EXPOSITION.format(running=running, tokens=self.tokens)

    def set_mode(self, mode, delay_ms=None):
        with self.lock:
            self.mode = mode
            if delay_ms is not None:
                self.delay_ms = delay_ms
            self.changed.notify_all()

    def wait_while(self, mode):
        with self.lock:
            while self.mode == mode:
                self.changed.wait()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def log_message(self, fmt, *args):  # quiet: the tests read stdout
        pass

    def send(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        state = self.server.state
        with state.lock:
            if self.path == "/_last":
                self.send(200, state.last)
            elif self.path == "/_mode":
                self.send(200, state.mode.encode(), "text/plain")
            elif self.path != "/metrics":
                self.send(404, {"error": "not found"})
        if self.path == "/metrics":
            text = state.exposition()
            if text is None:
                self.send(404, {"error": "not found"})
            else:
                self.send(200, text.encode(), "text/plain; version=0.0.4")

    def do_POST(self):
        state = self.server.state
        body = self.read_body()
        if self.path == "/_mode":
            self.switch(body.decode().split())
            return
        if self.path == "/_metrics":
            self.switch_metrics(body.decode().strip())
            return
        with state.lock:
            state.last = {"path": self.path, "content_type": self.headers.get("Content-Type"),
                          "body": body.decode("utf-8", "replace"),
                          "headers": [[k, v] for k, v in self.headers.items()]}
            mode, delay_ms = state.mode, state.delay_ms
        self.answer(mode, delay_ms)

    def switch(self, words):
        if not words or words[0] not in MODES:
            self.send(400, {"error": "unknown mode"})
            return
        self.send(200, b"ok", "text/plain")
        self.server.state.set_mode(words[0], int(words[1]) if len(words) > 1 else None)
        if words[0] == "dead":
            threading.Thread(target=self.server.shutdown).start()

    def switch_metrics(self, word):
        state = self.server.state
        if word not in METRICS + ("restart",):
            self.send(400, {"error": "unknown metrics"})
            return
        with state.lock:
            if word == "restart":
                state.tokens = 0
            else:
                state.metrics = word
        self.send(200, b"ok", "text/plain")

    def answer(self, mode, delay_ms):
        if mode == "hang":
            self.server.state.wait_while("hang")
            self.close_connection = True
            return
        if mode == "slow":
            time.sleep(delay_ms / 1000)
        route = urlsplit(self.path).path
        if route not in ANSWERS:
            self.send(404, {"error": {"message": "no route " + route}})
        elif mode == "http500":
            self.send(500, b"engine failed\n\tat step 7\x1b[0m " + b"x" * 400, "text/plain")
        elif mode == "echo401":
            self.send(401, {"error": {"message": "not allowed: " + " ".join(
                "%s=%s" % item for item in self.headers.items())}})
        elif mode == "malformed":
            self.send(200, b'{"choices": [{"text": "cut')
        elif mode == "nochoices":
            self.send(200, {"id": "cmpl-stub", "object": "text_completion"})
        elif mode == "empty":
            self.send(200, {"id": "cmpl-stub", "choices": [], "data": []})
        elif mode == "close":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b'{"choices": [')
            self.wfile.flush()
            self.close_connection = True
        else:
            self.send(200, ANSWERS[route])


class Server(ThreadingHTTPServer):
    daemon_threads = True
    tls = None  # an ssl.SSLContext: HTTPS only

    def get_request(self):
        sock, address = super().get_request()
        if self.tls is not None:
            # The handshake runs in the request's thread (finish_request), so
            # that a client that never completes one holds up no other.
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return  # a client refused (no or a wrong certificate): the test's point
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        # A client that gave up (a timeout) is part of the tests, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--mode", choices=MODES, default="healthy")
    parser.add_argument("--delay-ms", type=int, default=500)
    parser.add_argument("--metrics", choices=METRICS, default="none")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    if args.cert:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            server.tls.verify_mode = ssl.CERT_REQUIRED
            server.tls.load_verify_locations(args.client_ca)
    server.state = State(args.mode, args.delay_ms, args.metrics)
    print(server.server_address[1], flush=True)
    if args.mode != "dead":
        server.serve_forever(poll_interval=0.05)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
