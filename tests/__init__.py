"""Makes `tests` a regular Python package, so that `python -m tests.emulator…` run from the repository root finds
this folder before any top-level `tests` package an installed library may ship. Cargo (the ecsub-e2e crate that
shares this folder) ignores it."""
