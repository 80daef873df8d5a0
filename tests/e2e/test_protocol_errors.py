"""Hand-built Kafka frames over raw sockets: the inputs no real client sends.
Unknown API keys, unsupported versions, oversized and negative size
prefixes, truncated and malformed bodies, corrupt record batches. The broker
must answer or close that one connection, never hang or crash, and keep
serving every other connection."""

import socket
import struct
import time
import unittest

try:
    from . import harness
except ImportError:  # run from inside tests/e2e
    import harness

IO_TIMEOUT = 5.0
CLIENT_ID = b"strand-e2e"

API_PRODUCE, API_FETCH, API_LIST_OFFSETS, API_METADATA = 0, 1, 2, 3
API_VERSIONS, API_CREATE_TOPICS, API_DELETE_TOPICS, API_INIT_PRODUCER_ID = 18, 19, 20, 22
API_DESCRIBE_CONFIGS = 32
UNSUPPORTED_VERSION = 35
CORRUPT_MESSAGE = 2


# -- encoding --------------------------------------------------------------------

def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def string(s):
    return i16(-1) if s is None else i16(len(s)) + s


def uvarint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def varint(v):
    return uvarint((v << 1) ^ (v >> 63))


def compact_string(s):
    return uvarint(len(s) + 1) + s


def request(api_key, version, correlation_id, body=b"", flexible=False, client_id=CLIENT_ID):
    """A size-prefixed request: header v1, or v2 (with an empty tag section) when flexible."""
    header = i16(api_key) + i16(version) + i32(correlation_id) + string(client_id)
    if flexible:
        header += b"\x00"
    payload = header + body
    return i32(len(payload)) + payload


def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


CRC32C_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = CRC32C_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def record_batch(values, timestamp_ms):
    """A magic-2 batch of uncompressed, keyless records (layout in harness.BATCH_HEADER)."""
    records = b""
    for i, value in enumerate(values):
        body = i8(0) + varint(0) + varint(i) + varint(-1) + varint(len(value)) + value + varint(0)
        records += varint(len(body)) + body
    after_crc = (i16(0) + i32(len(values) - 1) + i64(timestamp_ms) + i64(timestamp_ms) + i64(-1) + i16(-1)
                 + i32(-1) + i32(len(values)) + records)
    after_length = i32(-1) + i8(2) + struct.pack(">I", crc32c(after_crc)) + after_crc
    return i64(0) + i32(len(after_length)) + after_length


def produce_v3_body(topic, partition, records, acks=-1):
    return (string(None) + i16(acks) + i32(10000) + i32(1) + string(topic) + i32(1) + i32(partition)
            + i32(len(records)) + records)


# -- decoding --------------------------------------------------------------------

class Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise AssertionError("response truncated at byte %d (wanted %d more of %d)" % (self.pos, n, len(self.data)))
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n)

    def uvarint(self):
        shift = value = 0
        while True:
            b = self.take(1)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def at_end(self):
        return self.pos == len(self.data)


# -- connections -----------------------------------------------------------------

