import sys

from streams.emulator.cli import main

sys.exit(main())
