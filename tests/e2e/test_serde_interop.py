"""Interop with an implementation of Confluent's wire format that no one here
wrote: Confluent's JavaScript serializers (npm @confluentinc/schemaregistry,
AvroSerializer / AvroDeserializer, driven by serde_confluent.js) against the
registry in bin/strand, and Strand's strand-serde command beside them.

- the JS serializer and deserializer agree with each other through Strand's
  registry;
- bytes the JS serializer writes decode with `strand-serde decode` to the same
  JSON;
- bytes `strand-serde encode` writes decode with the JS deserializer;
- both write identical bytes for the same value and schema id."""

import json
import os
import shutil
import tempfile
import unittest

try:
    from . import harness
    from . import test_serde_common as common
except ImportError:  # run from inside tests/e2e
    import harness
    import test_serde_common as common

# Every Avro type JSON can carry without loss in both implementations (longs
# stay within 2^52, the most avsc takes as JavaScript numbers), nested and in unions.
RICH_SCHEMA = {
    "type": "record", "name": "Order", "namespace": "com.example.shop",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "customer", "type": "string"},
        {"name": "quantity", "type": "int"},
        {"name": "price", "type": "double"},
        {"name": "paid", "type": "boolean"},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attributes", "type": {"type": "map", "values": "long"}},
        {"name": "digest", "type": {"type": "fixed", "name": "Digest", "size": 4}},
        {"name": "blob", "type": "bytes"},
        {"name": "address", "type": ["null", {
            "type": "record", "name": "Address",
            "fields": [{"name": "street", "type": "string"}, {"name": "zip", "type": "int"}]}], "default": None},
        {"name": "amount", "type": ["null", "long", "string"], "default": None},
    ],
}

RICH_VALUES = [
    {"id": 1, "customer": "ann", "quantity": 3, "price": 9.75, "paid": True, "note": {"string": "gift"},
     "status": "PAID", "tags": ["a", "b"], "attributes": {"x": 1, "y": -2}, "digest": "\u00de\u00ad\u00be\u00ef",
     "blob": "\u0000\u00ff\u0010", "address": {"com.example.shop.Address": {"street": "Main St", "zip": 12345}},
     "amount": {"long": 4500}},
    {"id": -4503599627370495, "customer": "", "quantity": -2147483648, "price": -0.5, "paid": False, "note": None,
     "status": "NEW", "tags": [], "attributes": {}, "digest": "abcd", "blob": "", "address": None,
     "amount": {"string": "\u00e9t\u00e9 \u2603"}},
    {"id": 4503599627370495, "customer": "\u65e5\u672c", "quantity": 2147483647, "price": 1e300, "paid": True,
     "note": {"string": ""}, "status": "SHIPPED", "tags": ["x" * 300], "attributes": {"": 0},
     "digest": "\u0000\u0000\u0000\u0000", "blob": "b" * 1000, "address": None, "amount": None},
]

KEY_SCHEMA = {"type": "record", "name": "OrderKey", "namespace": "com.example.shop",
              "fields": [{"name": "region", "type": "string"}, {"name": "id", "type": "long"}]}


