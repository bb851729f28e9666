"""``python -m evalkit`` runs the command-line interface."""

import sys

from evalkit.cli import main

sys.exit(main())
