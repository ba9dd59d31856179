"""`python -m kdial_sim ...`, the same as `kdial sim ...`."""

import sys

from kdial_sim.cli import main

sys.exit(main(sys.argv[1:]))
