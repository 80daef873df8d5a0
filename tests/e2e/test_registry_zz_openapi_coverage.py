"""Runs after every other registry module (run_all.py runs modules in file
name order, each in its own process) and reads what they recorded through
registry_client: every operation of openapi/openapi.yaml must have been
exercised in this run, and no response may have failed validation. Also
checks the document itself (every $ref resolves, every schema is valid)."""

import collections
import unittest

try:
    from . import openapi_check, registry_client
except ImportError:  # run from inside tests/e2e
    import openapi_check
    import registry_client


class OpenApiCoverageTest(unittest.TestCase):

    def test_spec_is_a_valid_document(self):
        spec = openapi_check.Spec.load()
        self.assertEqual(openapi_check.check_document(spec), [])

    def test_checker_catches_what_does_not_conform(self):
        """The checker is not vacuous: each kind of deviation is reported."""
        spec = openapi_check.Spec.load()
        v1 = "application/vnd.schemaregistry.v1+json"
        version = b'{"subject":"s","version":1,"id":1,"schema":"\\"int\\""}'
        self.assertEqual(spec.check_response("GET", "/subjects/s/versions/1", 200, v1, version), [])
        self.assertEqual(spec.check_response("GET", "/subjects/a%2Fb/versions/latest", 200, v1, version), [])
        bad = {
            "an extra field": ("GET", "/subjects/s/versions/1", 200, v1,
                               b'{"subject":"s","version":1,"id":1,"schema":"x","extra":1}'),
            "a missing field": ("GET", "/subjects/s/versions/1", 200, v1, b'{"subject":"s","version":1,"id":1}'),
            "a wrong type": ("GET", "/subjects/s/versions/1", 200, v1,
                             b'{"subject":"s","version":"1","id":1,"schema":"x"}'),
            "an undeclared status": ("GET", "/subjects", 409, v1, b'{"error_code":409,"message":"x"}'),
            "an error code not for this status": ("GET", "/subjects/s/versions/1", 404, v1,
                                                  b'{"error_code":40403,"message":"x"}'),
            "another content type": ("GET", "/subjects", 200, "text/plain", b'[]'),
            "a body that is not JSON": ("GET", "/subjects", 200, v1, b'[oops'),
            "an unknown path answered 200": ("GET", "/nope", 200, v1, b'{}'),
            "a known path, another method, answered 404": ("PATCH", "/subjects", 404, v1,
                                                           b'{"error_code":404,"message":"x"}'),
            "a body where none is declared": ("DELETE", "/contexts/.x", 204, v1, b'{}'),
        }
        for what, args in bad.items():
            self.assertTrue(spec.check_response(*args), "the checker let %s through" % what)
        self.assertEqual(spec.match("GET", "/schemas/types")[0], "/schemas/types")
        self.assertEqual(spec.match("GET", "/schemas/ids/7")[0], "/schemas/ids/{id}")
        self.assertEqual(spec.match("GET", "/subjects/s/versions/1/referencedby")[0],
                         "/subjects/{subject}/versions/{version}/referencedby")

    def test_zz_every_operation_exercised_and_every_response_conformed(self):
        spec = openapi_check.Spec.load()
        rec = registry_client.recorder()
        entries = rec.entries()
        if not entries:
            self.skipTest("no registry responses were recorded in this run (%s, run %s)" % (rec.path, rec.run))
        problems = []
        failed = [e for e in entries if e.get("problems")]
        if failed:
            problems.append("%d recorded responses did not conform to openapi.yaml; the first ones:\n%s"
                            % (len(failed), "\n".join("  %s (%s)" % (p, e["path"]) for e in failed[:10]
                                                      for p in e["problems"])))
        seen = collections.Counter((e["method"], e["template"]) for e in entries)
        missing = [op for op in spec.operations() if op not in seen]
        if missing:
            problems.append("operations of openapi.yaml no test exercised (%d responses recorded in %s):\n%s"
                            % (len(entries), rec.path, "\n".join("  %s %s" % op for op in missing)))
        if problems:
            self.fail("\n".join(problems))
        statuses = collections.defaultdict(set)
        for e in entries:
            statuses[(e["method"], e["template"])].add(e["status"])
        no_success = [op for op in spec.operations() if not any(200 <= s < 300 for s in statuses[op])]
        self.assertEqual(no_success, [], "operations exercised only with errors")


if __name__ == "__main__":
    unittest.main()
