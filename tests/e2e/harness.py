"""Starts the real `strand` binary for end-to-end tests and checks its log.

Each Broker gets a fresh temporary directory (data directory plus one stderr
log per run), listens on a free port (port 0; the binary prints the bound
address on stdout) and is stopped with SIGTERM at the end of the test. A test
fails when any run of the broker printed a sanitizer report or did not exit
cleanly on SIGTERM. The directory is removed after a passing test and kept
(its path printed) after a failing one, or always with STRAND_KEEP_TMP=1.

STRAND_BIN names the binary; the default is the sanitized build.
"""

import atexit
import os
import queue
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
E2E_DIR = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"

STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0

READY_LINE = re.compile(r"^strand: kafka listening on (\S+):(\d+)\s*$")
REGISTRY_READY_LINE = re.compile(r"^strand: schema registry listening on (http://\S+)\s*$")

# Anything one of the sanitizers prints when it finds a problem.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "LeakSanitizer",
    "runtime error:",
    "WARNING: AddressSanitizer",
    "ThreadSanitizer",
)

# Abort on the first report so a bug cannot hide behind later output; leaks
# are reported when the broker exits after SIGTERM (a SIGKILLed process
# reports nothing, which is what the durability tests want).
ASAN_OPTIONS = "abort_on_error=1:halt_on_error=1:detect_leaks=1:print_summary=1:strict_string_checks=1"
UBSAN_OPTIONS = "print_stacktrace=1:halt_on_error=1:abort_on_error=1"


def strand_binary():
    path = os.environ.get("STRAND_BIN") or os.path.join(REPO_ROOT, "build", "sanitize", "bin", "strand")
    return os.path.abspath(path)


def sanitizer_env(base=None):
    """Environment with our sanitizer options first; options already set win."""
    env = dict(os.environ if base is None else base)
    env["ASAN_OPTIONS"] = ASAN_OPTIONS + (":" + env["ASAN_OPTIONS"] if env.get("ASAN_OPTIONS") else "")
    env["UBSAN_OPTIONS"] = UBSAN_OPTIONS + (":" + env["UBSAN_OPTIONS"] if env.get("UBSAN_OPTIONS") else "")
    return env


def keep_tmp_requested():
    return os.environ.get("STRAND_KEEP_TMP", "") not in ("", "0")


_live_brokers = set()


@atexit.register
def _kill_leftovers():
    # A test process that dies abnormally must not leave brokers behind.
    for broker in list(_live_brokers):
        try:
            broker.proc.kill()
        except Exception:
            pass


class BrokerError(Exception):
    pass


