"""Dependencies point one way: models <- evaluation <- visualization <-
tools (datasets, fileio and compat are shared below them; engine trains
models). A module may not import a package that depends on it."""
import ast
import glob
import os.path as osp

import pytest

from .conftest import REPO

# package -> the spotrust_mm packages it must not import
FORBIDDEN = {
    'models': {'evaluation', 'visualization', 'engine'},
    'datasets': {'models', 'evaluation', 'visualization', 'engine'},
    'evaluation': {'visualization', 'engine'},
    'visualization': {'engine'},
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
