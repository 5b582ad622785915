"""The package installs, imports without click, and the CLI answers --version."""
import subprocess
import sys

from hlmm import __version__


def test_selfcheck_imports_every_module_without_click():
    out = subprocess.run(
        [sys.executable, "-m", "hlmm._selfcheck"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "modules import" in out.stdout


def test_cli_version():
    out = subprocess.run(["hlmm", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert __version__ in out.stdout