class Broker:
    """One broker process over one data directory, restartable.

    props are Kafka-style properties passed as --name=value; listeners and
    log.dirs are set by the harness. The in-process schema registry is off
    unless props set schema.registry.listeners (e.g. "http://127.0.0.1:0"),
    in which case start() also waits for it and sets registry_url.
    """

    def __init__(self, props=None, binary=None, args=()):
        self.binary = binary or strand_binary()
        if not os.access(self.binary, os.X_OK):
            raise BrokerError("broker binary %s does not exist (build it, or set STRAND_BIN)" % self.binary)
        self.props = dict(props or {})
        self.args = list(args)
        self.tmp_dir = tempfile.mkdtemp(prefix="strand-e2e-")
        self.data_dir = os.path.join(self.tmp_dir, "data")
        os.mkdir(self.data_dir)
        self.proc = None
        self.host = None
        self.port = None
        self.registry_url = None
        self.runs = 0
        self.log_paths = []
        self.problems = []  # unclean exits seen by stop()
        self._stdout_thread = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    @property
    def log_path(self):
        return self.log_paths[-1] if self.log_paths else None

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        cmd = [self.binary, "--listeners=PLAINTEXT://127.0.0.1:0", "--log.dirs=" + self.data_dir]
        if "schema.registry.listeners" not in self.props:
            cmd.append("--schema.registry.listeners=")
        cmd += ["--%s=%s" % (k, v) for k, v in self.props.items()]
        return cmd + self.args

    def start(self, timeout=STARTUP_TIMEOUT):
        if self.is_running():
            raise BrokerError("broker already running")
        self.runs += 1
        log_path = os.path.join(self.tmp_dir, "broker-%d.stderr" % self.runs)
        stdout_path = os.path.join(self.tmp_dir, "broker-%d.stdout" % self.runs)
        self.log_paths.append(log_path)
        with open(log_path, "wb") as err:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, env=sanitizer_env(), cwd=self.tmp_dir)
        _live_brokers.add(self)
        lines = queue.Queue()
        self._stdout_thread = threading.Thread(target=self._drain_stdout, args=(self.proc, stdout_path, lines),
                                               daemon=True)
        self._stdout_thread.start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                line = None
            if line is not None:
                m = READY_LINE.match(line)
                if m:
                    self.host = m.group(1).strip("[]")
                    self.port = int(m.group(2))
                    if not self.props.get("schema.registry.listeners"):
                        return self
                m = REGISTRY_READY_LINE.match(line)
                if m:
                    self.registry_url = m.group(1)
                    if self.port is not None:
                        return self
                continue
            if self.proc.poll() is not None:
                code = self.proc.returncode
                _live_brokers.discard(self)
                raise BrokerError("broker exited with %s before listening\n%s" % (code, self.log_tail()))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                _live_brokers.discard(self)
                raise BrokerError("broker printed no listening line within %.0fs\n%s" % (timeout, self.log_tail()))

    @staticmethod
    def _drain_stdout(proc, path, lines):
        # Keeps the pipe empty for the whole run so the broker never blocks
        # on stdout; the first lines also go to start() through the queue.
        with open(path, "w") as out:
            for raw in proc.stdout:
                text = raw.decode("utf-8", "replace")
                out.write(text)
                out.flush()
                lines.put(text.rstrip("\n"))
        proc.stdout.close()

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; an exit status other than 0 is recorded as a problem."""
        if not self.is_running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.problems.append("run %d: broker did not exit within %.0fs of SIGTERM (killed)" % (self.runs, timeout))
            code = self.proc.returncode
        else:
            if code != 0:
                self.problems.append("run %d: broker exited with status %s after SIGTERM" % (self.runs, code))
        self._finish_run()
        return code

    def kill9(self):
        if not self.is_running():
            raise BrokerError("broker is not running (exit status %s)" % (self.proc.returncode if self.proc else None))
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._finish_run()

    def restart(self, timeout=STARTUP_TIMEOUT):
        """Clean stop (when running), then start again over the same data directory."""
        if self.is_running():
            self.stop()
        return self.start(timeout=timeout)

    def _finish_run(self):
        _live_brokers.discard(self)
        if self._stdout_thread is not None:
            self._stdout_thread.join(timeout=5)
            self._stdout_thread = None

    # -- logs ----------------------------------------------------------------

    def log_text(self, run=None):
        """stderr of one run (1-based; default the latest)."""
        path = self.log_paths[(run or len(self.log_paths)) - 1]
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, lines=25):
        if not self.log_paths:
            return ""
        text = self.log_text().splitlines()
        return "--- broker stderr (last %d lines) ---\n%s" % (lines, "\n".join(text[-lines:]))

    def sanitizer_reports(self):
        reports = []
        for path in self.log_paths:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            lines = text.splitlines()
            for i, line in enumerate(lines):
                if any(m in line for m in SANITIZER_MARKERS):
                    excerpt = "\n".join(lines[max(0, i - 2):i + 40])
                    reports.append("%s:\n%s" % (os.path.basename(path), excerpt))
                    break
        return reports

    def close(self):
        """Stops the broker if running; returns the list of problems found."""
        if self.is_running():
            self.stop()
        return list(self.problems) + ["sanitizer report in " + r for r in self.sanitizer_reports()]

    def remove_tmp(self):
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


class BrokerTestCase(unittest.TestCase):
    """Base class: start_broker() starts a broker that is checked and cleaned up."""

    broker_props = {}

    def start_broker(self, args=(), **props):
        """props: Kafka properties, with '_' for '.' (log_segment_bytes=...);
        args: further command-line arguments."""
        merged = dict(self.broker_props)
        merged.update({k.replace("_", "."): v for k, v in props.items()})
        broker = Broker(merged, args=args)
        self._brokers.append(broker)
        self.addCleanup(self._check_broker, broker)
        broker.start()
        return broker

    def _check_broker(self, broker):
        problems = broker.close()
        if problems:
            self.fail("broker in %s:\n%s" % (broker.tmp_dir, "\n".join(problems)))

    def run(self, result=None):
        self._brokers = []
        before = _failure_count(result)
        outcome = super().run(result)
        failed = result is not None and _failure_count(result) > before
        for broker in self._brokers:
            if failed or keep_tmp_requested():
                sys.stdout.write("      broker directory kept: %s\n" % broker.tmp_dir)
                if failed and broker.log_paths:
                    sys.stdout.write(_indent(broker.log_tail(), "      ") + "\n")
                sys.stdout.flush()
            else:
                broker.remove_tmp()
        return outcome

    def wait_until(self, predicate, timeout, what, interval=0.1):
        """Polls predicate() until it returns a true value; fails after timeout."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                self.fail("timed out after %.0fs waiting for %s" % (timeout, what))
            time.sleep(interval)


