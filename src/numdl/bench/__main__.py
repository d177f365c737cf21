"""``python -m numdl.bench``: the same program as ``numdl bench``."""

import sys

from numdl.bench.driver import main

sys.exit(main())
