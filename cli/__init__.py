"""The ``numbarnn`` command line (installed as the package ``numbarnn_cli``)."""
