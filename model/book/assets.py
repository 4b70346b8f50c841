"""Scripts the built book needs, copied from installed, pinned packages into ``book/_static`` at build
time, so no page loads anything from the network: MathJax 3 (``django-static-mathjax``, its single-file
``es5/tex-svg.js`` build with fonts) for the formulas, and the DataTables bundle of ``itables`` for the
interactive tables (:func:`model.book.tables.bundle_datatables`). The Vega bundle is written by
``python -m model.book.charts bundle``.

``python -m model.book.assets STATIC_DIR`` writes them all.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from model.cli import ArgumentParser, entry

#: Where MathJax goes under the static folder (``mathjax_path`` in ``book/_config.yml`` points here).
MATHJAX_FILE = Path("mathjax") / "tex-svg.js"


def bundle_mathjax(static_dir) -> Path:
    """Copy MathJax's ``es5/tex-svg.js`` into ``static_dir/mathjax/``."""
    import mathjax

    src = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg.js"
    target = Path(static_dir) / MATHJAX_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return target


@entry
def main(argv: list[str]) -> int:
    parser = ArgumentParser(prog="python -m model.book.assets",
                            description="Copy MathJax and the DataTables bundle into the book's static folder.")
    parser.add_argument("static_dir", metavar="STATIC_DIR", help="the book's _static folder (e.g. book/_static)")
    args = parser.parse_args(argv)
    from model.book.tables import bundle_datatables

    written = [bundle_mathjax(args.static_dir), *bundle_datatables(args.static_dir)]
    print("wrote " + ", ".join(str(p) for p in written), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
