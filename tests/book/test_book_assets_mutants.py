"""model.book.assets by hand: MathJax copied byte for byte into ``mathjax/tex-svg.js`` of the static folder (made if
missing, and again over a folder a build already filled), the command line's help and its one line on stderr.
The DataTables bundle it also writes is tested with :mod:`model.book.tables`."""
from pathlib import Path

import pytest

from model.book.assets import MATHJAX_FILE, bundle_mathjax, main


def _mathjax_source() -> Path:
    import mathjax

    return Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js"


def test_mathjax_is_copied_whole_into_its_folder(tmp_path):
    assert MATHJAX_FILE == Path("mathjax") / "tex-svg.js"
    static = tmp_path / "a" / "b"  # neither folder exists yet
    target = bundle_mathjax(static)
    assert target == static / "mathjax" / "tex-svg.js"
    assert target.read_bytes() == _mathjax_source().read_bytes()
    # a second build copies over the first
    assert bundle_mathjax(str(static)) == target


def test_main_writes_every_asset_and_says_so_on_stderr(tmp_path, capsys):
    static = tmp_path / "static"
    assert main([str(static)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"wrote {static / 'mathjax' / 'tex-svg.js'}, {static / 'dt_bundle.css'}, "
                   f"{static / 'dt_bundle_loader.js'}\n")
    assert (static / "mathjax" / "tex-svg.js").read_bytes() == _mathjax_source().read_bytes()


def test_main_help_names_the_command_and_its_argument(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m model.book.assets [-h] STATIC_DIR")
    assert "Copy MathJax and the DataTables bundle into the book's static folder." in text
    assert "STATIC_DIR the book's _static folder (e.g. book/_static)" in text


def test_main_refuses_a_missing_folder_argument(capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    assert stop.value.code == 2
    assert "STATIC_DIR" in capsys.readouterr().err
