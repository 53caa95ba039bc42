"""``python -m stgan.cli ...``: the same as the ``stgan`` command."""

import sys

from stgan.cli import main

sys.exit(main())
