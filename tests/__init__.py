"""Strand's test suites; tests/run_all.py runs them."""
