"""The HTTP service and CLI of logclass."""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    try:
        return version("logclass")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"
