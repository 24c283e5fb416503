"""``python -m occlusion``: the ``occlusion`` command line (:mod:`occlusion.cli`)."""
import sys

from .cli import main

sys.exit(main())
