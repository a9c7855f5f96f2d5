"""``python -m voicelive``: the same as the ``voicelive`` command."""

from voicelive.cli import main

main()
