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
