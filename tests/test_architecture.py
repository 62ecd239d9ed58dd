"""The product's shape: no import cycles, no facades, imports that point one way.

Read from the source with `ast`, nothing imported. Every import counts, at module level and
inside functions alike: a function-level import that closes a loop is still a loop between two
files (it only moves the failure from import time to call time).

The rules, as the README's architecture section states them:

- no product module is part of an import cycle;
- a module exports (`__all__`) only what it defines; only the packages' documented public
  `__init__` files gather names from other modules, and never from underscore modules;
- callers import a name from the module that defines it (tests may use a package's public API);
- imports point one way: benchmarks -> migration_audit -> {legacy_tf1, tf2} -> deconv_runtime ->
  deconv_io; the two ports never import each other; deconv_io imports no TensorFlow.
"""

import ast
import collections

import pytest

from tests.conftest import REPO

#: Package -> layer: a package imports only from its own layer's package and lower layers.
LAYERS = {"deconv_io": 0, "deconv_runtime": 1, "legacy_tf1": 2, "tf2": 2,
          "migration_audit": 3, "benchmarks": 4}
#: The packages whose `__init__` is a documented public API (README, docstrings).
PUBLIC_INITS = {"deconv_io", "deconv_runtime", "legacy_tf1", "legacy_tf1.original", "tf2",
                "migration_audit", "benchmarks"}
#: Not product code: the published original script, run by the shim, never imported.
FROZEN = "legacy_tf1/original/script/"


class Module:
    """One source file: what it defines, imports and exports."""

    def __init__(self, name, path):
        self.name, self.path = name, path
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.is_package = path.name == "__init__.py"
        self.defined, self.where, self.all = set(), {}, None
        for node in _top_level(self.tree.body):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.defined.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
                self.defined |= names
                if "_WHERE" in names:
                    self.where = ast.literal_eval(node.value)
                if "__all__" in names and isinstance(node, ast.Assign):
                    self.all = _literal_all(node.value)
        if self.all is None and self.where:
            self.all = sorted(self.where)
        self.defined.discard("__all__")

    def imports(self):
        """(line, imported module, [names] or None) for every import statement."""
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node.lineno, alias.name, None
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node)
                if base:
                    yield node.lineno, base, [a.name for a in node.names]

    def _absolute(self, node):
        if node.level == 0:
            return node.module
        parts = self.name.split(".")
        if not self.is_package:
            parts = parts[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        return ".".join(parts + ([node.module] if node.module else []))


def _top_level(body):
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody"):
                yield from _top_level(getattr(node, field, None) or [])
            for handler in getattr(node, "handlers", []):
                yield from _top_level(handler.body)


def _literal_all(value):
    if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "sorted":
        return None  # sorted(_WHERE): read from _WHERE
    return list(ast.literal_eval(value))


def _module_name(path):
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _load(packages):
    modules = {}
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            if not path.relative_to(REPO).as_posix().startswith(FROZEN):
                modules[_module_name(path)] = Module(_module_name(path), path)
    return modules


@pytest.fixture(scope="module")
def product():
    return _load(LAYERS)


def import_graph(modules):
    """Module -> the product modules it names in an import statement."""
    graph = collections.defaultdict(set)
    for name, module in modules.items():
        for _, target, names in module.imports():
            submodules = {f"{target}.{n}" for n in names or () if f"{target}.{n}" in modules}
            graph[name] |= submodules
            # `from package import submodule` runs the package's __init__ as any import of a
            # submodule does (not counted); a name from the package itself is an edge.
            if target in modules and (names is None or len(submodules) < len(names)):
                graph[name].add(target)
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (or a self-loop)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_violations(modules):
    wrong = []
    for name, module in modules.items():
        own = name.split(".")[0]
        for line, target, _ in module.imports():
            other = target.split(".")[0]
            if other in LAYERS and other != own and LAYERS[other] >= LAYERS[own]:
                wrong.append(f"{name}:{line} imports {target}")
    return wrong


def test_the_cycle_finder_finds_a_loop_and_only_a_loop():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"a"}}) == [["a"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_a_submodule_import_is_no_edge_to_its_package(tmp_path):
    (tmp_path / "a.py").write_text("from pkg import sub\nfrom pkg import name\n")
    module = Module("pkg.a", tmp_path / "a.py")
    graph = import_graph({"pkg.a": module, "pkg": module, "pkg.sub": module})
    assert graph["pkg.a"] == {"pkg.sub", "pkg"}  # `name` comes from pkg/__init__.py


def test_no_import_cycle_in_the_product(product):
    graph = import_graph(product)
    assert len(graph) > 20  # the parse found the product's imports
    assert cycles(graph) == []


def test_the_layer_rule_catches_an_upward_import(tmp_path):
    (tmp_path / "m.py").write_text("def f():\n    import migration_audit.cli\n")
    module = Module("tf2.m", tmp_path / "m.py")
    assert layer_violations({"tf2.m": module}) == ["tf2.m:2 imports migration_audit.cli"]


def test_imports_point_one_way_and_the_ports_never_import_each_other(product):
    assert layer_violations(product) == []


def test_deconv_io_imports_no_tensorflow_and_tf2_no_compat_v1(product):
    heavy = [f"{n}:{line} {target}" for n, m in product.items() if n.startswith("deconv_io")
             for line, target, _ in m.imports()
             if target.split(".")[0] in ("tensorflow", "keras", "tf_keras", "jax")]
    assert heavy == []
    compat = [f"{n}:{node.lineno}" for n, m in product.items() if n.split(".")[0] == "tf2"
              for node in ast.walk(m.tree)
              if isinstance(node, ast.Attribute) and node.attr == "v1"
              and isinstance(node.value, ast.Attribute) and node.value.attr == "compat"]
    assert compat == []


def test_a_module_exports_only_what_it_defines(product):
    facades = {n: [x for x in m.all if x not in m.defined] for n, m in product.items()
               if m.all is not None and not (m.is_package and n in PUBLIC_INITS)}
    assert {n: names for n, names in facades.items() if names} == {}
    assert "tf2.demo" in facades and "deconv_runtime.cli" in facades  # both were read


def test_public_inits_export_nothing_from_underscore_modules(product):
    private = []
    for name in PUBLIC_INITS:
        module = product[name]
        assert module.all is not None, f"{name}/__init__.py states no __all__"
        depth = len(name.split("."))
        sources = dict(module.where)
        for node in _top_level(module.tree.body):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    sources[alias.asname or alias.name] = module._absolute(node)
        for exported in module.all:
            if exported.startswith("__") and exported.endswith("__"):
                continue  # `__version__` from `_version.py`, the packaging convention
            source = sources.get(exported, name)
            if any(part.startswith("_") for part in source.split(".")[depth:]):
                private.append(f"{name}.{exported} from {source}")
    assert private == []


@pytest.mark.parametrize("folder", ["product", "tests"])
def test_callers_import_each_name_from_its_owner(product, folder):
    callers = product if folder == "product" else _load(["tests"])
    wrong = []
    for name, module in callers.items():
        for line, target, names in module.imports():
            source = product.get(target)
            if source is None or names is None:
                continue
            for imported in names:
                if f"{target}.{imported}" in product or imported in source.defined:
                    continue
                public = (source.is_package and target in PUBLIC_INITS
                          and imported in (source.all or ()))
                if folder == "tests" and public:
                    continue  # a test of the package's public API
                wrong.append(f"{name}:{line} takes {imported} from {target}")
    assert wrong == []