class Connection:
    def __init__(self, broker):
        self.sock = socket.create_connection((broker.host, broker.port), timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _read_exactly(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except socket.timeout:
                raise AssertionError("no response within %.0fs (%d of %d bytes)" % (IO_TIMEOUT, len(buf), n))
            if not chunk:
                raise AssertionError("connection closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return buf

    def read_response(self, correlation_id):
        """The next response frame; checks its correlation id; returns the rest (v0 header read)."""
        size = struct.unpack(">i", self._read_exactly(4))[0]
        if not 4 <= size <= 64 * 1024 * 1024:
            raise AssertionError("response size %d" % size)
        r = Reader(self._read_exactly(size))
        got = r.i32()
        if got != correlation_id:
            raise AssertionError("correlation id %d, expected %d" % (got, correlation_id))
        return r

    def response_or_close(self):
        """'closed' when the broker closes the connection, else the bytes it sent."""
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise AssertionError("the broker neither answered nor closed the connection within %.0fs" % IO_TIMEOUT)
        except ConnectionResetError:
            return "closed"
        return "closed" if not data else data

    def api_versions(self, correlation_id=1):
        self.send(request(API_VERSIONS, 0, correlation_id))
        return parse_api_versions_v0(self.read_response(correlation_id))


def parse_api_versions_v0(r):
    error = r.i16()
    versions = {}
    for _ in range(r.i32()):
        key, lo, hi = r.i16(), r.i16(), r.i16()
        versions[key] = (lo, hi)
    if not r.at_end():
        raise AssertionError("%d bytes after the v0 ApiVersions body" % (len(r.data) - r.pos))
    return error, versions


class ProtocolErrorsTest(harness.BrokerTestCase):

    broker_props = {"socket.request.max.bytes": 1048576}

    def setUp(self):
        self.broker = self.start_broker()
        self.conns = []
        # Stays open through each test; must still work at its end.
        self.bystander = self.connect()
        self.assertEqual(self.bystander.api_versions(1)[0], 0)

    def tearDown(self):
        if self.broker.is_running():
            error, versions = self.bystander.api_versions(999)
            self.assertEqual(error, 0)
        self.assertTrue(self.broker.is_running(), "broker died (exit status %s)\n%s"
                        % (self.broker.proc.returncode, self.broker.log_tail()))
        for c in self.conns:
            c.close()

    def connect(self):
        c = Connection(self.broker)
        self.conns.append(c)
        return c

    def assert_serving(self):
        """A new connection gets answers, and so does the long-lived one."""
        self.assertTrue(self.broker.is_running(), "broker died\n" + self.broker.log_tail())
        self.assertEqual(self.connect().api_versions(77)[0], 0)
        self.assertEqual(self.bystander.api_versions(78)[0], 0)

    def assert_closed(self, conn, what):
        outcome = conn.response_or_close()
        self.assertEqual(outcome, "closed", "%s: expected the connection to be closed, got %r" % (what, outcome))

    # -- well-formed requests the clients depend on -------------------------------

    def test_api_versions_v0_advertises_what_clients_need(self):
        error, versions = self.connect().api_versions(5)
        self.assertEqual(error, 0)
        need = {API_VERSIONS: (0, 3), API_METADATA: (0, 4), API_PRODUCE: (3, 7), API_FETCH: (4, 11),
                API_LIST_OFFSETS: (1, 2), API_CREATE_TOPICS: (0, 4)}
        for key, (lo, hi) in need.items():
            self.assertIn(key, versions)
            self.assertLessEqual(versions[key][0], lo, "api %d min" % key)
            self.assertGreaterEqual(versions[key][1], hi, "api %d max" % key)
        for key in (API_DELETE_TOPICS, API_DESCRIBE_CONFIGS, API_INIT_PRODUCER_ID):
            self.assertIn(key, versions)

    def test_api_versions_v3_flexible_request(self):
        # librdkafka's opening request: header v2, compact strings, tags; the
        # response header stays v0 while the body is flexible.
        conn = self.connect()
        body = compact_string(b"strand-e2e") + compact_string(b"1.0") + b"\x00"
        conn.send(request(API_VERSIONS, 3, 11, body, flexible=True))
        r = conn.read_response(11)
        self.assertEqual(r.i16(), 0)
        versions = {}
        for _ in range(r.uvarint() - 1):
            key, lo, hi = r.i16(), r.i16(), r.i16()
            r.skip_tags()
            versions[key] = (lo, hi)
        r.i32()  # throttle_time_ms
        r.skip_tags()
        self.assertTrue(r.at_end(), "trailing bytes after the ApiVersions v3 body")
        self.assertEqual(versions[API_VERSIONS][0], 0)
        self.assertGreaterEqual(versions[API_VERSIONS][1], 3)

    def test_pipelined_api_versions_and_metadata(self):
        # kafka-python's probe: ApiVersions v0 and Metadata v0 sent back to back.
        conn = self.connect()
        conn.send(request(API_VERSIONS, 0, 21) + request(API_METADATA, 0, 22, i32(0)))
        self.assertEqual(parse_api_versions_v0(conn.read_response(21))[0], 0)
        r = conn.read_response(22)
        brokers = [(r.i32(), r.string(), r.i32()) for _ in range(r.i32())]
        self.assertEqual(len(brokers), 1, brokers)
        self.assertEqual(brokers[0][1:], (self.broker.host.encode(), self.broker.port))
        self.assertGreaterEqual(r.i32(), 0)  # topic count

    def test_acks_0_produce_gets_no_response(self):
        harness.create_topic(self.broker.bootstrap, "raw-acks0")
        conn = self.connect()
        batch = record_batch([b"fire and forget"], int(time.time() * 1000))
        conn.send(request(API_PRODUCE, 3, 31, produce_v3_body(b"raw-acks0", 0, batch, acks=0))
                  + request(API_VERSIONS, 0, 32))
        # The first response on the wire answers the ApiVersions request.
        self.assertEqual(parse_api_versions_v0(conn.read_response(32))[0], 0)
        got = harness.consume(self.broker.bootstrap, "raw-acks0", min_count=1, timeout=15)
        self.assertEqual([(r.offset, r.value) for r in got], [(0, b"fire and forget")])

    # -- version and key errors ----------------------------------------------------

    def test_unsupported_api_versions_version(self):
        conn = self.connect()
        body = compact_string(b"strand-e2e") + compact_string(b"99.0") + b"\x00"
        conn.send(request(API_VERSIONS, 99, 41, body, flexible=True))
        error, versions = parse_api_versions_v0(conn.read_response(41))
        self.assertEqual(error, UNSUPPORTED_VERSION)
        self.assertIn(API_VERSIONS, versions)
        self.assertEqual(versions[API_VERSIONS][0], 0)
        self.assertGreaterEqual(versions[API_VERSIONS][1], 3)
        # The client retries with a version from the list, on the same connection.
        self.assertEqual(conn.api_versions(42)[0], 0)
        self.assert_serving()

    def test_unknown_api_key(self):
        cases = [("api key 4242", 4242, 0), ("unimplemented api key 25", 25, 0), ("Produce v99", API_PRODUCE, 99),
                 ("negative api key", -3, 0)]
        for what, key, version in cases:
            with self.subTest(what):
                conn = self.connect()
                conn.send(request(key, version, 51, b"\x00" * 16))
                outcome = conn.response_or_close()
                if outcome != "closed":
                    # Answered: the answer is for this request, and the connection still works.
                    self.assertGreaterEqual(len(outcome), 8)
                    size, correlation_id = struct.unpack(">ii", outcome[:8])
                    self.assertEqual(correlation_id, 51)
                    if len(outcome) < 4 + size:
                        conn._read_exactly(4 + size - len(outcome))
                    self.assertEqual(conn.api_versions(52)[0], 0)
                self.assert_serving()

    # -- frame sizes -----------------------------------------------------------------

    def test_frame_larger_than_socket_request_max_bytes(self):
        for what, size in (("100 MB", 100 * 1024 * 1024), ("twice the limit", 2 * 1048576),
                           ("largest int32", 0x7FFFFFFF)):
            with self.subTest(what):
                conn = self.connect()
                conn.send(i32(size) + request(API_VERSIONS, 0, 61)[4:] + b"\x00" * 1000)
                self.assert_closed(conn, "size prefix of %d bytes" % size)
                self.assert_serving()

    def test_negative_and_zero_size_prefix(self):
        for size in (-1, -2147483648, 0):
            with self.subTest(size=size):
                conn = self.connect()
                conn.send(i32(size) + b"\x00" * 16)
                self.assert_closed(conn, "size prefix %d" % size)
                self.assert_serving()

    def test_request_just_under_the_limit_is_served(self):
        # A big but allowed Produce (900 KB) is accepted on the same broker.
        harness.create_topic(self.broker.bootstrap, "raw-big")
        conn = self.connect()
        value = bytes(i % 251 for i in range(900 * 1024))
        conn.send(request(API_PRODUCE, 3, 71, produce_v3_body(b"raw-big", 0,
                                                              record_batch([value], int(time.time() * 1000)))))
        partitions = self.parse_produce_v3(conn.read_response(71))
        self.assertEqual(partitions, [(b"raw-big", 0, 0, 0)])
        got = harness.consume(self.broker.bootstrap, "raw-big", min_count=1, timeout=15)
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0].value, value)

    # -- malformed requests ------------------------------------------------------------

    def test_truncated_and_malformed_requests_close_the_connection(self):
        cases = [
            ("header cut short", i32(3) + b"\x00\x12\x00"),
            ("client id longer than the frame", i32(10) + i16(API_VERSIONS) + i16(0) + i32(81) + i16(30000)),
            ("metadata v1 with a million topics and no bytes", request(API_METADATA, 1, 82, i32(1000000))),
            ("metadata v1 topic name past the end", request(API_METADATA, 1, 83, i32(1) + i16(500) + b"abc")),
            ("api versions v3 with a runaway varint", request(API_VERSIONS, 3, 84, b"\xff" * 12, flexible=True)),
            ("produce v3 cut inside the topic array",
             request(API_PRODUCE, 3, 85, string(None) + i16(-1) + i32(1000) + i32(1) + string(b"t") + i32(5))),
            ("produce v3 records longer than the frame",
             request(API_PRODUCE, 3, 86, produce_v3_body(b"t", 0, b"")[:-4] + i32(4096) + b"\x00" * 10)),
            ("fetch v4 with a negative topic count",
             request(API_FETCH, 4, 87, i32(-1) + i32(100) + i32(1) + i32(1024) + i8(0) + i32(-5))),
        ]
        for what, data in cases:
            with self.subTest(what):
                conn = self.connect()
                conn.send(data)
                self.assert_closed(conn, what)
                self.assert_serving()

    def test_corrupt_record_batch_is_rejected(self):
        harness.create_topic(self.broker.bootstrap, "raw-crc")
        conn = self.connect()
        now = int(time.time() * 1000)
        good = record_batch([b"good one", b"good two"], now)
        conn.send(request(API_PRODUCE, 3, 91, produce_v3_body(b"raw-crc", 0, good)))
        self.assertEqual(self.parse_produce_v3(conn.read_response(91)), [(b"raw-crc", 0, 0, 0)])

        bad = bytearray(record_batch([b"bad one", b"bad two"], now))
        bad[-5] ^= 0xFF  # inside the last value: the CRC no longer matches
        conn.send(request(API_PRODUCE, 3, 92, produce_v3_body(b"raw-crc", 0, bytes(bad))))
        (topic, partition, error, _), = self.parse_produce_v3(conn.read_response(92))
        self.assertEqual((topic, partition, error), (b"raw-crc", 0, CORRUPT_MESSAGE))

        # Nothing of the bad batch was stored; the good one is intact; the log still appends.
        self.assertEqual(harness.watermarks(self.broker.bootstrap, "raw-crc"), (0, 2))
        conn.send(request(API_PRODUCE, 3, 93, produce_v3_body(b"raw-crc", 0, record_batch([b"three"], now))))
        self.assertEqual(self.parse_produce_v3(conn.read_response(93)), [(b"raw-crc", 0, 0, 2)])
        got = harness.consume(self.broker.bootstrap, "raw-crc", min_count=3, timeout=15)
        self.assertEqual([r.value for r in got], [b"good one", b"good two", b"three"])

    def test_idempotent_retry_after_restart_is_not_written_twice(self):
        # An idempotent producer's batch, resent after the broker restarted (a
        # retry whose first response was lost), gets its original offset back
        # and is not appended again: the sequence state is rebuilt from the log.
        sent = [{"value": b"idempotent %d" % i} for i in range(50)]
        harness.produce(self.broker.bootstrap, "raw-idem", sent, **{"enable.idempotence": True})
        segment = harness.segment_files(self.broker.data_dir, "raw-idem")[0]
        last = harness.read_batches(segment)[-1]
        self.assertGreaterEqual(last["producer_id"], 0, "the producer was not idempotent")
        with open(segment, "rb") as f:
            f.seek(last["position"])
            retry = f.read(last["size"])
        self.broker.restart()
        self.bystander = self.connect()  # the old one went with the first run
        conn = self.connect()
        conn.send(request(API_PRODUCE, 3, 95, produce_v3_body(b"raw-idem", 0, retry)))
        self.assertEqual(self.parse_produce_v3(conn.read_response(95)),
                         [(b"raw-idem", 0, 0, last["base_offset"])])
        self.assertEqual(harness.watermarks(self.broker.bootstrap, "raw-idem"), (0, 50))

    @staticmethod
    def parse_produce_v3(r):
        """[(topic, partition, error_code, base_offset)] of a Produce v3 response."""
        out = []
        for _ in range(r.i32()):
            topic = r.string()
            for _ in range(r.i32()):
                partition, error, base_offset = r.i32(), r.i16(), r.i64()
                r.i64()  # log_append_time
                out.append((topic, partition, error, base_offset))
        r.i32()  # throttle_time_ms
        if not r.at_end():
            raise AssertionError("trailing bytes after the Produce v3 response")
        return out


if __name__ == "__main__":
    unittest.main()
