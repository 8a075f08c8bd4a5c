"""``python -m p2psim STUDY.py``: see :mod:`p2psim.cli`."""

import sys

from p2psim.cli import main
from p2psim.cli.commands import register_all

if __name__ == "__main__":  # guarded: worker processes re-import the main module
    register_all()
    sys.exit(main())
