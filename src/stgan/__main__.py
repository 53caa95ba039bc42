"""``python -m stgan``: the command line without an installed console script."""

import sys

from stgan.cli import main

sys.exit(main())
