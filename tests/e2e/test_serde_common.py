"""What the test_serde_* modules share (this module holds no tests): where
the strand-serde command and the example programs of the build under test
are, running them, and Confluent's JavaScript serializers
(serde_confluent.js)."""

import json
import os
import shutil

try:
    from . import harness
except ImportError:  # run from inside tests/e2e
    import harness

NODE = shutil.which("node") or shutil.which("nodejs")
CONFLUENT_JS = os.path.join(harness.E2E_DIR, "serde_confluent.js")
CONFLUENT_PACKAGE = os.path.join(harness.E2E_DIR, "node_modules", "@confluentinc", "schemaregistry")
TIMEOUT = 60

BROKER_PROPS = {"schema.registry.listeners": "http://127.0.0.1:0", "group.initial.rebalance.delay.ms": "0"}


def build_dir():
    """build/sanitize or build/release: the output directory of the build
    whose strand binary the tests run (bin/strand is the release build)."""
    bindir = os.path.dirname(harness.strand_binary())
    out = os.path.dirname(bindir)
    if os.path.normpath(out) == os.path.normpath(harness.REPO_ROOT):
        return os.path.join(harness.REPO_ROOT, "build", "release")
    return out


def strand_serde_binary():
    return os.path.join(os.path.dirname(harness.strand_binary()), "strand-serde")


def example_binary(name):
    return os.path.join(build_dir(), "examples", name)


def write_file(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text if isinstance(text, str) else json.dumps(text))
    return path


def run_cli(args, stdin=b"", timeout=TIMEOUT):
    """Runs strand-serde under the sanitizer options; CompletedProcess (bytes)."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    return harness.run_process([strand_serde_binary()] + list(args), timeout, input=stdin,
                               env=harness.sanitizer_env())


def run_js(args, stdin=b"", timeout=TIMEOUT):
    """Runs serde_confluent.js; CompletedProcess (bytes)."""
    if isinstance(stdin, str):
        stdin = stdin.encode()
    return harness.run_process([NODE, CONFLUENT_JS] + list(args), timeout, input=stdin, cwd=harness.E2E_DIR)


def sanitizer_problems(stderr):
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    return [m for m in harness.SANITIZER_MARKERS if m in text]
