"""What every registry end-to-end test shares: a curl-style HTTP client that
checks each response against openapi/openapi.yaml on the spot, a recording
reverse proxy that does the same for other clients' traffic (confluent_kafka's
SchemaRegistryClient), and a few helpers (starting a broker with its
registry, snapshots of the registry's whole state).

Every response seen is recorded, one JSON line per response, with its
(method, path template, status) and the problems found, in
$STRAND_E2E_RECORD or else <build output>/e2e/registry-openapi-<run>.jsonl
(the build output is the directory above STRAND_BIN's bin/). The run is
run_all.py's process (every module is its child), or $STRAND_E2E_RUN_ID, so
that test_registry_zz_openapi_coverage.py, which runs after every other
registry module, can check that this run exercised every operation of the
spec and that no response failed validation.
"""

import http.server
import json
import os
import socket
import threading
import time
import unittest
import urllib.parse

import requests

try:
    from . import harness
    from .openapi_check import Spec, UNKNOWN_PATH
except ImportError:  # run from inside tests/e2e
    import harness
    from openapi_check import Spec, UNKNOWN_PATH

V1_JSON = "application/vnd.schemaregistry.v1+json"
SR_JSON = "application/vnd.schemaregistry+json"
JSON = "application/json"
OCTET = "application/octet-stream"

REQUEST_TIMEOUT = 30
REGISTRY_PROPS = {"schema.registry.listeners": "http://127.0.0.1:0", "group.initial.rebalance.delay.ms": "0"}


# -- the record of responses -------------------------------------------------------

