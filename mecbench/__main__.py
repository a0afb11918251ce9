import sys

from mecbench.cli.main import main

sys.exit(main())
