"""``python -m replicate.bench``: the same as ``replicate bench``."""

import sys

from . import bench_command

if __name__ == "__main__":
    sys.exit(bench_command(sys.argv[1:]))
