"""``python -m numdl``: the same command line as ``numdl``."""

import sys

from numdl.app.cli import main

sys.exit(main())
