"""``python -m vitalstream``: a shim onto the command line, the one import from the contract package up into the
application (named as the only exception in the import contract)."""

import sys

from vitalstream_app.cli import main

sys.exit(main())
