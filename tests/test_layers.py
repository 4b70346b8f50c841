"""The study's layering (../shared/design): the model never reads the sources' claims or imports the
audit, and no model module imports another in a cycle (module-level and function-level imports alike)."""
import ast

from model.io import ROOT

PKG = ROOT / "model"


def _modules():
    mods = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        mods[name] = path
    return mods


def _imports(path, name, mods):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    base = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out, calls = set(), 0
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom):
            m = n.module or ""
            if n.level:
                parts = base.split(".")
                m = ".".join(parts[: len(parts) - n.level + 1] + ([m] if m else []))
            out.add(m)
            out |= {f"{m}.{a.name}" for a in n.names}
        elif isinstance(n, ast.Call):
            f = n.func
            if getattr(f, "id", None) == "stated_value" or getattr(f, "attr", None) == "stated_value":
                calls += 1
    return {m for m in out if m in mods}, calls, {m for m in out if m.startswith("model")}


def test_model_knows_nothing_of_the_sources():
    mods = _modules()
    bad = []
    for name, path in sorted(mods.items()):
        if name == "model.audit" or name.startswith("model.audit."):
            continue
        _, calls, touched = _imports(path, name, mods)
        audit = sorted(m for m in touched if m.startswith("model.audit") or m.startswith("model.claims"))
        if audit or calls:
            bad.append(f"{name}: imports {audit}, stated_value calls {calls}")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    mods = _modules()
    graph = {n: {m for m in _imports(p, n, mods)[0] if m != n} for n, p in mods.items()}
    # a package's __init__ that re-exports its submodules imports them: a submodule importing from its package
    # (``from model.audit import readings``) is then a cycle, as ../shared/tools/check_layers.py counts it
    cycles, state = [], {}

    def visit(v, stack):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                cycles.append(stack[stack.index(w):] + [w])
            elif w not in state:
                visit(w, stack)
        stack.pop()
        state[v] = 2

    for v in sorted(graph):
        if v not in state:
            visit(v, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_layer_test_can_fail(tmp_path):
    """The rule above is checked on a planted violation: a model module calling stated_value."""
    path = tmp_path / "planted.py"
    path.write_text("from model.audit.claims import stated_value\nx = stated_value('t1.sessions.initial')\n")
    _, calls, touched = _imports(path, "model.planted", {"model.audit.claims": path})
    assert calls == 1 and "model.audit.claims" in touched


# --- no shims: every importer names the module that holds the concept --------------------------------------

#: Modules that only re-exported other modules' names, now gone (``python -m model.serving`` is the command line
#: that ``model.batching`` used to be, and ``model.economics`` is a package whose ``__init__`` hands on nothing):
#: nothing may import from them again.
RETIRED_SHIMS = ("model.economics", "model.batching")


def _is_main_guard(node) -> bool:
    """``if __name__ == "__main__": ...``"""
    t = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(t, ast.Compare) and getattr(t.left, "id", None) == "__name__"
            and [getattr(c, "value", None) for c in t.comparators] == ["__main__"])


def _reexports(tree) -> list[str]:
    """What a module's top level hands on from other ``model`` modules without defining anything of its own:
    every name it imports from them if its top level is imports only (besides a docstring, ``__all__`` and a
    ``__main__`` guard), else the imported names it lists in ``__all__``."""
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            and not _is_main_guard(n)]
    imported = {a.asname or a.name for n in body if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("model")
                for a in n.names}
    exported = [e.value for n in body if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__"
                                                                             for t in n.targets)
                for e in n.value.elts]
    own = [n for n in body if not isinstance(n, (ast.Import, ast.ImportFrom))
           and not (isinstance(n, ast.Assign) and [getattr(t, "id", None) for t in n.targets] == ["__all__"])]
    return sorted(imported) if not own else sorted(set(exported) & imported)


