"""``python -m p2psim STUDY.py``: see :mod:`p2psim.cli`."""

import sys

from p2psim.cli import main
from p2psim.commands import register_all

register_all()
sys.exit(main())
