"""``python -m wheelguard``: the same entry point as the console script."""

from __future__ import annotations

import sys

from wheelguard.cli import main

sys.exit(main())
