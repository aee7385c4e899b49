"""The records module holds the types every other module shares, so it imports none of them."""

import subprocess
import sys


def test_the_cache_does_not_import_the_pipeline() -> None:
    """``Outcome`` lives with the other records: cache → pipeline → cache is no cycle."""
    code = (
        "import sys, processors.cache, processors.cache_disk\n"
        "from processors.records import Outcome\n"
        "assert 'processors.pipeline' not in sys.modules, 'the cache imported the pipeline'\n"
        "import processors.pipeline\n"
        "assert processors.pipeline.Outcome is Outcome\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
