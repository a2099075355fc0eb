"""``python -m nodechat`` runs the ``nodechat`` command."""

from nodechat.cli import main

main()
