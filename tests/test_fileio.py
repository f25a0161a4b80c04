import json

import pytest

from spotrust_mm.fileio import atomic_write, write_json


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / 'out.json'
    write_json(str(path), {'a': 1})

    def broken(tmp):
        with open(tmp, 'w') as f:
            f.write('{"half')
        raise RuntimeError('disk full')

    with pytest.raises(RuntimeError, match='disk full'):
        atomic_write(str(path), broken)
    assert json.loads(path.read_text()) == {'a': 1}
    assert [p.name for p in tmp_path.iterdir()] == ['out.json']


def test_write_json_makes_the_folder(tmp_path):
    path = tmp_path / 'a' / 'b.json'
    write_json(str(path), [1, 2])
    assert json.loads(path.read_text()) == [1, 2]


@pytest.mark.parametrize('umask,file_mode,dir_mode', [(0o022, 0o644, 0o755),
                                                      (0o077, 0o600, 0o700)])
def test_outputs_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    import os
    import stat

    from spotrust_mm.fileio import make_temp_dir
    old = os.umask(umask)
    try:
        path = tmp_path / 'out.json'
        write_json(str(path), {'a': 1})
        folder = make_temp_dir(str(tmp_path), '.build-')
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == file_mode
    assert stat.S_IMODE(os.stat(folder).st_mode) == dir_mode
