import sys

from bnnsim.cli import main

sys.exit(main())
