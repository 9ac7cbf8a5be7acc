"""The Avro schemas, installed inside the package as ``streams.schemas`` (see setup.py): read with
``importlib.resources`` so an installed wheel needs no path or environment variable to find them."""
