"""``python -m numdl``: the same command line as ``numdl``."""

import sys

from numdl.cli import main

sys.exit(main())
