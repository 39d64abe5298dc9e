"""``python -m replicate.simulate STUDY.yaml [--out DIR] [--scheduler ADDRESS] [--workers N]``."""

import sys

from .cli import main_simulate

if __name__ == "__main__":
    sys.exit(main_simulate())
