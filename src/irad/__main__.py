import sys

from irad.cli.main import main

sys.exit(main())
