"""``python -m hlmm._selfcheck``: import every module of the library, compiled core included.

Used by CI after a regular (non-editable) install to prove the wheel carries
its compiled extensions and that the library imports without the CLI.
"""
import importlib
import pkgutil
import sys

import hlmm


def main() -> int:
    failed = []
    names = [m.name for m in pkgutil.walk_packages(hlmm.__path__, "hlmm.")]
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # report every broken module, not just the first
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    if "click" in sys.modules:
        failed.append("the library imported click; only cli/ may")
    for line in failed:
        print(f"selfcheck: FAIL {line}")
    print(f"selfcheck: {len(names) - len(failed)}/{len(names)} modules import")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
