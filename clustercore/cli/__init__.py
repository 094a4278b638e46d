"""The ``clustercore`` command line (``pip install 'clustercore[cli]'``): info, ping/check,
bench, demo and a development cluster. Built on the public package only (see docs/cli.md)."""
