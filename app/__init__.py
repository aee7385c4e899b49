"""The HTTP service and CLI of logclass."""

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache  # reading the installed metadata takes ~1 ms of disk and parsing; health asks often
def package_version() -> str:
    try:
        return version("logclass")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
