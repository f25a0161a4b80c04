"""Dependencies point one way: models <- evaluation <- visualization <-
apis <- tools (datasets, fileio and compat are shared below them; engine
trains models). A module may not import a package that depends on it."""
import ast
import glob
import os.path as osp

import pytest

from .conftest import REPO

# package -> the spotrust_mm packages it must not import (benchmarking,
# the benchmark harness, sits above them all)
FORBIDDEN = {
    'models': {'evaluation', 'visualization', 'engine', 'apis',
               'benchmarking'},
    'datasets': {'models', 'evaluation', 'visualization', 'engine', 'apis',
                 'benchmarking'},
    'evaluation': {'visualization', 'engine', 'apis', 'benchmarking'},
    'visualization': {'engine', 'apis', 'benchmarking'},
    'engine': {'apis', 'benchmarking'},
    'apis': {'benchmarking'},
}


def _imported_packages(source, module):
    """spotrust_mm sub-packages that ``source`` imports (absolute or
    relative), for the module at ``module`` ('visualization/plots.py')."""
    tree = ast.parse(source)
    pkg = module.split('/')
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level]
                parts = base + (node.module.split('.') if node.module else
                                [])
                names = [parts] if node.module else [
                    base + [a.name] for a in node.names]
                found.update(p[0] for p in names if p)
            elif node.module and node.module.startswith('spotrust_mm.'):
                found.add(node.module.split('.')[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split('.')[1] for a in node.names
                         if a.name.startswith('spotrust_mm.'))
    return found


@pytest.mark.parametrize('package', sorted(FORBIDDEN))
def test_dependencies_point_one_way(package):
    bad = {}
    for path in glob.glob(osp.join(REPO, 'spotrust_mm', package, '**',
                                   '*.py'), recursive=True):
        module = osp.relpath(path, osp.join(REPO, 'spotrust_mm'))
        wrong = _imported_packages(open(path).read(),
                                   module.replace(osp.sep, '/')) & \
            FORBIDDEN[package]
        if wrong:
            bad[osp.relpath(path, REPO)] = sorted(wrong)
    assert not bad, bad


def test_the_checker_sees_relative_and_absolute_imports():
    source = ('from ..evaluation.functional import x\n'
              'from .. import models\nimport spotrust_mm.engine\n'
              'from .figures import y\n')
    assert _imported_packages(source, 'visualization/probe.py') == {
        'evaluation', 'models', 'engine', 'visualization'}


def _sys_path_edits(source: str) -> list:
    """The lines of ``source`` that reach ``sys.path`` in any form:
    ``sys.path``, ``from sys import path`` or pytest's
    ``monkeypatch.syspath_prepend``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and (
                node.attr == 'syspath_prepend' or
                (node.attr == 'path' and isinstance(node.value, ast.Name)
                 and node.value.id == 'sys')):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == 'sys' and \
                any(a.name == 'path' for a in node.names):
            lines.append(node.lineno)
    return lines


def test_the_sys_path_check_catches_every_form():
    for source in ('import sys\nsys.path.insert(0, "x")\n',
                   'from sys import path\npath.append("x")\n',
                   'def f(monkeypatch):\n'
                   '    monkeypatch.syspath_prepend("x")\n'):
        assert _sys_path_edits(source), source
    assert not _sys_path_edits('import os\nos.path.join("a")\n')


def test_no_sys_path_edits_in_tools_tests_or_benchmarks():
    """Tools, tests and benchmarks import the installed package (the
    benchmark harness is :mod:`spotrust_mm.benchmarking`); none edits
    sys.path to reach a module."""
    found = []
    for folder in ('tools', 'tests', 'benchmarks'):
        for path in glob.glob(osp.join(REPO, folder, '**', '*.py'),
                              recursive=True):
            if osp.samefile(path, __file__):
                continue  # the probes above
            if _sys_path_edits(open(path).read()):
                found.append(osp.relpath(path, REPO))
    assert not found, found


def test_modules_stay_small_or_say_why():
    """No module over about 400 lines without a reason at its top."""
    long = []
    for folder in ('spotrust_mm', 'tools', 'benchmarks', 'tests'):
        for path in glob.glob(osp.join(REPO, folder, '**', '*.py'),
                              recursive=True):
            text = open(path).read()
            if text.count('\n') > 420 and 'Why one module' not in \
                    text[:3000]:
                long.append(osp.relpath(path, REPO))
    assert not long, long