def test_no_model_module_is_a_shim():
    """A module of ``model/`` (a package's ``__init__`` aside, which gathers its own submodules) defines what
    it exports; ``model/economics.py`` or another gathering module coming back fails here."""
    bad = {}
    for name, path in sorted(_modules().items()):
        if path.name == "__init__.py":
            continue
        names = _reexports(ast.parse(path.read_text(encoding="utf-8")))
        if names:
            bad[name] = names
    assert not bad, f"modules re-exporting other modules' names: {bad}"


def _imports_of_shims(source: str) -> list[str]:
    """The retired shims ``source`` takes names from (``from model.economics import gpu_price``,
    ``import model.batching``, ``from model import batching``), function-level imports included. A submodule of
    the ``model.economics`` package (``from model.economics import prices``) is not a shim's name."""
    found = []
    for n in ast.walk(ast.parse(source)):
        if isinstance(n, ast.ImportFrom) and n.module in RETIRED_SHIMS:
            found += [n.module for a in n.names if not (PKG.parent / n.module.replace(".", "/") / f"{a.name}.py").exists()]
        elif isinstance(n, ast.ImportFrom) and n.module == "model":
            found += [f"model.{a.name}" for a in n.names if f"model.{a.name}" == "model.batching"]
        elif isinstance(n, ast.Import):
            found += [a.name for a in n.names if a.name == "model.batching"]
    return found


def _code_cells(path) -> str:
    import json

    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    code = ("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return "\n".join("\n".join(l for l in c.splitlines() if not l.lstrip().startswith(("%", "!"))) for c in code)


def test_nothing_imports_a_retired_shim():
    """Model modules, chapters, tests and benchmarks import from the concept modules directly."""
    sources = {p: p.read_text(encoding="utf-8") for d in ("model", "tests", "benchmarks") for p in (ROOT / d).rglob("*.py")}
    sources |= {p: _code_cells(p) for p in (ROOT / "notebooks").glob("*.ipynb")}
    bad = {str(p.relative_to(ROOT)): found for p, s in sorted(sources.items()) if (found := _imports_of_shims(s))}
    assert not bad, f"imports of retired shims: {bad}"


def test_the_command_line_of_serving_is_its_package_entry():
    """``python -m model.serving predict`` (once ``python -m model.batching``): a ``__main__`` that only calls the
    command line; the old gathering modules are gone and the new concept packages' ``__init__`` hand on nothing."""
    tree = ast.parse((PKG / "serving" / "__main__.py").read_text(encoding="utf-8"))
    body = [n for n in tree.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
    assert [type(n).__name__ for n in body] == ["ImportFrom", "Raise"] and body[0].module == "model.serving.cli"
    assert not (PKG / "economics.py").exists() and not (PKG / "batching.py").exists()
    for pkg in ("economics", "search", "quantization"):
        init = ast.parse((PKG / pkg / "__init__.py").read_text(encoding="utf-8"))
        assert all(isinstance(n, ast.Expr) for n in init.body), f"model/{pkg}/__init__.py holds more than a docstring"


def test_the_shim_checks_can_fail():
    """Each rule above on a planted violation."""
    shim = ast.parse('"""Gathered."""\nfrom model.economics.prices import gpu_price\n__all__ = ["gpu_price"]\n')
    assert _reexports(shim) == ["gpu_price"]
    partial = ast.parse("from model.formats import DTYPES\nx = 1\n__all__ = ['DTYPES', 'x']\n")
    assert _reexports(partial) == ["DTYPES"]
    own = ast.parse("from model.formats import DTYPES\ndef f():\n    return DTYPES\n__all__ = ['f']\n")
    assert _reexports(own) == []
    entry = ast.parse('if __name__ == "__main__":\n    from model.serving.cli import main\n    main()\n')
    assert _reexports(entry) == [] and _is_main_guard(entry.body[0])
    assert _imports_of_shims("from model.economics import gpu_price") == ["model.economics"]
    assert _imports_of_shims("def f():\n    import model.batching\n") == ["model.batching"]
    assert _imports_of_shims("from model import batching as B, io") == ["model.batching"]
    assert _imports_of_shims("from model.economics import prices\nfrom model.economics.prices import gpu_price\n"
                             "import model.serving.cli") == []
