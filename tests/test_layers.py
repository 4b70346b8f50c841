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
    # a package's __init__ re-exporting its own submodules is not a cycle of concepts
    graph = {n: {m for m in deps if not (n != "model" and m.startswith(n + "."))} for n, deps in graph.items()}
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
