"""Packaging beyond pyproject.toml: ship the top-level ``schemas/`` inside the package as ``streams.schemas``.

``schemas/`` stays the one source (producers read it from the repository); pyproject.toml cannot both
find the packages and map a folder outside ``streams/`` into one of them, so this does.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["streams*"]), "streams.schemas"],
    package_dir={"streams.schemas": "schemas"},
)