def _process_start(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "0"


def run_id():
    """Same for every module of one run_all.py run (they are its children)."""
    explicit = os.environ.get("STRAND_E2E_RUN_ID")
    if explicit:
        return explicit
    ppid = os.getppid()
    return "%d-%s" % (ppid, _process_start(ppid))


RECORD_KEEP_SECONDS = 24 * 3600  # other runs' record files older than this are removed


def record_path(run=None):
    """$STRAND_E2E_RECORD, or one file per run under the build output, so
    that runs side by side in one checkout do not mix or prune each other."""
    explicit = os.environ.get("STRAND_E2E_RECORD")
    if explicit:
        return explicit
    out = os.path.dirname(os.path.dirname(harness.strand_binary()))
    return os.path.join(out, "e2e", "registry-openapi-%s.jsonl" % (run or run_id()))


class Recorder:
    """Appends one JSON line per response (O_APPEND, so the modules of a run
    and the threads of a module add whole lines); lines carry the run id, and
    entries() returns this run's. The first write of a process removes other
    runs' files once they are a day old."""

    _lock = threading.Lock()
    _pruned = False

    def __init__(self, path=None):
        self.run = run_id()
        self.path = path or record_path(self.run)

    def write(self, entry):
        entry = dict(entry, run=self.run, time=time.time())
        with Recorder._lock:
            directory = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(directory, exist_ok=True)
            if not Recorder._pruned:
                Recorder._pruned = True
                self._prune(directory)
            with open(self.path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def _prune(self, directory):
        limit = time.time() - RECORD_KEEP_SECONDS
        for name in os.listdir(directory):
            path = os.path.join(directory, name)
            if (name.startswith("registry-openapi-") and name.endswith(".jsonl") and path != self.path):
                try:
                    if os.path.getmtime(path) < limit:
                        os.unlink(path)
                except OSError:
                    pass

    def _read_raw(self):
        try:
            with open(self.path) as f:
                lines = f.readlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def entries(self):
        """This run's lines."""
        return [r for r in self._read_raw() if r.get("run") == self.run]


_recorder = None


def recorder():
    global _recorder
    if _recorder is None:
        _recorder = Recorder()
    return _recorder


def check_and_record(method, path, status, content_type, body, source):
    """Validates one response, records it; returns the problems."""
    spec = Spec.load()
    template, _ = spec.match(method, path)
    problems = spec.check_response(method, path, status, content_type, body)
    recorder().write({"method": method.upper(), "template": template or UNKNOWN_PATH, "path": path,
                      "status": status, "problems": problems, "source": source})
    return problems


# -- the client ----------------------------------------------------------------------

class Response:
    def __init__(self, method, path, r):
        self.method = method
        self.path = path
        self.status = r.status_code
        self.headers = r.headers
        self.content = r.content
        self.content_type = r.headers.get("Content-Type")
        self.text = r.content.decode("utf-8", "replace")
        try:
            self.json = json.loads(self.text) if self.content else None
        except ValueError:
            self.json = None

    @property
    def error_code(self):
        return self.json.get("error_code") if isinstance(self.json, dict) else None

    @property
    def message(self):
        return self.json.get("message") if isinstance(self.json, dict) else None

    def __repr__(self):
        text = self.text if len(self.text) < 600 else self.text[:600] + "..."
        return "%s %s -> %d %s" % (self.method, self.path, self.status, text)


class ConformanceError(AssertionError):
    pass


def quote(subject):
    return urllib.parse.quote(subject, safe="")


def _read_http_response(reader):
    """(status, headers, body) of one HTTP/1.1 response from a binary file."""
    line = reader.readline()
    if not line:
        raise ConnectionError("connection closed before a response")
    parts = line.decode("latin-1").split(None, 2)
    status = int(parts[1])
    headers = requests.structures.CaseInsensitiveDict()
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip()] = v.strip()
    if status == 100 or status == 204:
        return status, headers, b""
    if "Content-Length" in headers:
        body = reader.read(int(headers["Content-Length"]))
    elif headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                reader.readline()
                break
            body += reader.read(size)
            reader.readline()
    else:
        body = reader.read()
    return status, headers, body


class RegistryClient:
    """Direct requests, each response validated against the spec (a
    non-conforming one raises ConformanceError) and recorded."""

    def __init__(self, base_url, source="direct"):
        self.base_url = base_url.rstrip("/")
        self.source = source
        self.session = requests.Session()

    def request(self, method, path, body=None, headers=None, params=None, content_type=V1_JSON, accept=None,
                check=True):
        """body: dict/list (sent as JSON), str/bytes (sent as is) or None.
        path is sent as given (already percent-encoded); params is a dict or
        a list of pairs for the query string."""
        hdrs = {}
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode("utf-8")
            if content_type is not None:
                hdrs["Content-Type"] = content_type
        if accept:
            hdrs["Accept"] = accept
        hdrs.update(headers or {})
        url = self.base_url + path
        if params:
            url += ("&" if "?" in path else "?") + urllib.parse.urlencode(params, doseq=True)
        req = requests.Request(method, url, data=body, headers=hdrs)
        prepared = self.session.prepare_request(req)
        if body is not None and content_type is None:
            prepared.headers.pop("Content-Type", None)
        r = self.session.send(prepared, timeout=REQUEST_TIMEOUT, allow_redirects=False)
        resp = Response(method, path, r)
        if check:
            problems = check_and_record(method, urllib.parse.urlsplit(path).path, resp.status, resp.content_type,
                                        resp.content, self.source)
            if problems:
                raise ConformanceError("response does not conform to openapi.yaml:\n  " + "\n  ".join(problems))
        return resp

    def send_large(self, method, path, body, content_type=V1_JSON):
        """Sends a body too large to be accepted over a plain socket with
        'Expect: 100-continue', so that a server answering before it has
        read the body (as it should) does not turn into a broken pipe here.
        The response is checked and recorded like any other; returns it."""
        url = urllib.parse.urlsplit(self.base_url)
        sock = socket.create_connection((url.hostname, url.port), timeout=REQUEST_TIMEOUT)
        try:
            head = ("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                    "Expect: 100-continue\r\nConnection: close\r\n\r\n"
                    % (method, path, url.netloc, content_type, len(body)))
            sock.sendall(head.encode("ascii"))
            reader = sock.makefile("rb")
            status, headers, content = _read_http_response(reader)
            if status == 100:
                try:
                    view = memoryview(body)
                    for i in range(0, len(body), 1 << 20):
                        sock.sendall(view[i:i + (1 << 20)])
                except (BrokenPipeError, ConnectionResetError):
                    pass  # it answered early; read that answer
                status, headers, content = _read_http_response(reader)
        finally:
            sock.close()

        class Raw:
            pass

        raw = Raw()
        raw.status_code, raw.headers, raw.content = status, headers, content
        resp = Response(method, path, raw)
        problems = check_and_record(method, path, resp.status, resp.content_type, resp.content, self.source)
        if problems:
            raise ConformanceError("response does not conform to openapi.yaml:\n  " + "\n  ".join(problems))
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- assertions ----------------------------------------------------------------

    def ok(self, method, path, body=None, status=200, **kw):
        """Expects `status` (an int or a tuple); returns the parsed body."""
        r = self.request(method, path, body=body, **kw)
        want = status if isinstance(status, tuple) else (status,)
        if r.status not in want:
            raise AssertionError("expected %s, got %r" % ("/".join(map(str, want)), r))
        return r.json

    def error(self, method, path, status, code, body=None, **kw):
        """Expects an error with HTTP `status` and error_code `code` (an int
        or a tuple of acceptable codes); returns the Response."""
        r = self.request(method, path, body=body, **kw)
        codes = code if isinstance(code, tuple) else (code,)
        if r.status != status or r.error_code not in codes:
            raise AssertionError("expected %d with error_code %s, got %r" % (status, "/".join(map(str, codes)), r))
        if not isinstance(r.message, str) or not r.message.strip():
            raise AssertionError("error without a message: %r" % r)
        return r

    # -- shorthands ----------------------------------------------------------------

    def register(self, subject, schema, schema_type=None, references=None, params=None, **fields):
        body = {"schema": schema if isinstance(schema, str) else json.dumps(schema)}
        if schema_type:
            body["schemaType"] = schema_type
        if references:
            body["references"] = references
        body.update(fields)
        return self.ok("POST", "/subjects/%s/versions" % quote(subject), body, params=params)

    def version(self, subject, version="latest", params=None):
        return self.ok("GET", "/subjects/%s/versions/%s" % (quote(subject), version), params=params)

    def versions(self, subject, params=None):
        return self.ok("GET", "/subjects/%s/versions" % quote(subject), params=params)

    def subjects(self, params=None):
        return self.ok("GET", "/subjects", params=params)

    def snapshot(self):
        """The registry's whole visible state, for 'nothing changed' checks."""
        state = {
            "subjects": self.subjects({"deleted": "true"}),
            "schemas": self.ok("GET", "/schemas", params={"deleted": "true"}),
            "config": self.ok("GET", "/config"),
            "mode": self.ok("GET", "/mode"),
            "versions": {},
        }
        for s in state["subjects"]:
            state["versions"][s] = self.versions(s, {"deleted": "true"})
        for entry in state["schemas"]:
            entry.pop("ts", None)  # rewritten by nothing we do, but not part of the state
        return state


def avro_record(name, *fields, namespace=None):
    """An Avro record schema text; fields are (name, type) or (name, type, default)."""
    rec = {"type": "record", "name": name, "fields": []}
    if namespace:
        rec["namespace"] = namespace
    for f in fields:
        field = {"name": f[0], "type": f[1]}
        if len(f) > 2:
            field["default"] = f[2]
        rec["fields"].append(field)
    return json.dumps(rec)


# -- the recording reverse proxy ---------------------------------------------------

class RecordingProxy:
    """An HTTP reverse proxy in a thread in front of a registry: every
    response passing through is validated and recorded; problems collects
    what did not conform (check it with assert_clean)."""

    def __init__(self, target_url):
        self.target = target_url.rstrip("/")
        self.problems = []
        self.exchanges = []
        self.session = requests.Session()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection", "accept-encoding")}
                try:
                    r = proxy.session.request(self.command, proxy.target + self.path, data=body, headers=headers,
                                              timeout=REQUEST_TIMEOUT, allow_redirects=False)
                except requests.RequestException as e:
                    proxy.problems.append("%s %s: %s" % (self.command, self.path, e))
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path = urllib.parse.urlsplit(self.path).path
                problems = check_and_record(self.command, path, r.status_code, r.headers.get("Content-Type"),
                                            r.content, "proxy")
                proxy.exchanges.append((self.command, self.path, r.status_code))
                proxy.problems.extend(problems)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding",
                                         "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.session.close()

    def assert_clean(self):
        if self.problems:
            raise ConformanceError("responses through the proxy do not conform to openapi.yaml:\n  "
                                   + "\n  ".join(self.problems[:20]))


# -- brokers with a registry ------------------------------------------------------

def start_registry_broker(test, **props):
    """A broker with its in-process registry, owned and checked by `test`
    (a harness.BrokerTestCase); returns (broker, client)."""
    merged = {k.replace(".", "_"): v for k, v in REGISTRY_PROPS.items()}
    merged.update(props)
    broker = test.start_broker(**merged)
    if not broker.registry_url:
        raise AssertionError("broker started without a registry URL")
    return broker, RegistryClient(broker.registry_url)


class SharedRegistry:
    """One broker + registry for a whole test class (setUpClass/tearDownClass),
    checked for sanitizer reports and unclean exits at the end."""

    def __init__(self, **props):
        merged = dict(REGISTRY_PROPS)
        merged.update({k.replace("_", "."): v for k, v in props.items()})
        self.broker = harness.Broker(merged)
        try:
            self.broker.start()
        except Exception:
            self.broker.remove_tmp()
            raise
        self.client = RegistryClient(self.broker.registry_url)

    def close(self, failed=False):
        problems = self.broker.close()
        if problems or failed or harness.keep_tmp_requested():
            print("      broker directory kept: %s" % self.broker.tmp_dir)
        else:
            self.broker.remove_tmp()
        if problems:
            raise AssertionError("broker in %s:\n%s" % (self.broker.tmp_dir, "\n".join(problems)))


class SharedRegistryTestCase(unittest.TestCase):
    """Base class: one broker with its registry for the whole class
    (cls.registry, cls.c); its directory is kept when a test failed."""

    registry_props = {}

    @classmethod
    def setUpClass(cls):
        cls.registry = SharedRegistry(**cls.registry_props)
        cls.c = cls.registry.client
        cls.failed = False

    @classmethod
    def tearDownClass(cls):
        cls.registry.close(failed=cls.failed)

    def run(self, result=None):
        before = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > before:
            type(self).failed = True
        return out