def _failure_count(result):
    if result is None:
        return 0
    return len(result.failures) + len(result.errors) + len(getattr(result, "unexpectedSuccesses", []))


def _indent(text, prefix="    "):
    return "\n".join(prefix + line for line in text.splitlines())


def run_process(args, timeout, input=None, env=None, cwd=None):
    """Runs a client process with a hard timeout; returns CompletedProcess (bytes)."""
    try:
        return subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              env=env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s did not finish within %ss\nstdout: %r\nstderr: %r"
                             % (" ".join(args), timeout, (e.stdout or b"")[-2000:], (e.stderr or b"")[-2000:]))


# -- on-disk record batches ---------------------------------------------------

# Record batch v2 header as stored in a segment file (big-endian):
#   offset size field
#    0     8    baseOffset
#    8     4    batchLength (bytes after this field)
#   12     4    partitionLeaderEpoch
#   16     1    magic
#   17     4    crc (CRC-32C of attributes .. end)
#   21     2    attributes (bits 0-2 codec)
#   23     4    lastOffsetDelta
#   27     8    baseTimestamp
#   35     8    maxTimestamp
#   43     8    producerId
#   51     2    producerEpoch
#   53     4    baseSequence
#   57     4    recordsCount
#   61          records
BATCH_HEADER = struct.Struct(">qiibIhiqqqhii")
BATCH_HEADER_SIZE = BATCH_HEADER.size  # 61

CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def partition_dir(data_dir, topic, partition=0):
    return os.path.join(data_dir, "%s-%d" % (topic, partition))


def segment_files(data_dir, topic, partition=0):
    d = partition_dir(data_dir, topic, partition)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d) if re.fullmatch(r"\d{20}\.log", n))


def read_batches(path):
    """Headers of the whole batches in a segment file, each a dict with its file position and size."""
    with open(path, "rb") as f:
        data = f.read()
    batches = []
    pos = 0
    while pos + BATCH_HEADER_SIZE <= len(data):
        (base_offset, length, leader_epoch, magic, crc, attributes, last_offset_delta, base_ts, max_ts,
         producer_id, producer_epoch, base_sequence, count) = BATCH_HEADER.unpack_from(data, pos)
        size = 12 + length
        if length < BATCH_HEADER_SIZE - 12 or pos + size > len(data):
            break
        batches.append(dict(position=pos, size=size, base_offset=base_offset, magic=magic, crc=crc,
                            attributes=attributes, codec=attributes & 7, last_offset=base_offset + last_offset_delta,
                            base_timestamp=base_ts, max_timestamp=max_ts, producer_id=producer_id,
                            producer_epoch=producer_epoch, base_sequence=base_sequence, records_count=count))
        pos += size
    return batches


# -- confluent_kafka helpers ------------------------------------------------------

def client_config(bootstrap, **extra):
    """Short timeouts everywhere so a broken broker fails a test quickly."""
    conf = {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": 10000,
        "socket.connection.setup.timeout.ms": 10000,
        "topic.metadata.refresh.interval.ms": 5000,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": 1000,
    }
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return conf


