"""QA fix: an include that cannot be read names the file and line that included it.

``sub/m.toml`` with ``include = ["frag.toml"]`` and no ``sub/frag.toml`` said only
``config file not found: sub/frag.toml``; with several config files that include fragments,
the user could not tell which one to fix.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from hlmm.config import load_config
from hlmm.errors import ConfigError, ExitCode


def _main(tmp_path: Path, text: str) -> Path:
    (tmp_path / "sub").mkdir(exist_ok=True)
    main = tmp_path / "sub" / "m.toml"
    main.write_text(text, encoding="utf-8")
    return main


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return str(info.value)


def test_a_missing_include_names_the_including_file_and_line(tmp_path):
    main = _main(tmp_path, '# main config\n\ninclude = ["frag.toml"]\n[strategy]\ngamma = 2\n')
    frag = tmp_path / "sub" / "frag.toml"
    assert _error(main) == f'{main}:3: include "frag.toml": config file not found: {frag}'


def test_an_include_that_is_a_directory_or_not_utf8_names_the_including_file(tmp_path):
    main = _main(tmp_path, 'include = ["ok.toml", "d", "latin1.toml"]\n')
    (tmp_path / "sub" / "ok.toml").write_text("[strategy]\ngamma = 2\n", encoding="utf-8")
    (tmp_path / "sub" / "d").mkdir()
    assert _error(main) == (f'{main}:1: include "d": config path is a directory, not a file: '
                            f'{tmp_path / "sub" / "d"}')
    (tmp_path / "sub" / "d").rmdir()
    (tmp_path / "sub" / "d").write_text("", encoding="utf-8")
    (tmp_path / "sub" / "latin1.toml").write_bytes("# caf\xe9\n".encode("latin-1"))
    assert _error(main) == (f'{main}:1: include "latin1.toml": {tmp_path / "sub" / "latin1.toml"}: '
                            "not UTF-8 text (bad byte at offset 5)")


def test_the_main_file_itself_missing_keeps_its_plain_message(tmp_path):
    assert _error(tmp_path / "nope.toml") == f"config file not found: {tmp_path / 'nope.toml'}"


def test_config_check_prints_it_on_one_line_with_exit_3(tmp_path):
    main = _main(tmp_path, 'include = ["frag.toml"]\n')
    out = CliRunner().invoke(cli, ["config", "check", str(main)], env={"HLMM_CONFIG": None})
    assert out.exit_code == ExitCode.CONFIG == 3
    assert out.stderr == (f'hlmm: error: {main}:1: include "frag.toml": config file not found: '
                          f'{tmp_path / "sub" / "frag.toml"}\n')