@unittest.skipIf(common.NODE is None, "node is not installed")
class ConfluentJsInteropTest(unittest.TestCase):
    """One broker serves the module; every test has subjects of its own."""

    broker = None

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(common.CONFLUENT_PACKAGE):
            raise AssertionError("@confluentinc/schemaregistry is not installed: run `npm ci` in tests/e2e")
        cls.tmp = tempfile.mkdtemp(prefix="strand-serde-interop-")
        cls.broker = harness.Broker(common.BROKER_PROPS)
        cls.broker.start()
        cls.url = cls.broker.registry_url

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

    # -- the JS side ------------------------------------------------------------

    def js(self, *args, stdin=b""):
        proc = common.run_js(list(args), stdin)
        if proc.returncode != 0:
            self.fail("serde_confluent.js %s exited with %d:\n%s"
                      % (args[0], proc.returncode, proc.stderr.decode(errors="replace")[-3000:]))
        return proc.stdout

    def js_register(self, subject, schema):
        path = common.write_file(self.tmp, "%s.avsc" % subject, schema)
        return json.loads(self.js("register", "--registry", self.url, "--subject", subject, "--schema", path))["id"]

    def js_serialize(self, topic, values, *extra):
        """The framed bytes of each value, from one run of the JS serializer."""
        out = self.js("serialize", "--registry", self.url, "--topic", topic, "--lines", *extra,
                      stdin="".join(json.dumps(v) + "\n" for v in values))
        return [bytes.fromhex(line) for line in out.decode().split()]

    def js_deserialize(self, topic, datas, *extra):
        out = self.js("deserialize", "--registry", self.url, "--topic", topic, "--lines", *extra,
                      stdin="".join(d.hex() + "\n" for d in datas))
        return [json.loads(line) for line in out.decode().splitlines()]

    # -- the strand-serde side -------------------------------------------------------

    def strand(self, *args, stdin=b""):
        proc = common.run_cli(list(args), stdin)
        self.assertEqual(common.sanitizer_problems(proc.stderr), [], proc.stderr.decode(errors="replace"))
        if proc.returncode != 0:
            self.fail("strand-serde %s exited with %d:\n%s"
                      % (args[0], proc.returncode, proc.stderr.decode(errors="replace")[-3000:]))
        return proc.stdout

    def strand_encode(self, topic, value, *extra):
        return self.strand("encode", "--registry", self.url, "--topic", topic, "--type", "avro", *extra,
                           stdin=json.dumps(value))

    def strand_decode(self, data, *extra):
        return json.loads(self.strand("decode", "--registry", self.url, *extra, stdin=data))

    # -- tests ---------------------------------------------------------------------

    def test_js_round_trip_through_strand_registry(self):
        schema_id = self.js_register("orders-value", RICH_SCHEMA)
        datas = self.js_serialize("orders", RICH_VALUES)
        for data in datas:
            self.assertEqual(data[:5], b"\x00" + schema_id.to_bytes(4, "big"))
        self.assertEqual(self.js_deserialize("orders", datas), RICH_VALUES)
        # use.schema.id names the same schema: the same bytes.
        self.assertEqual(self.js_serialize("orders", RICH_VALUES, "--schema-id", str(schema_id)), datas)

    def test_js_bytes_decode_with_strand(self):
        schema_id = self.js_register("js-orders-value", RICH_SCHEMA)
        for value, data in zip(RICH_VALUES, self.js_serialize("js-orders", RICH_VALUES)):
            self.assertEqual(data[:5], b"\x00" + schema_id.to_bytes(4, "big"))
            self.assertEqual(self.strand_decode(data), value)

    def test_strand_bytes_decode_with_js(self):
        schema = common.write_file(self.tmp, "rich.avsc", RICH_SCHEMA)
        datas = [self.strand_encode("st-orders", value, "--schema", schema) for value in RICH_VALUES]
        self.assertEqual(self.js_deserialize("st-orders", datas), RICH_VALUES)

    def test_identical_bytes_for_the_same_value_and_schema_id(self):
        schema_id = self.js_register("same-value", RICH_SCHEMA)
        schema = common.write_file(self.tmp, "same.avsc", RICH_SCHEMA)
        js_bytes = self.js_serialize("same", RICH_VALUES)
        self.assertEqual(self.js_serialize("same", RICH_VALUES, "--schema-id", str(schema_id)), js_bytes)
        for value, expected in zip(RICH_VALUES, js_bytes):
            self.assertEqual(self.strand_encode("same", value, "--latest"), expected)
            # Registering the same schema again finds the same id: the same bytes.
            self.assertEqual(self.strand_encode("same", value, "--schema", schema), expected)

    def test_keys(self):
        key_id = self.js_register("keyed-key", KEY_SCHEMA)
        key = {"region": "eu-west", "id": 12}
        [js_bytes] = self.js_serialize("keyed", [key], "--key")
        self.assertEqual(js_bytes[:5], b"\x00" + key_id.to_bytes(4, "big"))
        self.assertEqual(self.strand_encode("keyed", key, "--latest", "--key"), js_bytes)
        self.assertEqual(self.strand_decode(js_bytes, "--key"), key)
        self.assertEqual(self.js_deserialize("keyed", [js_bytes], "--key"), [key])

    def test_top_level_bytes_and_primitives(self):
        # Confluent writes a top-level "bytes" schema's value raw, with no
        # length prefix; other primitives are plain Avro binary.
        cases = [("raw", "bytes", "\u0000\u00ffhello", b"\x00\xffhello"),
                 ("text", "string", "h\u00e9", b"\x06h\xc3\xa9"),
                 ("count", "long", -3, b"\x05"),
                 ("ratio", "double", 0.5, b"\x00\x00\x00\x00\x00\x00\xe0\x3f")]
        for topic, avro_type, value, payload in cases:
            with self.subTest(type=avro_type):
                schema_id = self.js_register(topic + "-value", {"type": avro_type})
                [js_bytes] = self.js_serialize(topic, [value])
                self.assertEqual(js_bytes, b"\x00" + schema_id.to_bytes(4, "big") + payload)
                self.assertEqual(self.strand_encode(topic, value, "--latest"), js_bytes)
                self.assertEqual(self.strand_decode(js_bytes), value)
                self.assertEqual(self.js_deserialize(topic, [js_bytes]), [value])

if __name__ == "__main__":
    unittest.main()