def produce(bootstrap, topic, records, timeout=30, flush_each=False, **conf):
    """Produces records (dicts with value and optional key, partition, timestamp,
    headers) and returns the delivery reports as (partition, offset) in the
    order the records were given. Raises if any delivery failed."""
    from confluent_kafka import Producer
    conf = {k.replace("_", "."): v for k, v in conf.items()}
    conf.setdefault("acks", "all")
    conf.setdefault("message.timeout.ms", int(timeout * 1000))
    conf.setdefault("linger.ms", 5)
    producer = Producer(client_config(bootstrap, **conf))
    reports = [None] * len(records)
    errors = []

    def on_delivery(index):
        def cb(err, msg):
            if err is not None:
                errors.append((index, err))
            else:
                reports[index] = (msg.partition(), msg.offset())
        return cb

    deadline = time.monotonic() + timeout
    for i, r in enumerate(records):
        kwargs = {k: r[k] for k in ("key", "partition", "timestamp", "headers") if r.get(k) is not None}
        while True:
            try:
                producer.produce(topic, r.get("value"), on_delivery=on_delivery(i), **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
                if time.monotonic() > deadline:
                    raise AssertionError("producer queue stayed full for %ss" % timeout)
        if flush_each:
            producer.flush(max(0.1, deadline - time.monotonic()))
        producer.poll(0)
    left = producer.flush(max(0.1, deadline - time.monotonic()))
    if left:
        raise AssertionError("%d of %d records not delivered within %ss" % (left, len(records), timeout))
    if errors:
        raise AssertionError("delivery failed for %d records, first: record %d: %s" % (len(errors), *errors[0]))
    return reports


class Record:
    """A consumed record, comparable field by field."""

    __slots__ = ("partition", "offset", "key", "value", "timestamp", "timestamp_type", "headers")

    def __init__(self, partition, offset, key, value, timestamp=None, timestamp_type=None, headers=None):
        self.partition, self.offset, self.key, self.value = partition, offset, key, value
        self.timestamp, self.timestamp_type, self.headers = timestamp, timestamp_type, headers

    def __repr__(self):
        return "Record(p=%s, o=%s, k=%r, v=%r, ts=%s)" % (self.partition, self.offset, self.key,
                                                         _short(self.value), self.timestamp)


def _short(v):
    if v is not None and len(v) > 40:
        return v[:40] + b"..."
    return v


def consume(bootstrap, topic, partition=0, offset=None, min_count=0, timeout=30, **conf):
    """Reads a partition from `offset` (default: the beginning) until it has at
    least min_count records and has reached the end of the partition. Uses
    assign(), never a group subscription."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition, OFFSET_BEGINNING
    cfg = client_config(bootstrap, **{
        "group.id": "strand-e2e-assign",  # required by the client, no group is joined
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "error",
        "fetch.wait.max.ms": 100,
        "api.version.request.timeout.ms": 10000,
    })
    cfg.update({k.replace("_", "."): v for k, v in conf.items()})
    consumer = Consumer(cfg)
    records = []
    try:
        consumer.assign([TopicPartition(topic, partition, OFFSET_BEGINNING if offset is None else offset)])
        deadline = time.monotonic() + timeout
        at_end = False
        while not (at_end and len(records) >= min_count):
            if time.monotonic() > deadline:
                raise AssertionError("consuming %s[%d]: %d records after %ss (wanted %d, end reached: %s); last: %r"
                                     % (topic, partition, len(records), timeout, min_count, at_end, records[-3:]))
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_end = True
                    continue
                if msg.topic() is None and not err.fatal():
                    continue  # client-level notices (e.g. no group coordinator)
                raise AssertionError("consuming %s[%d]: %s" % (topic, partition, err))
            at_end = False
            ts_type, ts = msg.timestamp()
            records.append(Record(msg.partition(), msg.offset(), msg.key(), msg.value(), ts, ts_type,
                                  msg.headers()))
    finally:
        consumer.close()
    return records


def admin(bootstrap, **conf):
    from confluent_kafka.admin import AdminClient
    return AdminClient(client_config(bootstrap, **conf))


def create_topic(bootstrap, topic, partitions=1, timeout=15, config=None):
    from confluent_kafka.admin import NewTopic
    client = admin(bootstrap)  # must outlive the futures
    futures = client.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                                       config=config or {})], operation_timeout=timeout,
                                             request_timeout=timeout)
    futures[topic].result(timeout=timeout)


def watermarks(bootstrap, topic, partition=0, timeout=10):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer(client_config(bootstrap, **{"group.id": "strand-e2e-assign", "enable.auto.commit": False}))
    try:
        return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout, cached=False)
    finally:
        c.close()
