"""The test run's own guards: pinned environments, folders removed as the
run goes, a clear stop on a full disk (README, "Tests")."""
import os
import os.path as osp
import re
import subprocess
import sys

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conftest import REPO

MODULE = '''
import os


def test_writes(module_tmp_path):
    (module_tmp_path / 'model.pth').write_text('weights')
    with open(os.environ['RECORD'], 'w') as f:
        f.write(str(module_tmp_path))


def test_may_fail(module_tmp_path):
    assert os.environ.get('FAIL') != '1'
'''


def _pytest(tmp_path, **env):
    """Run pytest on :data:`MODULE` with this repository's conftest and
    pytest.ini, in its own process."""
    (tmp_path / 'test_module.py').write_text(MODULE)
    return subprocess.run(
        [sys.executable, '-m', 'pytest', '-q', '-p', 'tests.conftest', '-c',
         osp.join(REPO, 'pytest.ini'), '--rootdir', str(tmp_path),
         '--basetemp', str(tmp_path / 'base'),
         str(tmp_path / 'test_module.py')],
        cwd=REPO, text=True, capture_output=True,
        env=dict(os.environ, RECORD=str(tmp_path / 'record'), **env))


def test_module_folder_is_removed_after_its_tests_pass(tmp_path):
    proc = _pytest(tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    folder = (tmp_path / 'record').read_text()
    assert folder.startswith(str(tmp_path / 'base'))
    assert not osp.exists(folder)


def test_module_folder_is_kept_where_a_test_failed(tmp_path):
    proc = _pytest(tmp_path, FAIL='1')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    folder = (tmp_path / 'record').read_text()
    assert osp.isfile(osp.join(folder, 'model.pth'))


def test_too_little_free_disk_stops_the_run_naming_the_folder(tmp_path):
    proc = _pytest(tmp_path, SPOTRUST_MIN_FREE_DISK_GB='1e9')
    assert proc.returncode == 3, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert f'{tmp_path / "base"}: ' in out
    assert 'GB free disk; the tests need about 1e+09 GB there' in out
    assert not (tmp_path / 'record').exists()  # no test ran


def _requirements(path):
    """The requirement lines of a requirements file, without its options
    (``-c``, ``-r``) and comments."""
    lines = [ln.split('#')[0].strip() for ln in open(path)]
    return [Requirement(ln) for ln in lines if ln and not ln.startswith('-')]


def _pins(path):
    pins = {}
    for req in _requirements(path):
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == '==', (
            f'{path}: {req} is not pinned to one version')
        pins[canonicalize_name(req.name)] = specs[0].version
    return pins


def test_every_requirement_is_pinned_by_its_constraints():
    for name in ('dev', 'label_studio'):
        reqs = osp.join(REPO, 'requirements', f'{name}.txt')
        constraints = osp.join(REPO, 'requirements', 'constraints',
                               f'{name}.txt')
        assert '-c constraints/' + f'{name}.txt' in open(reqs).read()
        pins = _pins(constraints)
        for req in _requirements(reqs):
            key = canonicalize_name(req.name)
            assert key in pins, f'{constraints}: no pin for {req.name}'
            assert req.specifier.contains(pins[key]), (
                f'{constraints}: {req.name}=={pins[key]} is outside '
                f'{reqs}: {req}')


def test_pip_and_setuptools_are_installed_at_their_pins():
    """The Makefile installs pip and setuptools first, each environment
    with its own constraints, which pin both."""
    makefile = open(osp.join(REPO, 'Makefile')).read()
    for name in ('dev', 'label_studio'):
        constraints = f'requirements/constraints/{name}.txt'
        assert re.search(r'-m pip install -q\s*(\\\n\s*)?-c ' +
                         re.escape(constraints) + ' pip setuptools\n',
                         makefile), f'Makefile: no pinned pip for {name}'
        pins = _pins(osp.join(REPO, constraints))
        assert {'pip', 'setuptools'} <= set(pins), constraints
