#!/usr/bin/env python3
"""The secrets of probe and watch (SPEC 4): headers, a bearer token and TLS
options, against tests/stub/openai_stub.py over HTTPS with a test CA, server
and client certificates made here with the openssl command; and no secret in
anything the tool shows (stdout, stderr, the status JSON, /metrics, debug
logs) or in its process list.

    test_secrets.py DYNHC STUB

Reuses test_probe.py's helpers (clean environment, watch process). Ends with
unittest's summary; exits non-zero on any failure.
"""

import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_probe  # noqa: E402  (after the path it is found on)
from test_probe import Watch, dynhc, http  # noqa: E402

PKI = None  # the folder of the test CA and certificates


def openssl(*args):
    subprocess.run(["openssl", *args], cwd=PKI, check=True, capture_output=True)


def make_pki():
    """ca.pem; server.pem/server.key for 127.0.0.1 and localhost; client.pem/
    client.key; all signed by the CA, P-256 keys (fast to make)."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=dynhc test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                                 "extendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")):
        with open(os.path.join(PKI, name + ".ext"), "w") as f:
            f.write(ext)
        openssl("req", *key, "-keyout", name + ".key", "-out", name + ".csr",
                "-subj", "/CN=dynhc test " + name)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile",
                name + ".ext")


def pki(name):
    return os.path.join(PKI, name)


class Stub:
    """One openai_stub.py process, over HTTPS when tls."""

    def __init__(self, tls=False, client_ca=False, mode="healthy"):
        args = [sys.executable, test_probe.STUB, "--mode", mode]
        if tls:
            args += ["--cert", pki("server.pem"), "--key", pki("server.key")]
        if client_ca:
            args += ["--client-ca", pki("ca.pem")]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.host = "127.0.0.1:%d" % self.port
        self.url = ("https://" if tls else "http://") + self.host
        self.context = None
        if tls:
            self.context = ssl.create_default_context(cafile=pki("ca.pem"))
            if client_ca:
                self.context.load_cert_chain(pki("client.pem"), pki("client.key"))

    def control(self, method, path, body=None):
        if self.context is None:
            return http(method, self.url + path, body)
        req = urllib.request.Request(self.url + path, method=method,
                                     data=body.encode() if body is not None else None)
        with urllib.request.urlopen(req, context=self.context, timeout=5) as resp:
            return resp.status, resp.read().decode()

    def mode(self, mode):
        assert self.control("POST", "/_mode", mode)[0] == 200

    def last(self):
        status, text = self.control("GET", "/_last")
        assert status == 200, text
        return json.loads(text)

    def headers(self, name):
        """The values of every header called name in the last POST."""
        return [v for k, v in self.last().get("headers", []) if k.lower() == name.lower()]

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class SecretsTest(unittest.TestCase):
    def setUp(self):
        self.stubs = []
        self.dir = tempfile.mkdtemp(prefix="dynhc-secrets-")

    def tearDown(self):
        for stub in self.stubs:
            stub.stop()
        shutil.rmtree(self.dir)

    def dynhc(self, *args, env=None):
        """test_probe.dynhc(), and a sanitizer's report fails the test
        whatever the exit status (ASan's 1 is probe's "unhealthy")."""
        result = dynhc(*args, env=env)
        self.assert_clean("\n".join(result[2]))
        return result

    def assert_clean(self, stderr):
        self.assertNotIn("Sanitizer", stderr)
        self.assertNotIn("runtime error", stderr)

    def stub(self, **kwargs):
        stub = Stub(**kwargs)
        self.stubs.append(stub)
        return stub

    def file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w", newline="") as f:
            f.write(text)
        return path

    def assert_healthy(self, result):
        status, out, err, _ = result
        self.assertEqual((status, out), (0, ""), err)
        self.assertRegex(err[-1], r"^dynhc: healthy: ")

    def assert_unhealthy(self, result, pattern):
        status, out, err, _ = result
        self.assertEqual((status, out), (1, ""), err)
        self.assertRegex(err[-1], r"^dynhc: unhealthy: https://127\.0\.0\.1:\d+/\S+: " + pattern)

    def assert_fails(self, result, status, pattern):
        got, out, err, _ = result
        self.assertEqual((got, out), (status, ""), err)
        self.assertRegex(err[0], pattern)

    # ---- TLS

    def test_cacert_verifies_the_server(self):
        stub = self.stub(tls=True)
        self.assert_healthy(self.dynhc("probe", "--url", stub.url, "--cacert", pki("ca.pem")))

    def test_server_of_an_unknown_ca_is_refused(self):
        stub = self.stub(tls=True)
        self.assert_unhealthy(self.dynhc("probe", "--url", stub.url),
                              r"SSL certificate problem: (unable to get local issuer|self.signed)")

    def test_insecure_accepts_any_server(self):
        stub = self.stub(tls=True)
        self.assert_healthy(self.dynhc("probe", "--url", stub.url, "--insecure"))

    def test_client_certificate_is_sent(self):
        stub = self.stub(tls=True, client_ca=True)
        self.assert_healthy(self.dynhc("probe", "--url", stub.url, "--cacert", pki("ca.pem"),
                                  "--cert", pki("client.pem"), "--key", pki("client.key")))

    def test_server_wanting_a_client_certificate_refuses_one_without(self):
        stub = self.stub(tls=True, client_ca=True)
        status, out, err, _ = self.dynhc("probe", "--url", stub.url, "--cacert", pki("ca.pem"))
        self.assertEqual((status, out, len(err)), (1, "", 1), err)
        # The TLS 1.3 alert ("certificate required") comes after the handshake;
        # depending on timing libcurl 7.88 reports it, or the closed socket
        # (read, or written to: "Send failure: Broken pipe").
        self.assertRegex(err[0], r"^dynhc: unhealthy: https://127\.0\.0\.1:\d+/v1/completions: "
                                 r".*(alert|certificate|SSL|reset|closed|not connected|"
                                 r"Broken pipe)")

    def test_watch_takes_the_tls_options(self):
        stub = self.stub(tls=True, client_ca=True)
        watch = Watch("--url", stub.url, "--port", "0", "--interval", "200ms",
                      "--cacert", pki("ca.pem"), "--cert", pki("client.pem"),
                      "--key", pki("client.key"))
        try:
            _, body = watch.wait_for(200, 5)
            self.assertEqual(body["endpoints"], {stub.url: "ready"})
        finally:
            self.assertEqual(watch.stop()[0], 0, watch.stderr)
            self.assert_clean(watch.stderr)

    def test_tls_files_that_cannot_be_read_are_named(self):
        stub = self.stub(tls=True)
        missing = os.path.join(self.dir, "missing.pem")
        cases = [
            (("--cacert", missing), r"--cacert '.*missing\.pem': cannot open: No such file"),
            (("--cacert", self.dir), r"--cacert '.*': not a regular file \(a directory\)"),
            (("--cert", missing), r"--cert '.*missing\.pem': cannot open"),
            (("--cert", pki("client.pem"), "--key", "/dev/null"),
             r"--key '/dev/null': not a regular file \(a FIFO, device or socket\)"),
        ]
        for args, pattern in cases:
            with self.subTest(args=args):
                self.assert_fails(self.dynhc("probe", "--url", stub.url, *args), 1,
                                  r"^dynhc: error: " + pattern)

    def test_bad_combinations_are_usage_errors(self):
        token = self.file("token", "t0ken-value\n")
        auth = self.file("auth.headers", "Authorization: Basic Zm9vOmJhcg==\n")
        cases = [
            (("--key", pki("client.key")), r"--key needs --cert"),
            (("--cacert", pki("ca.pem"), "--insecure"), r"--insecure and --cacert cannot be used"),
            (("--cacert", ""), r"--cacert needs a non-empty name"),
            (("--bearer-token-file", token, "--header", "authorization: x"),
             r"--header sets Authorization, and so does --bearer-token-file"),
            (("--bearer-token-file", token, "--header-file", auth),
             r"--header-file .*auth\.headers:1 sets Authorization, and so does"),
            (("--interval", "1s",), r"option '--interval' does not apply"),
        ]
        for command in ("probe", "watch"):
            for args, pattern in cases:
                if command == "watch" and args[0] == "--interval":
                    continue
                with self.subTest(command=command, args=args):
                    status, out, err, _ = self.dynhc(command, "--url", "http://127.0.0.1:9", *args)
                    self.assertEqual((status, out), (2, ""), err)
                    self.assertRegex(err[0], r"^dynhc: error: " + pattern)
                    self.assertEqual(err[-1], "Try 'dynhc --help'.")

    # ---- headers and token

    def test_bearer_token_arrives_exactly(self):
        stub = self.stub()
        # vLLM's --api-key file, as `echo KEY > file` writes it.
        token = self.file("token", "sk-vllm-0123456789abcdef\n")
        self.assert_healthy(self.dynhc("probe", "--url", stub.url, "--bearer-token-file", token))
        self.assertEqual(stub.headers("Authorization"), ["Bearer sk-vllm-0123456789abcdef"])

    def test_url_credentials_are_sent_as_basic_auth(self):
        stub = self.stub()
        url = "http://ops%%40example:p%%3Ass@%s" % stub.host
        self.assert_healthy(self.dynhc("probe", "--url", url))
        self.assertEqual(stub.headers("Authorization"),
                         ["Basic " + base64.b64encode(b"ops@example:p:ss").decode()])

    def test_headers_from_file_and_options_arrive(self):
        stub = self.stub(tls=True)
        headers = self.file("headers", "# the gateway's key\r\n"
                                       "X-Api-Key:  k3y-from-file \r\n"
                                       "\n"
                                       "   # indented comment\n"
                                       "X-Tenant:team-a\n"
                                       "X-Empty:\n"
                                       "Accept: application/json, text/plain")
        self.assert_healthy(self.dynhc("probe", "--url", stub.url, "--cacert", pki("ca.pem"),
                                  "--header-file", headers, "--header", "X-Trace: on",
                                  "--header", "X-Trace: twice"))
        got = {}
        for name, value in stub.last()["headers"]:
            got.setdefault(name.lower(), []).append(value)
        self.assertEqual(got["x-api-key"], ["k3y-from-file"])
        self.assertEqual(got["x-tenant"], ["team-a"])
        self.assertEqual(got["x-empty"], [""])
        self.assertEqual(got["x-trace"], ["on", "twice"])
        # A header of the operator's replaces dynhc's own of the same name.
        self.assertEqual(got["accept"], ["application/json, text/plain"])
        self.assertEqual(got["content-type"], ["application/json"])

    def test_header_file_errors_have_file_line_and_column(self):
        cases = [
            ("X-Ok: 1\nno colon here\n", 1, r"^{f}:2:3: error: invalid character in a header name"),
            ("X-Ok: 1\nsk-0123456789\n", 1, r"^{f}:2:14: error: expected 'Name: value' \(no ':'"),
            (": value\n", 1, r"^{f}:1:1: error: empty header name$"),
            ("X-A: a\rX-Injected: 1\n", 1,
             r"^{f}:1:7: error: control character in a header value"),
            ("X-A: a\x00b\n", 1, r"^{f}:1:7: error: control character in a header value"),
            ("Content-Length: 5\n", 1, r"^{f}:1:1: error: Content-Length is set by dynhc"),
            ("x" * (65 * 1024), 1, r"^dynhc: error: --header-file '{f}': larger than the 64 KiB"),
        ]
        for text, status, pattern in cases:
            with self.subTest(text=text[:40]):
                path = self.file("headers", text)
                result = self.dynhc("probe", "--url", "http://127.0.0.1:9", "--header-file", path)
                self.assert_fails(result, status, pattern.format(f=path))
                # No value in any message.
                self.assertNotIn("0123456789", "\n".join(result[2]))
        missing = os.path.join(self.dir, "missing")
        self.assert_fails(self.dynhc("probe", "--url", "http://127.0.0.1:9", "--header-file", missing),
                          1, r"^dynhc: error: --header-file '.*missing': cannot open: No such")

    def test_header_option_errors_never_show_the_value(self):
        cases = [
            ("sk-hidden-0123", r"--header: expected 'Name: value' \(no ':' after the name\) "
                               r"\(column 15 of the argument, not shown"),
            ("Bearer sk-hidden-0123", r"--header: invalid character in a header name: .*"
                                      r"\(column 7 of the argument, not shown"),
            ("X-Api-Key: sk-hidden-0123\r\nX-Evil: 1",
             r"--header 'X-Api-Key': control character in a header value: expected one line "
             r"of text \(column 26\)"),
            ("Transfer-Encoding: chunked", r"--header 'Transfer-Encoding' is set by dynhc"),
        ]
        for value, pattern in cases:
            with self.subTest(value=value):
                status, out, err, _ = self.dynhc("probe", "--url", "http://127.0.0.1:9",
                                            "--header", value)
                self.assertEqual((status, out), (2, ""), err)
                self.assertRegex(err[0], "^dynhc: error: " + pattern)
                self.assertNotIn("hidden", "\n".join(err))

    def test_at_most_64_header_options(self):
        headers = [arg for i in range(64) for arg in ("--header", "X-H%d: %d" % (i, i))]
        stub = self.stub()
        self.assert_healthy(self.dynhc("probe", "--url", stub.url, *headers))
        self.assertEqual(stub.headers("X-H63"), ["63"])
        status, out, err, _ = self.dynhc("probe", "--url", stub.url, *headers,
                                         "--header", "X-H64: 64")
        self.assertEqual((status, out), (2, ""), err)
        self.assertEqual(err[0], "dynhc: error: at most 64 --header (a --header-file takes any "
                                 "number)")

    def test_token_file_errors(self):
        cases = [
            ("", r"^dynhc: error: --bearer-token-file '{f}': empty: expected the token"),
            (" \n\n", r"^dynhc: error: --bearer-token-file '{f}': empty"),
            ("sk-one\nsk-two\n", r"^{f}:2:1: error: a second line: expected the token alone$"),
            ("sk-\x01x\n", r"^{f}:1:4: error: control character in the token$"),
        ]
        for text, pattern in cases:
            with self.subTest(text=text):
                path = self.file("token", text)
                result = self.dynhc("probe", "--url", "http://127.0.0.1:9",
                               "--bearer-token-file", path)
                self.assert_fails(result, 1, pattern.format(f=path))
                self.assertNotIn("sk-", "\n".join(result[2]))
        # A FIFO with no writer must not block the open.
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        for path in ("/dev/null", fifo):
            with self.subTest(path=path):
                self.assert_fails(self.dynhc("probe", "--url", "http://127.0.0.1:9",
                                        "--bearer-token-file", path),
                                  1, r"--bearer-token-file '%s': not a regular file \(a FIFO, "
                                     r"device or socket\)" % path)

    # ---- nothing shows a secret

    USER, PASSWORD = "user-5f1d", "pw-9c2e7a"
    TOKEN, FILE_SECRET, OPTION_SECRET = "tok-41b8e6d0", "hdr-0d93c1", "opt-7e42aa"

    def secrets(self):
        return (self.USER, self.PASSWORD, self.TOKEN, self.FILE_SECRET, self.OPTION_SECRET)

    def secret_args(self, stub):
        token = self.file("token", self.TOKEN + "\n")
        headers = self.file("headers", "X-Gateway-Key: " + self.FILE_SECRET + "\n")
        url = "http://%s:%s@%s" % (self.USER, self.PASSWORD, stub.host)
        return (url, ["--bearer-token-file", token, "--header-file", headers,
                      "--header", "X-Session-Token: " + self.OPTION_SECRET])

    def assert_no_secret(self, where, text):
        for secret in self.secrets():
            self.assertNotIn(secret, text, "%s shows %s:\n%s" % (where, secret, text))

    def test_probe_shows_no_secret(self):
        stub = self.stub()
        url, args = self.secret_args(stub)
        env = {"DYN_LOG": "debug"}
        for mode in ("healthy", "echo401", "dead"):
            with self.subTest(mode=mode):
                if mode != "healthy":
                    stub.mode(mode)
                status, out, err, _ = self.dynhc("probe", "--url", url, "--explain", *args, env=env)
                text = "\n".join(err)
                self.assertEqual(status, 0 if mode == "healthy" else 1, text)
                self.assertIn("http://REDACTED@%s/v1/completions" % stub.host, text)
                self.assert_no_secret("probe's output", out + text)
                if mode == "echo401":
                    # The server echoed them: what it said is shown, scrubbed.
                    self.assertIn("Authorization=REDACTED", text)
                    self.assertIn("X-Gateway-Key=REDACTED", text)
                    # Before the check, the secrets did arrive as sent.
                    self.assertEqual(stub.headers("x-gateway-key"), [self.FILE_SECRET])
        usage = self.dynhc("probe", "--url", "ftp://%s:%s@host" % (self.USER, self.PASSWORD))
        self.assertEqual(usage[0], 2)
        self.assert_no_secret("a usage error", "\n".join(usage[2]))
        self.assertIn("'ftp://REDACTED@host'", usage[2][0])

    def test_no_piece_of_a_long_secret_is_left_at_the_cut(self):
        # The answer's excerpt is cut at about 200 bytes, inside the echoed
        # token: the part before the cut must go too.
        stub = self.stub(mode="echo401")
        token = "".join("%03d-" % i for i in range(80))
        path = self.file("token", token)
        status, out, err, _ = self.dynhc("probe", "--url", stub.url, "--bearer-token-file", path)
        self.assertEqual((status, out, len(err)), (1, "", 1), err)
        self.assertRegex(err[0], r"Authorization=REDACTED\.\.\.'$")
        for start in range(len(token) - 8):
            self.assertNotIn(token[start:start + 8], err[0])

    def test_url_credentials_are_redacted_in_every_shape(self):
        stub = self.stub()
        h = stub.host
        cases = [
            # (URL, status, what the line shows)
            ("http://u:pw-a1b2@%s" % h, 0, "http://REDACTED@%s/v1/completions" % h),
            ("HTTP://tok-a1b2@%s/v1" % h, 0, "http://REDACTED@%s/v1/completions" % h),
            ("http://u:pw%%40a1b2@%s/?q=a@b" % h, 0,
             "http://REDACTED@%s/v1/completions?q=a@b" % h),
            ("http:/u:pw-a1b2@%s" % h, 0, "http://REDACTED@%s/v1/completions" % h),
            # An '@' in the path is the path's: nothing to redact.
            ("http://%s/@a1b2/v1" % h, 1, "http://%s/@a1b2/v1/completions: HTTP 404" % h),
            # URLs curl refuses: everything up to the last '@' goes.
            ("http://u:pw/a1b2@%s" % h, 2, "'http://REDACTED@%s'" % h),
            ("http://u:pw?a1b2@%s" % h, 2, "'http://REDACTED@%s'" % h),
            ("http://u:pw a1b2@%s" % h, 2, "'http://REDACTED@%s'" % h),
            ("u:pw-a1b2@%s" % h, 2, "'REDACTED@%s'" % h),
            ("ftp://u:pw-a1b2@%s" % h, 2, "'ftp://REDACTED@%s'" % h),
        ]
        for url, status, shown in cases:
            with self.subTest(url=url):
                got, out, err, _ = self.dynhc("probe", "--url", url)
                self.assertEqual((got, out), (status, ""), err)
                self.assertIn(shown, err[0])
                if "@a1b2/" not in url:
                    self.assertNotIn("a1b2", "\n".join(err))

    def test_watch_shows_no_secret(self):
        stub = self.stub()
        url, args = self.secret_args(stub)
        watch = Watch("--url", url, "--port", "0", "--interval", "100ms", "--timeout", "1s",
                      *args, env={"DYN_LOG": "debug"})
        shown = []
        try:
            # Secrets given in files never reach the process list (the URL,
            # an argument, is there by the operator's choice).
            with open("/proc/%d/cmdline" % watch.proc.pid, "rb") as f:
                cmdline = f.read().decode()
            self.assertNotIn(self.TOKEN, cmdline)
            self.assertNotIn(self.FILE_SECRET, cmdline)
            name = "http://REDACTED@%s" % stub.host
            _, body = watch.wait_for(200, 5)
            self.assertEqual(body["endpoints"], {name: "ready"})
            stub.mode("echo401")
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                verbose = http("GET", watch.url + "/health?verbose")[1]
                if "Authorization=REDACTED" in verbose:
                    break
                time.sleep(0.05)
            self.assertIn("Authorization=REDACTED", verbose)
            for path in ("/health", "/health?verbose", "/metrics", "/live"):
                status, text = http("GET", watch.url + path)
                self.assertNotEqual(status, 0, path)
                shown.append((path, text))
            self.assertIn('endpoint="%s"' % name, dict(shown)["/metrics"])
            stub.mode("dead")
            time.sleep(0.3)
        finally:
            self.assertEqual(watch.stop()[0], 0, watch.stderr)
            self.assert_clean(watch.stderr)
        shown += [("stdout", watch.first_line), ("stderr (DYN_LOG=debug)", watch.stderr)]
        self.assertIn("debug", watch.stderr)
        for where, text in shown:
            self.assert_no_secret(where, text)
        # The same name, with another password, is the same endpoint.
        other = url.replace(self.PASSWORD, "pw-other-1")
        status, out, err, _ = self.dynhc("watch", "--url", url, "--url", other, "--port", "0")
        self.assertEqual(status, 2, err)
        self.assertIn("dynhc: error: --url 'http://REDACTED@%s' is given twice" % stub.host, err)
        self.assert_no_secret("a usage error", "\n".join(err))

    def test_watch_targets_file_shows_no_secret(self):
        # A file_sd target's credentials are redacted like a --url's, and a
        # reload's errors show none either.
        stub = self.stub()
        url, args = self.secret_args(stub)
        bare = "%s:%s@%s" % (self.USER, self.PASSWORD, stub.host)  # host:port, http added
        targets = self.file("targets.yaml", "- targets: ['%s']\n" % bare)
        watch = Watch("--targets", targets, "--port", "0", "--interval", "100ms",
                      "--timeout", "1s", *args, env={"DYN_LOG": "debug"})
        shown = []
        try:
            name = "http://REDACTED@%s" % stub.host
            _, body = watch.wait_for(200, 5)
            self.assertEqual(body["endpoints"], {name: "ready"})
            self.assertEqual(stub.headers("authorization"), ["Bearer " + self.TOKEN])
            # A new password is a changed target under the same name; a URL
            # curl refuses is an error that shows none of it.
            with open(targets, "w") as f:
                f.write("- targets: ['%s', 'http://u:%s x@h']\n" % (url, self.PASSWORD))
            time.sleep(2)  # the file is looked at once a second
            for path in ("/health?verbose", "/metrics"):
                status, text = http("GET", watch.url + path)
                self.assertEqual(status, 200, path)
                shown.append((path, text))
            self.assertIn('endpoint="%s"' % name, dict(shown)["/metrics"])
        finally:
            self.assertEqual(watch.stop()[0], 0, watch.stderr)
            self.assert_clean(watch.stderr)
        self.assertIn("targets.yaml:1:", watch.stderr)
        self.assertIn("'http://REDACTED@h'", watch.stderr)
        shown += [("stdout", watch.first_line), ("stderr (DYN_LOG=debug)", watch.stderr)]
        for where, text in shown:
            self.assert_no_secret(where, text)
        # Two targets whose names are the same once redacted.
        other = self.file("other.json", '[{"targets": ["%s", "%s"]}]'
                          % (url, url.replace(self.PASSWORD, "pw-other-1")))
        status, out, err, _ = self.dynhc("watch", "--targets", other, "--port", "0")
        self.assertEqual(status, 1, err)
        self.assertRegex(err[0], r"^dynhc: error: target 'http://REDACTED@%s' is given twice: "
                         r"\S+:1:\d+ and \S+:1:\d+$" % re.escape(stub.host))
        self.assert_no_secret("an error", "\n".join(err))


def main():
    global PKI
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    test_probe.DYNHC, test_probe.STUB = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if shutil.which("openssl") is None:
        sys.exit("test_secrets.py: the openssl command is missing (scripts/dev.sh deps)")
    with tempfile.TemporaryDirectory(prefix="dynhc-pki-") as PKI:
        make_pki()
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(SecretsTest)
        result = unittest.TextTestRunner(verbosity=2).run(suite)
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)


if __name__ == "__main__":
    main()
