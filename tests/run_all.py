"""Runs Strand's tests: every unit test binary, then the end-to-end suite.

    /usr/bin/python3 tests/run_all.py --out build/sanitize [--only unit|e2e] [-k PATTERN]

Unit tests are the Check programs <out>/tests/test_*; their summary line
("NN%: Checks: N, Failures: F, Errors: E") gives the counts, and a program
that crashes or exits non-zero without one counts as a failure. End-to-end
tests are the unittest modules tests/e2e/test_*.py, run against
<out>/bin/strand (STRAND_BIN), each module in its own process with a time
limit so that a hung client or broker cannot stall the run. The last line is
"N passed, N failed" (plus ", N skipped" when some were skipped); the exit
status is 1 when anything failed.
"""

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
E2E_DIR = os.path.join(HERE, "e2e")

UNIT_TIMEOUT = float(os.environ.get("STRAND_UNIT_TIMEOUT", "300"))
E2E_MODULE_TIMEOUT = float(os.environ.get("STRAND_E2E_MODULE_TIMEOUT", "180"))

CHECK_SUMMARY = re.compile(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")
CHECK_PROBLEM = re.compile(r"^[^:\s]+:\d+:[EF]:")


def say(text=""):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def fail(self, name, count=1):
        self.failed += count
        self.failures.append(name)

    def summary(self):
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        return line


# -- unit tests ----------------------------------------------------------------

def unit_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    # Sanitized code runs several times slower than Check's 4 s default allows for.
    env.setdefault("CK_TIMEOUT_MULTIPLIER", "4")
    return env


def run_unit(out_dir, tally):
    binaries = sorted(p for p in glob.glob(os.path.join(out_dir, "tests", "test_*"))
                      if os.path.isfile(p) and os.access(p, os.X_OK))
    say("== unit tests (%d programs in %s)" % (len(binaries), os.path.join(out_dir, "tests")))
    for path in binaries:
        name = os.path.basename(path)
        start = time.monotonic()
        try:
            proc = subprocess.run([path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=unit_env(),
                                  cwd=REPO_ROOT, timeout=UNIT_TIMEOUT)
            output, code = proc.stdout.decode("utf-8", "replace"), proc.returncode
        except subprocess.TimeoutExpired as e:
            output, code = (e.stdout or b"").decode("utf-8", "replace"), None
        elapsed = time.monotonic() - start
        checks = failures = 0
        found = False
        for m in CHECK_SUMMARY.finditer(output):
            found = True
            checks += int(m.group(2))
            failures += int(m.group(3)) + int(m.group(4))
        if code is None:
            say("FAIL  unit %s: no result within %.0fs" % (name, UNIT_TIMEOUT))
            tally.passed += max(0, checks - failures)
            tally.fail("unit " + name, max(1, failures))
            say(indent(tail(output, 30)))
            continue
        if not found:
            say("FAIL  unit %s: exited with %s without a Check summary (%.1fs)" % (name, describe_exit(code), elapsed))
            say(indent(tail(output, 30)))
            tally.fail("unit " + name)
            continue
        tally.passed += checks - failures
        if failures:
            tally.fail("unit " + name, failures)
        if code != 0 and failures == 0:
            # All checks passed yet the program failed: a sanitizer report at exit, say.
            say("FAIL  unit %s: %d checks passed but the program exited with %s" % (name, checks, describe_exit(code)))
            tally.fail("unit " + name)
            say(indent(tail(output, 30)))
        elif failures:
            say("FAIL  unit %s: %d of %d checks failed (%.1fs)" % (name, failures, checks, elapsed))
            problems = [line for line in output.splitlines() if CHECK_PROBLEM.match(line)]
            say(indent("\n".join(problems) if problems else tail(output, 30)))
        else:
            say("ok    unit %s: %d checks (%.1fs)" % (name, checks, elapsed))


def describe_exit(code):
    if code is not None and code < 0:
        try:
            return "signal %s" % signal.Signals(-code).name
        except ValueError:
            return "signal %d" % -code
    return "status %s" % code


def tail(text, lines):
    return "\n".join(text.splitlines()[-lines:])


def indent(text, prefix="      "):
    return "\n".join(prefix + line for line in text.splitlines())


# -- end-to-end tests -------------------------------------------------------------

def e2e_modules():
    return sorted("tests.e2e." + os.path.basename(p)[:-3] for p in glob.glob(os.path.join(E2E_DIR, "test_*.py")))


def run_e2e(out_dir, tally, pattern=None):
    strand = os.path.abspath(os.environ.get("STRAND_BIN") or os.path.join(out_dir, "bin", "strand"))
    modules = e2e_modules()
    shown = os.path.relpath(strand, REPO_ROOT) if strand.startswith(REPO_ROOT + os.sep) else strand
    say("== end-to-end tests (%d modules, broker %s)" % (len(modules), shown))
    if not os.access(strand, os.X_OK):
        say("      note: %s does not exist; every broker test will fail" % strand)
    env = dict(os.environ)
    env["STRAND_BIN"] = strand
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    for module in modules:
        run_module(module, env, tally, pattern)


def run_module(module, env, tally, pattern):
    """Runs one module in a child process (its own session, so a timeout kills
    the brokers and clients it started too) and reads its results file."""
    fd, results_path = tempfile.mkstemp(prefix="strand-e2e-results-", suffix=".jsonl")
    os.close(fd)
    cmd = [sys.executable, os.path.abspath(__file__), "--child-module", module, "--results", results_path]
    if pattern:
        cmd += ["-k", pattern]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, start_new_session=True)
    timed_out = False
    try:
        proc.wait(timeout=E2E_MODULE_TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    else:
        # Anything the module left running goes with it.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    planned, done = None, {}
    client_log = ""
    if os.path.exists(results_path + ".stderr"):
        with open(results_path + ".stderr", "rb") as f:
            client_log = f.read().decode("utf-8", "replace")
        os.unlink(results_path + ".stderr")
    try:
        with open(results_path) as f:
            lines = f.readlines()
        os.unlink(results_path)
    except OSError as e:
        say("      cannot read the results of %s: %s" % (module, e))
        lines = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut short by the kill
        if rec["kind"] == "plan":
            planned = rec["tests"]
        else:
            done[rec["test"]] = rec["outcome"]
    for outcome in done.values():
        if outcome == "passed":
            tally.passed += 1
        elif outcome == "skipped":
            tally.skipped += 1
    for test, outcome in done.items():
        if outcome == "failed":
            tally.fail(test)
    missing = [t for t in planned or [] if t not in done]
    short = module.rsplit(".", 1)[1]
    abnormal = timed_out or planned is None or (proc.returncode != 0 and (missing or "failed" not in done.values()))
    if abnormal and client_log.strip():
        say(indent("--- stderr of the test process (last 40 lines) ---\n" + tail(client_log, 40)))
    if planned is None and not timed_out:
        say("FAIL  %s: no results (test process exited with %s)" % (short, describe_exit(proc.returncode)))
        tally.fail(module + " (no results)")
    elif timed_out:
        say("FAIL  %s: module killed after %.0fs; %d tests did not finish" % (short, E2E_MODULE_TIMEOUT, len(missing)))
        for t in missing:
            tally.fail(t + " (not finished: module timed out)")
        if not missing:
            tally.fail(module + " (timed out)")
    elif proc.returncode != 0 and (missing or "failed" not in done.values()):
        # An import error, a crash of the test process itself, or a failure
        # outside any test (setUpModule, tearDownClass).
        say("FAIL  %s: test process exited with %s" % (short, describe_exit(proc.returncode)))
        for t in missing:
            tally.fail(t + " (not run)")
        if not missing:
            tally.fail(module)
    say("      %s finished in %.1fs" % (short, time.monotonic() - start))


class ProgressResult(unittest.TextTestResult):
    """Prints one line per test as it ends and appends it to the results file."""

    def __init__(self, stream, descriptions, verbosity, results_file=None, client_log=None):
        super().__init__(stream, descriptions, 0)
        self.results_file = results_file
        self.client_log = client_log  # where this process's stderr goes (client libraries log there)
        self.started = {}
        self.log_start = {}
        self.outcomes = {}

    def client_output(self, test):
        """What the client libraries printed on stderr during this test."""
        if not self.client_log:
            return ""
        sys.stderr.flush()
        with open(self.client_log, "rb") as f:
            f.seek(self.log_start.get(test.id(), 0))
            text = f.read().decode("utf-8", "replace")
        lines = text.splitlines()
        if not lines:
            return ""
        return "--- client stderr (last %d of %d lines) ---\n%s" % (min(30, len(lines)), len(lines),
                                                                    "\n".join(lines[-30:]))

    @staticmethod
    def name(test):
        return test.id().replace("tests.e2e.", "", 1)

    def startTest(self, test):
        super().startTest(test)
        self.started[test.id()] = time.monotonic()
        if self.client_log:
            self.log_start[test.id()] = os.path.getsize(self.client_log)

    def record(self, test, outcome, detail=None):
        name = self.name(test)
        # A test that failed in its body and again in a cleanup counts once.
        previous = self.outcomes.get(name)
        if previous == "failed":
            if detail:
                say(indent(detail.rstrip()))
            return
        self.outcomes[name] = outcome
        elapsed = time.monotonic() - self.started.get(test.id(), time.monotonic())
        label = {"passed": "ok   ", "failed": "FAIL ", "skipped": "skip "}[outcome]
        text = "%s %s (%.1fs)" % (label, name, elapsed)
        if detail:
            text += "\n" + indent(detail.rstrip())
        if outcome == "failed":
            extra = self.client_output(test)
            if extra:
                text += "\n" + indent(extra)
        say(text)
        if self.results_file:
            with open(self.results_file, "a") as f:
                f.write(json.dumps({"kind": "result", "test": name, "outcome": outcome}) + "\n")

    def addSuccess(self, test):
        super().addSuccess(test)
        self.record(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self.record(test, "failed", self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self.record(test, "failed", self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.record(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.record(test, "passed")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.record(test, "failed", "unexpected success")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self.record(test, "failed", "%s\n%s" % (subtest, self._exc_info_to_string(err, test)))

    # Stock output is replaced by the lines above.
    def printErrors(self):
        pass


def iter_tests(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from iter_tests(item)
        else:
            yield item


def child_main(module, results_path, pattern):
    """Runs one e2e module inside this process (started by run_module)."""
    if REPO_ROOT not in sys.path:
        sys.path.insert(0, REPO_ROOT)
    loader = unittest.TestLoader()
    if pattern:
        loader.testNamePatterns = ["*%s*" % pattern]
    try:
        suite = loader.loadTestsFromName(module)
    except Exception:
        say("FAIL  %s: cannot load\n%s" % (module, indent(traceback.format_exc())))
        return 1
    tests = list(iter_tests(suite))
    # librdkafka and the other clients log to stderr; keep that out of the
    # progress lines and show it only for tests that fail.
    client_log = results_path + ".stderr"
    fd = os.open(client_log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 2)
    os.close(fd)
    with open(results_path, "a") as f:
        f.write(json.dumps({"kind": "plan", "tests": [ProgressResult.name(t) for t in tests]}) + "\n")
    # The runner's own dots and totals go nowhere; ProgressResult prints instead.
    with open(os.devnull, "w") as devnull:
        runner = unittest.TextTestRunner(stream=devnull, verbosity=0,
                                         resultclass=lambda *a, **kw: ProgressResult(*a, results_file=results_path,
                                                                                     client_log=client_log))
        result = runner.run(suite)
    # unittest reports errors in setUpClass/tearDownModule etc. as _ErrorHolder
    # entries that never pass through startTest; count those as failed.
    for holder, trace in result.errors:
        if not isinstance(holder, unittest.TestCase):
            name = str(holder)
            say("FAIL  %s\n%s" % (name, indent(trace.rstrip())))
            with open(results_path, "a") as f:
                f.write(json.dumps({"kind": "result", "test": name, "outcome": "failed"}) + "\n")
    return 0 if result.wasSuccessful() else 1


def main():
    parser = argparse.ArgumentParser(description="Run Strand's unit and end-to-end tests.")
    parser.add_argument("--out", default="build/sanitize", help="build output directory (default build/sanitize)")
    parser.add_argument("--only", choices=("unit", "e2e"), help="run only the unit or only the end-to-end tests")
    parser.add_argument("-k", dest="pattern", help="run only end-to-end tests whose name contains PATTERN")
    parser.add_argument("--child-module", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_module:
        return child_main(args.child_module, args.results, args.pattern)

    out_dir = args.out if os.path.isabs(args.out) else os.path.join(REPO_ROOT, args.out)
    tally = Tally()
    start = time.monotonic()
    if args.only != "e2e":
        run_unit(out_dir, tally)
    if args.only != "unit":
        run_e2e(out_dir, tally, args.pattern)
    say()
    if tally.failures:
        say("failed:")
        for name in tally.failures:
            say("  " + name)
    say("(%.0fs)" % (time.monotonic() - start))
    say(tally.summary())
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
