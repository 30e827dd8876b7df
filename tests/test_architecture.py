"""The package's shape, checked by walking its imports (no module is executed).

Rules (docs/architecture.md):

* nothing outside ``serve/`` imports ``serve/``;
* ``optimise/`` (the solvers: arrays in, arrays out) imports nothing from ``routing/``, ``plan/``,
  ``evaluate/`` or ``report/``;
* ``report/`` builds pages from results: it never imports a solver or a computing stage;
* no module imports a name that starts with ``_`` from another module;
* imports sit at the top of modules, except heavy optional dependencies imported lazily on
  purpose, with a ``# lazy:`` comment on the line;
* every LP and MILP goes through ``optimise/highs.py``: no other module builds a ``HighsLp``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "surgeguard"
LAZY_OK = {"torch", "ray", "lightgbm", "statsforecast", "mlforecast", "ruptures", "highspy", "psutil",
           "resource", "threadpoolctl", "pyarrow", "topohub"}


def _modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        yield ".".join(parts), path, is_pkg


MODULES = list(_modules())


def _resolve(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_pkg:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, is_pkg: bool):
    """(line, imported module, names, top-level?) for every import of a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(n) for n in tree.body}
    # imports guarded by `if TYPE_CHECKING:` at the top count as top-level
    for n in tree.body:
        if isinstance(n, ast.If):
            top |= {id(x) for x in n.body}
        if isinstance(n, ast.Try):
            top |= {id(x) for x in n.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                out.append((node.lineno, a.name, [], id(node) in top))
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, is_pkg, node)
            out.append((node.lineno, target, [a.name for a in node.names], id(node) in top))
    return out


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


ALL_IMPORTS = {m: (path, _imports(m, path, is_pkg)) for m, path, is_pkg in MODULES}


def test_the_walk_sees_the_package():
    assert len(ALL_IMPORTS) > 50
    assert "surgeguard.optimise.highs" in ALL_IMPORTS and "surgeguard.serve.cli" in ALL_IMPORTS


def _violations(pred):
    bad = []
    for m, (path, imps) in ALL_IMPORTS.items():
        for line, target, names, is_top in imps:
            msg = pred(m, target, names, is_top, path, line)
            if msg:
                bad.append(f"{path.relative_to(PKG.parent)}:{line}: {msg}")
    return bad


def test_nothing_imports_serve():
    def rule(m, target, names, is_top, path, line):
        if _area(m) != "serve" and (target.startswith("surgeguard.serve")
                                    or (target == "surgeguard" and "serve" in names)):
            return f"{m} imports {target}"
    assert _violations(rule) == []


def test_optimise_imports_no_policy_plan_evaluate_or_report():
    banned = {"routing", "plan", "evaluate", "report", "serve", "forecast", "detect", "scenario"}

    def rule(m, target, names, is_top, path, line):
        if _area(m) == "optimise" and target.startswith("surgeguard.") and _area(target) in banned:
            return f"{m} imports {target}"
    assert _violations(rule) == []


def test_report_runs_no_solver():
    banned = {"optimise", "routing", "serve"}

    def rule(m, target, names, is_top, path, line):
        if _area(m) == "report":
            if target.startswith("surgeguard.") and _area(target) in banned:
                return f"{m} imports {target}"
            if target.split(".")[0] in ("highspy", "torch", "scipy"):
                return f"{m} imports {target}"
    assert _violations(rule) == []


def test_no_private_names_cross_modules():
    def rule(m, target, names, is_top, path, line):
        if not target.startswith("surgeguard") or target == m:
            return None
        priv = [n for n in names if n.startswith("_") and n != "__version__"]
        if priv:
            return f"{m} imports private {priv} from {target}"
        if any(p.startswith("_") and p != "__init__" for p in target.split(".")):
            return f"{m} imports private module {target}"
    assert _violations(rule) == []


def test_imports_at_the_top_except_declared_lazy_ones():
    lines_cache: dict[Path, list[str]] = {}

    def rule(m, target, names, is_top, path, line):
        if is_top:
            return None
        src = lines_cache.setdefault(path, path.read_text().splitlines())
        text = src[line - 1]
        if "# lazy:" in text and target.split(".")[0] in LAZY_OK:
            return None
        return f"function-level import of {target} ({text.strip()})"
    bad = _violations(rule)
    assert bad == [], "\n".join(bad)


def test_every_lp_is_built_in_optimise_highs():
    bad = []
    for m, path, _ in MODULES:
        if m == "surgeguard.optimise.highs":
            continue
        text = path.read_text()
        for needle in ("HighsLp(", "highspy.Highs(", "getModelStatus("):
            if needle in text:
                bad.append(f"{m}: {needle}")
    assert bad == []


@pytest.mark.parametrize("rule", [test_nothing_imports_serve, test_no_private_names_cross_modules])
def test_rules_can_fail(rule, monkeypatch):
    """The checks are not vacuous: a planted violation is caught."""
    fake = PKG / "routing" / "policies.py"
    planted = {"surgeguard.routing.policies": (fake, [(1, "surgeguard.serve.cli", ["_guard"], True)])}
    monkeypatch.setitem(globals(), "ALL_IMPORTS", planted)
    with pytest.raises(AssertionError):
        rule()
