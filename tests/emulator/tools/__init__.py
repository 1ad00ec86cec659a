"""Tools that emulate nothing: the venv's setup (setup.sh), the template's lint (lint.py) and a PNG inspector for
the end-to-end tests (look.py)."""
