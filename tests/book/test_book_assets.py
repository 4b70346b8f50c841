from model.book.assets import MATHJAX_FILE, main


def test_assets_are_written_from_installed_packages(tmp_path):
    assert main([str(tmp_path)]) == 0
    mj = (tmp_path / MATHJAX_FILE).read_text(encoding="utf-8")
    assert "MathJax" in mj and len(mj) > 1_000_000  # the single-file SVG build, fonts included
    loader = (tmp_path / "dt_bundle_loader.js").read_text(encoding="utf-8")
    assert "URL.createObjectURL" in loader and "http" not in loader.split("const src")[0]
    assert (tmp_path / "dt_bundle.css").stat().st_size > 10_000
