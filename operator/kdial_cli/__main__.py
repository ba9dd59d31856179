import sys

from kdial_cli.main import main

sys.exit(main())
