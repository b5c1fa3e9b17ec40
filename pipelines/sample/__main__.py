"""``python -m pipelines.sample`` = ``retire-prep sample``."""

import sys

from .cli import cli_sample

raise SystemExit(cli_sample(sys.argv[1:]))
