"""``python -m engine.cli``: the command line, named by $NECESSITY_PROG (default ``necessity``)."""

from engine.cli import run

run()
