"""The dependency direction flows -> tasks -> rnnpipe, checked in a fresh interpreter."""

import subprocess
import sys


def test_library_imports_no_prefect_or_flows():
    script = (
        "import importlib, pkgutil, sys, rnnpipe\n"
        "for module in pkgutil.iter_modules(rnnpipe.__path__):\n"
        "    importlib.import_module('rnnpipe.' + module.name)\n"
        "print(sorted(name for name in ('prefect', 'flows', 'tasks') if name in sys.modules))\n"
    )

    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"
