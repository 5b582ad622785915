"""QA: the CLI shell under hostile conditions (Ctrl-C at awkward times)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Sends SIGINT to itself while cli.main imports a command module (now on demand, when the command
# runs): the seconds-long window (scipy, aiohttp) in which a Ctrl-C used to print a traceback.
_CTRL_C_DURING_IMPORT = """
import os, signal, sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "cli.sim":
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, CtrlC())
sys.argv = ["hlmm", "sim", "--help"]
from cli.main import main
main()
"""


def test_ctrl_c_while_commands_import_is_exit_130_without_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if k != "HLMM_CONFIG"}
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", _CTRL_C_DURING_IMPORT], capture_output=True, text=True,
                          timeout=60, cwd=REPO, env=env)
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "hlmm: interrupted"
    assert proc.stdout == ""
