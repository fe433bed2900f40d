"""Run the engine CLI from any directory, e.g. from the repo root:
    /usr/bin/python3 inference/engine/main.py bench --device cpu --out bench/results/engine.json"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from openpoa_engine.cli import main  # noqa: E402

sys.exit(main())
