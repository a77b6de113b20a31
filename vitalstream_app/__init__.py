"""The application: what a user runs (the ``vitalstream`` command line, the demo, replays, evaluations and
benchmarks), wired from the components below it.

This is the top floor. It may import every package of the project; no package imports it (the one exception is
the ``python -m vitalstream`` shim, ``vitalstream/__main__.py``). The import contract in ``pyproject.toml``
(``[tool.importlinter]``), checked by ``tests/test_layers.py``, keeps it so.
"""

__all__: list[str] = []
