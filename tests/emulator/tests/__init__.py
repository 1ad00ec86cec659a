"""The emulated cloud's own tests: python -m unittest discover -s tests/emulator/tests -t . (from the repository
root; tests/run.sh runs them)."""
