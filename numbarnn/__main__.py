"""``python -m numbarnn``: the same as the ``numbarnn`` command.

This entry point is the one place the library reaches the CLI package; nothing
else in ``numbarnn`` imports Click.
"""
from numbarnn_cli.main import main

if __name__ == "__main__":
    main()
