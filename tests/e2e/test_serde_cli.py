"""The strand-serde command against bin/strand's registry and broker:
encode / decode / validate exit statuses and messages, no output bytes for
an invalid input, --latest, --key, --reader-schema projection, and a
produce / consume round trip through the broker with kcat reading the
framed bytes too.

One broker (with its registry) serves the whole module; every test uses
topics and subjects of its own."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import requests

try:
    from . import harness
    from . import test_serde_common as common
except ImportError:  # run from inside tests/e2e
    import harness
    import test_serde_common as common

KCAT = shutil.which("kcat") or shutil.which("kafkacat")

USER_V1 = {
    "type": "record", "name": "User", "namespace": "com.example",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "age", "type": "int"},
        {"name": "email", "type": ["null", "string"], "default": None},
        {"name": "role", "type": {"type": "enum", "name": "Role", "symbols": ["ADMIN", "USER", "GUEST"]}},
    ],
}
# v2 adds a field with a default: BACKWARD compatible with v1.
USER_V2 = dict(USER_V1, fields=USER_V1["fields"] + [{"name": "country", "type": "string", "default": "NL"}])
# A reader that drops email, adds a defaulted field and knows fewer roles
# (with an enum default for the others).
USER_READER = {
    "type": "record", "name": "User", "namespace": "com.example",
    "fields": [
        {"name": "name", "type": "string"},
        {"name": "age", "type": "long"},
        {"name": "role", "type": {"type": "enum", "name": "Role", "symbols": ["USER", "ADMIN", "OTHER"],
                                  "default": "OTHER"}},
        {"name": "active", "type": "boolean", "default": True},
    ],
}
ANN = {"name": "ann", "age": 41, "email": {"string": "ann@example.com"}, "role": "ADMIN"}
BOB = {"name": "bob", "age": 7, "email": None, "role": "GUEST"}


def framed_id(data):
    assert data[:1] == b"\x00", data[:8]
    return int.from_bytes(data[1:5], "big")


class SerdeCliTest(unittest.TestCase):
    broker = None

    @classmethod
    def setUpClass(cls):
        if not os.access(common.strand_serde_binary(), os.X_OK):
            raise AssertionError("%s is not built" % common.strand_serde_binary())
        cls.tmp = tempfile.mkdtemp(prefix="strand-serde-cli-")
        cls.broker = harness.Broker(common.BROKER_PROPS)
        cls.broker.start()
        cls.url = cls.broker.registry_url
        cls.v1 = common.write_file(cls.tmp, "user-v1.avsc", USER_V1)
        cls.v2 = common.write_file(cls.tmp, "user-v2.avsc", USER_V2)
        cls.reader = common.write_file(cls.tmp, "user-reader.avsc", USER_READER)

    @classmethod
    def tearDownClass(cls):
        problems = cls.broker.close() if cls.broker else []
        if problems or harness.keep_tmp_requested():
            print("      broker directory kept: %s" % cls.broker.tmp_dir)
        else:
            cls.broker.remove_tmp()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if problems:
            raise AssertionError("broker: %s" % "\n".join(problems))

    # -- helpers ---------------------------------------------------------------------

    def cli(self, *args, stdin=b"", status=0, timeout=common.TIMEOUT):
        proc = common.run_cli(args, stdin, timeout=timeout)
        self.assertEqual(common.sanitizer_problems(proc.stderr), [], proc.stderr.decode(errors="replace"))
        if status is not None:
            self.assertEqual(proc.returncode, status, "strand-serde %s: stderr: %s"
                             % (" ".join(args), proc.stderr.decode(errors="replace")))
        return proc

    def fails(self, *args, stdin=b"", status=1, says=()):
        """Runs a command that must fail: the status, no stdout, stderr saying each of `says`."""
        proc = self.cli(*args, stdin=stdin, status=status)
        self.assertEqual(proc.stdout, b"", "output bytes for a failed command")
        err = proc.stderr.decode(errors="replace")
        self.assertTrue(err.strip(), "no message on stderr")
        for text in says:
            self.assertIn(text, err)
        return err

    def encode(self, topic, value, *extra):
        return self.cli("encode", "--registry", self.url, "--topic", topic, "--type", "avro", *extra,
                        stdin=json.dumps(value)).stdout

    def decode(self, data, *extra):
        return json.loads(self.cli("decode", "--registry", self.url, *extra, stdin=data).stdout)

    def registry(self, path):
        r = requests.get(self.url + path, timeout=10)
        r.raise_for_status()
        return r.json()

    # -- encode / decode ------------------------------------------------------------

    def test_encode_decode_round_trip(self):
        data = self.encode("rt", ANN, "--schema", self.v1)
        schema_id = framed_id(data)
        self.assertEqual(self.registry("/subjects/rt-value/versions/latest")["id"], schema_id)
        self.assertEqual(self.decode(data), ANN)
        self.assertEqual(self.decode(data, "--topic", "rt"), ANN)
        # A missing field with a default takes it; the bytes are those of the full value.
        partial = {k: v for k, v in BOB.items() if k != "email"}
        self.assertEqual(self.encode("rt", partial, "--schema", self.v1), self.encode("rt", BOB, "--schema", self.v1))
        self.assertEqual(self.decode(self.encode("rt", partial, "--schema", self.v1)), BOB)
        # Avro binary after the 5-byte prefix: "ann" (06 61 6e 6e), 41 (52), branch 1, the email, ADMIN (00).
        self.assertEqual(data[5:10], b"\x06ann\x52")
        self.assertEqual(data[-1:], b"\x00")

    def test_encode_invalid_value_writes_nothing(self):
        cases = [
            (dict(ANN, age="41"), ".age"),
            (dict(ANN, role="ROOT"), ".role"),
            (dict(ANN, email="bare string for a union"), ".email"),
            ({"name": "ann"}, ".age"),
            (dict(ANN, extra=1), "extra"),
        ]
        for value, path in cases:
            with self.subTest(value=value):
                self.fails("encode", "--registry", self.url, "--topic", "bad", "--schema", self.v1,
                           stdin=json.dumps(value), status=1, says=[path])
        for text in ("", "{", '{"name": "ann"} trailing', "not json"):
            with self.subTest(text=text):
                self.fails("encode", "--registry", self.url, "--topic", "bad", "--schema", self.v1,
                           stdin=text, status=1)

    def test_encode_usage_and_environment_errors(self):
        value = json.dumps(ANN)
        self.fails("encode", "--registry", self.url, "--topic", "e", stdin=value, status=2, says=["--schema"])
        self.fails("encode", "--topic", "e", "--schema", self.v1, stdin=value, status=2, says=["--registry"])
        self.fails("encode", "--registry", self.url, "--topic", "e", "--schema", os.path.join(self.tmp, "missing"),
                   stdin=value, status=2, says=["missing"])
        broken = common.write_file(self.tmp, "broken.avsc", '{"type": "record", "name": "X", "fields": [{"name": 1}]}')
        self.fails("encode", "--registry", self.url, "--topic", "e", "--schema", broken, stdin=value, status=2)
        self.fails("encode", "--registry", self.url, "--topic", "e", "--schema", self.v1, "--type", "xml",
                   stdin=value, status=2, says=["xml"])
        self.fails("encode", "--registry", self.url, "--topic", "e", "--schema", self.v1, "--bogus", "1",
                   stdin=value, status=2, says=["--bogus"])
        # Nothing listens on the registry URL.
        self.fails("encode", "--registry", "http://127.0.0.1:9", "--topic", "e", "--schema", self.v1,
                   "--property", "max.retries=0", stdin=value, status=2)
        # --latest for a subject with no versions.
        self.fails("encode", "--registry", self.url, "--topic", "never-registered", "--latest",
                   stdin=value, status=2, says=["never-registered-value"])

    def test_latest(self):
        id1 = framed_id(self.encode("lt", ANN, "--schema", self.v1))
        self.assertEqual(framed_id(self.encode("lt", ANN, "--latest")), id1)
        # v2 registered: --latest now writes v2 data (country from its default).
        id2 = framed_id(self.encode("lt", dict(ANN, country="DE"), "--schema", self.v2))
        self.assertNotEqual(id1, id2)
        data = self.encode("lt", BOB, "--latest")
        self.assertEqual(framed_id(data), id2)
        self.assertEqual(self.decode(data), dict(BOB, country="NL"))
        # With the client's own schema too: v1 data projected onto the latest (v2).
        data = self.encode("lt", ANN, "--latest", "--schema", self.v1)
        self.assertEqual(framed_id(data), id2)
        self.assertEqual(self.decode(data), dict(ANN, country="NL"))
        # Nothing new was registered by --latest.
        self.assertEqual(self.registry("/subjects/lt-value/versions"), [1, 2])

    def test_key(self):
        key_schema = common.write_file(self.tmp, "key.avsc", '"string"')
        data = self.encode("keyed", "user-1", "--schema", key_schema, "--key")
        subjects = self.registry("/subjects")
        self.assertIn("keyed-key", subjects)
        self.assertNotIn("keyed-value", subjects)
        self.assertEqual(data[5:], b"\x0cuser-1")
        self.assertEqual(self.decode(data, "--key"), "user-1")
        self.assertEqual(framed_id(self.encode("keyed", "user-2", "--latest", "--key")), framed_id(data))

    def test_reader_schema_projection(self):
        data = self.encode("proj", ANN, "--schema", self.v1)
        self.assertEqual(self.decode(data, "--reader-schema", self.reader),
                         {"name": "ann", "age": 41, "role": "ADMIN", "active": True})
        guest = self.encode("proj", BOB, "--schema", self.v1)
        self.assertEqual(self.decode(guest, "--reader-schema", self.reader)["role"], "OTHER")
        # --latest as the reader: v2 registered after the data was written.
        self.encode("proj", dict(ANN, country="BE"), "--schema", self.v2)
        self.assertEqual(self.decode(data, "--topic", "proj", "--latest"), dict(ANN, country="NL"))
        # A reader that cannot read the writer's data: a field with no default.
        strict = dict(USER_READER, fields=USER_READER["fields"] + [{"name": "ssn", "type": "string"}])
        path = common.write_file(self.tmp, "strict.avsc", strict)
        self.fails("decode", "--registry", self.url, "--reader-schema", path, stdin=data, status=2, says=["ssn"])
        self.fails("decode", "--registry", self.url, "--latest", stdin=data, status=2, says=["--topic"])

    def test_decode_invalid_bytes_writes_nothing(self):
        data = self.encode("dec", ANN, "--schema", self.v1)
        self.fails("decode", "--registry", self.url, stdin=b"\x07" + data[1:], status=1, says=["magic"])
        self.fails("decode", "--registry", self.url, stdin=b"", status=1)
        self.fails("decode", "--registry", self.url, stdin=data[:3], status=1)
        # The payload cut short, and a byte too many.
        self.fails("decode", "--registry", self.url, stdin=data[:-3], status=1)
        self.fails("decode", "--registry", self.url, stdin=data + b"\x00", status=1)
        # An id the registry does not know.
        self.fails("decode", "--registry", self.url, stdin=b"\x00\x00\x01\x00\x00" + data[5:], status=2,
                   says=["65536"])

    def test_validate(self):
        validate = ("validate", "--type", "avro", "--schema", self.v1)
        proc = self.cli(*validate, stdin=json.dumps(ANN))
        self.assertEqual((proc.stdout, proc.stderr), (b"", b""))
        self.fails(*validate, stdin=json.dumps(dict(ANN, age=2 ** 40)), status=1, says=[".age"])
        self.fails(*validate, stdin=json.dumps(dict(ANN, role="ROOT")), status=1, says=[".role", "ROOT"])
        self.fails(*validate, stdin="{not json", status=1, says=["JSON"])
        self.fails(*validate, stdin="", status=1)
        self.fails("validate", "--type", "avro", "--schema", os.path.join(self.tmp, "nope.avsc"),
                   stdin="{}", status=2, says=["nope.avsc"])
        broken = common.write_file(self.tmp, "broken2.avsc", '{"type": "enum", "name": "E", "symbols": ["A", "A"]}')
        self.fails("validate", "--type", "avro", "--schema", broken, stdin='"A"', status=2)
        self.fails("validate", "--type", "avro", stdin="{}", status=2, says=["--schema"])
        # The default type is avro; other formats are refused as an error, not as invalid.
        self.cli("validate", "--schema", self.v1, stdin=json.dumps(BOB))
        self.fails("validate", "--type", "protobuf", "--schema", self.v1, stdin="{}", status=2, says=["protobuf"])

    def test_usage(self):
        proc = self.cli("--help")
        self.assertIn(b"encode", proc.stdout)
        self.fails("frobnicate", status=2, says=["frobnicate"])
        self.fails("decode", "--registry", stdin=b"", status=2, says=["--registry"])
        self.fails("encode", "--key=1", status=2, says=["--key"])

    # -- produce / consume -----------------------------------------------------------

    def produce(self, topic, lines, *extra, status=0):
        return self.cli("produce", "--bootstrap-servers", self.broker.bootstrap, "--registry", self.url,
                        "--topic", topic, "--type", "avro", "--schema", self.v1, *extra,
                        stdin="".join(line + "\n" for line in lines), status=status)

    def consume(self, topic, count, *extra, status=0):
        return self.cli("consume", "--bootstrap-servers", self.broker.bootstrap, "--registry", self.url,
                        "--topic", topic, "--from-beginning", "--max-messages", str(count),
                        "--timeout-ms", "30000", *extra, status=status)

    def test_produce_consume_round_trip(self):
        values = [dict(ANN, age=i, name="user-%d" % i) for i in range(20)] + [BOB]
        self.produce("pc", ["user-%d|%s" % (i, json.dumps(v)) for i, v in enumerate(values)],
                     "--key-separator", "|")
        got = self.consume("pc", len(values), "--print-key").stdout.decode().splitlines()
        self.assertEqual([line.split("\t", 1)[0] for line in got], ["user-%d" % i for i in range(len(values))])
        self.assertEqual([json.loads(line.split("\t", 1)[1]) for line in got], values)
        # Without --print-key: the values alone; --reader-schema projects them.
        got = self.consume("pc", 2, "--reader-schema", self.reader).stdout.decode().splitlines()
        self.assertEqual([json.loads(line) for line in got],
                         [{"name": "user-0", "age": 0, "role": "ADMIN", "active": True},
                          {"name": "user-1", "age": 1, "role": "ADMIN", "active": True}])
        schema_id = self.registry("/subjects/pc-value/versions/latest")["id"]
        # The records on the broker are Confluent-framed, as any other client sees them.
        records = harness.consume(self.broker.bootstrap, "pc", 0, min_count=len(values), timeout=30)
        self.assertEqual([r.key for r in records], [b"user-%d" % i for i in range(len(values))])
        for record, value in zip(records, values):
            self.assertEqual(framed_id(record.value), schema_id)
            self.assertEqual(record.value, self.encode("pc", value, "--latest"))

    @unittest.skipIf(KCAT is None, "kcat is not installed")
    def test_kcat_reads_the_framed_bytes(self):
        values = [dict(BOB, age=i) for i in range(5)]
        self.produce("kc", [json.dumps(v) for v in values])
        proc = harness.run_process([KCAT, "-b", self.broker.bootstrap, "-C", "-t", "kc", "-o", "beginning", "-e",
                                    "-q", "-f", "%S %s\n"], common.TIMEOUT)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        out = proc.stdout
        decoded = []
        while out:
            size, rest = out.split(b" ", 1)
            data, out = rest[:int(size)], rest[int(size) + 1:]
            decoded.append(self.decode(data))
        self.assertEqual(decoded, values)
        # Framed bytes written by kcat from strand-serde encode: consumed as JSON.
        data = self.encode("kc", dict(BOB, age=99), "--latest")
        with tempfile.NamedTemporaryFile(dir=self.tmp) as f:
            f.write(data)
            f.flush()
            proc = harness.run_process([KCAT, "-b", self.broker.bootstrap, "-P", "-t", "kc", f.name], common.TIMEOUT)
            self.assertEqual(proc.returncode, 0, proc.stderr)
        got = self.consume("kc", 6).stdout.decode().splitlines()
        self.assertEqual(json.loads(got[-1]), dict(BOB, age=99))

    def test_produce_stops_at_the_first_invalid_line(self):
        lines = [json.dumps(ANN), json.dumps(BOB), json.dumps(dict(ANN, age="x")), json.dumps(BOB)]
        err = self.fails("produce", "--bootstrap-servers", self.broker.bootstrap, "--registry", self.url,
                         "--topic", "stop", "--type", "avro", "--schema", self.v1,
                         stdin="\n".join(lines) + "\n", status=1, says=["line 3", ".age"])
        self.assertNotIn("line 4", err)
        records = harness.consume(self.broker.bootstrap, "stop", 0, min_count=2, timeout=30)
        self.assertEqual(len(records), 2)
        # A line with no key separator is refused the same way.
        self.fails("produce", "--bootstrap-servers", self.broker.bootstrap, "--registry", self.url,
                   "--topic", "stop", "--type", "avro", "--schema", self.v1, "--key-separator", "|",
                   stdin=json.dumps(ANN) + "\n", status=1, says=["line 1", "separator"])

    def test_consume_stops_at_a_record_it_cannot_read(self):
        self.produce("poison", [json.dumps(ANN)])
        harness.produce(self.broker.bootstrap, "poison", [{"value": b"plain text, not framed"}])
        proc = self.consume("poison", 2, status=1)
        self.assertEqual([json.loads(line) for line in proc.stdout.decode().splitlines()], [ANN])
        self.assertIn("offset 1", proc.stderr.decode())

    def test_consume_header_framed_records_and_tombstones(self):
        data = self.encode("hdr", ANN, "--schema", self.v1)
        schema_id = framed_id(data)
        harness.produce(self.broker.bootstrap, "hdr", [
            # The id in the __value_schema_id header, the value unframed.
            {"value": data[5:], "headers": [("__value_schema_id", data[:5])]},
            {"value": None, "key": b"gone"},
            {"value": self.encode("hdr", BOB, "--latest")},
        ])
        got = self.consume("hdr", 3, "--print-key").stdout.decode().splitlines()
        self.assertEqual(got, ["null\t" + json.dumps(ANN, separators=(",", ":")), "gone\tnull",
                               "null\t" + json.dumps(BOB, separators=(",", ":"))])
        self.assertEqual(schema_id, framed_id(self.encode("hdr", BOB, "--latest")))

    def test_produce_with_a_key_schema(self):
        key_schema = common.write_file(self.tmp, "user-key.avsc", {
            "type": "record", "name": "UserKey", "namespace": "com.example",
            "fields": [{"name": "tenant", "type": "string"}, {"name": "n", "type": "int"}]})
        keys = [{"tenant": "acme", "n": i} for i in range(3)]
        self.produce("kk", ["%s\t%s" % (json.dumps(k), json.dumps(BOB)) for k in keys],
                     "--key-separator", "\t", "--key-schema", key_schema)
        subjects = self.registry("/subjects")
        self.assertIn("kk-key", subjects)
        self.assertIn("kk-value", subjects)
        got = self.consume("kk", 3, "--print-key", "--key-type", "avro", "--key-separator", " => ")
        lines = got.stdout.decode().splitlines()
        self.assertEqual([json.loads(line.split(" => ")[0]) for line in lines], keys)
        self.assertEqual([json.loads(line.split(" => ")[1]) for line in lines], [BOB] * 3)
        # An invalid key stops produce like an invalid value.
        self.fails("produce", "--bootstrap-servers", self.broker.bootstrap, "--registry", self.url,
                   "--topic", "kk", "--type", "avro", "--schema", self.v1, "--key-separator", "|",
                   "--key-schema", key_schema, stdin='{"tenant": 1}|%s\n' % json.dumps(BOB),
                   status=1, says=["line 1", "key", ".tenant"])

    def test_formats_not_supported_yet(self):
        for fmt in ("protobuf", "json"):
            with self.subTest(format=fmt):
                self.fails("encode", "--registry", self.url, "--topic", "fmt", "--type", fmt,
                           "--schema", self.v1, stdin=json.dumps(ANN), status=2)
                self.fails("decode", "--registry", self.url, "--type", fmt,
                           stdin=self.encode("fmt", ANN, "--schema", self.v1), status=2)


if __name__ == "__main__":
    unittest.main()
