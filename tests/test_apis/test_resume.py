"""The resume bookkeeping of folder inference, without subprocesses."""
import json
import os

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from spotrust_mm.apis.folder_inference import GroundTruthFolder
from spotrust_mm.apis.resume import (completed_record, config_digest,
                                     file_identity, remove_stale_temp_files,
                                     run_settings, settings_key)
from spotrust_mm.fileio import FolderLock
from spotrust_mm.visualization import outputs, write_figure_set


def _result(h=4, w=6):
    r = SegDataSample()
    for name in ('seg_logits', 'epistemic_uncertainty',
                 'aleatoric_uncertainty'):
        setattr(r, name, PixelData(data=torch.zeros(1, h, w)))
    r.pred_sem_seg = PixelData(data=torch.zeros(1, h, w, dtype=torch.long))
    return r


def _configs(tmp_path):
    (tmp_path / 'base.py').write_text('model = dict(type="M", depth=18)\n')
    (tmp_path / 'cfg.py').write_text("_base_ = ['base.py']\nx = 1\n")
    (tmp_path / 'cfg_calibrated.py').write_text(
        "_base_ = ['cfg.py']\nmodel = dict(test_cfg=dict(temperature=2))\n")
    return tmp_path / 'cfg.py', tmp_path / 'cfg_calibrated.py'


def _done(tmp_path, photo, key):
    """An image written with settings ``key``."""
    out = tmp_path / 'out'
    write_figure_set(str(out), 'x', np.zeros((4, 6, 3), np.uint8),
                     _result(), meta=dict(file='x.png', settings=key,
                                          source=file_identity(str(photo))))
    return out


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / 'x.png'
    cv2.imwrite(str(path), np.zeros((4, 6, 3), np.uint8))
    return path


def test_a_complete_record_with_the_same_settings_is_kept(tmp_path, photo):
    out = _done(tmp_path, photo, 'A')
    assert completed_record(str(out), 'x', 'A', str(photo))['settings'] == 'A'
    assert completed_record(str(out), 'x', 'B', str(photo)) is None


def test_changed_photo_under_the_same_name_is_redone(tmp_path, photo):
    out = _done(tmp_path, photo, 'A')
    cv2.imwrite(str(photo), np.full((4, 6, 3), 9, np.uint8))
    os.utime(photo, ns=(1, 1))  # a new file, whatever its time
    assert completed_record(str(out), 'x', 'A', str(photo)) is None


def test_missing_output_file_is_redone(tmp_path, photo):
    out = _done(tmp_path, photo, 'A')
    os.remove(out / 'x_panel.png')
    assert completed_record(str(out), 'x', 'A', str(photo)) is None


def test_changed_checkpoint_changes_the_key(tmp_path):
    cfg = Config(dict(model=dict(type='M')))
    ckpt = tmp_path / 'm.pth'
    ckpt.write_bytes(b'1')
    before = settings_key(run_settings(cfg, str(ckpt), arrays='float32'))
    ckpt.write_bytes(b'22')  # retrained under the same name
    assert settings_key(run_settings(cfg, str(ckpt),
                                     arrays='float32')) != before
    assert settings_key(run_settings(cfg, str(ckpt), arrays='float16')) != \
        settings_key(run_settings(cfg, str(ckpt), arrays='float32'))


def test_edit_of_a_base_config_changes_the_key(tmp_path):
    """The resolved config is hashed: an edit to a _base_ file, or to the
    config behind a *_calibrated.py, is noticed (the top-level file's
    identity alone did not change)."""
    cfg, calibrated = _configs(tmp_path)
    digests = [config_digest(Config.fromfile(str(p)))
               for p in (cfg, calibrated)]
    assert digests == [config_digest(Config.fromfile(str(p)))
                       for p in (cfg, calibrated)]  # stable
    top = [file_identity(str(cfg)), file_identity(str(calibrated))]
    (tmp_path / 'base.py').write_text('model = dict(type="M", depth=34)\n')
    assert [file_identity(str(cfg)), file_identity(str(calibrated))] == top
    after = [config_digest(Config.fromfile(str(p)))
             for p in (cfg, calibrated)]
    assert after[0] != digests[0] and after[1] != digests[1]


def test_ensemble_member_config_and_checkpoint_are_in_the_key(tmp_path):
    member = tmp_path / 'member.py'
    member.write_text('model = dict(type="M", depth=18)\n')
    ckpt = tmp_path / 'member.pth'
    ckpt.write_bytes(b'1')
    cfg = Config(dict(model=dict(type='EnsembleSegmentor', members=[
        dict(config=str(member), checkpoint=str(ckpt))])))
    first = config_digest(cfg)
    member.write_text('model = dict(type="M", depth=34)\n')
    second = config_digest(cfg)
    ckpt.write_bytes(b'22')
    assert len({first, second, config_digest(cfg)}) == 3


def test_run_killed_mid_image_leaves_no_record_over_mixed_outputs(
        tmp_path, photo, monkeypatch):
    """Finish with settings A, kill a run with B in the middle of the
    image: its A record must be gone, so a rerun with A redoes it instead
    of keeping B's maps under A's record."""
    out = _done(tmp_path, photo, 'A')
    real = outputs._write_image
    calls = []

    def dies_after_one(path, rgb):
        calls.append(path)
        if len(calls) > 1:
            raise KeyboardInterrupt  # the kill
        real(path, rgb)

    monkeypatch.setattr(outputs, '_write_image', dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        write_figure_set(str(out), 'x', np.zeros((4, 6, 3), np.uint8),
                         _result(), meta=dict(settings='B'))
    assert not (out / 'x.json').exists()
    assert completed_record(str(out), 'x', 'A', str(photo)) is None


def test_folder_lock_refuses_a_second_run(tmp_path):
    with FolderLock(str(tmp_path), 'tools/infer.py run'):
        with pytest.raises(RuntimeError,
                           match=rf'{tmp_path}: another tools/infer.py run '
                           rf'is writing .*process {os.getpid()}'):
            with FolderLock(str(tmp_path), 'tools/infer.py run'):
                pass
    with FolderLock(str(tmp_path)):  # released
        pass


def test_stale_temp_files_are_removed(tmp_path):
    (tmp_path / 'thumbs').mkdir()
    for rel in ('.tmp-a.png', 'thumbs/.tmp-b.jpg', 'keep.png'):
        (tmp_path / rel).write_bytes(b'')
    assert sorted(os.path.basename(p) for p in remove_stale_temp_files(
        str(tmp_path))) == ['.tmp-a.png', '.tmp-b.jpg']
    assert sorted(os.listdir(tmp_path)) == ['keep.png', 'thumbs']


def test_outputs_are_flushed_to_disk(tmp_path, monkeypatch):
    from spotrust_mm import fileio
    synced = []
    real = os.fsync

    def record(fd):
        synced.append(os.readlink(f'/proc/self/fd/{fd}'))
        real(fd)

    monkeypatch.setattr(os, 'fsync', record)
    fileio.write_json(str(tmp_path / 'a.json'), dict(a=1))
    assert len(synced) == 2
    assert os.path.basename(synced[0]).startswith('.tmp-')  # the file
    assert synced[1] == str(tmp_path)  # then its folder
    assert json.loads((tmp_path / 'a.json').read_text()) == dict(a=1)


def test_ground_truth_by_stem_in_any_case_and_format(tmp_path):
    gt = tmp_path / 'gt'
    gt.mkdir()
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 1:4] = 1
    cv2.imwrite(str(gt / 'a.PNG'), mask)
    cv2.imwrite(str(gt / 'b.jpg'), mask * 255)
    cv2.imwrite(str(gt / 'c.png'), np.zeros((5, 6), np.uint8))
    folder = GroundTruthFolder(str(gt))
    assert folder.load('/photos/a.jpg', (4, 6)).sum() == 6
    with pytest.raises(ValueError, match=r'/photos/z\.jpg: no mask named '
                       r'z\.\* in .*gt'):
        folder.load('/photos/z.jpg', (4, 6))
    with pytest.raises(ValueError, match=r'its mask .*c\.png is 6x5, the '
                       r'image 6x4'):
        folder.load('/photos/c.jpg', (4, 6))
    with pytest.raises(ValueError, match=r'b\.jpg: a JPEG mask cannot'):
        folder.load('/photos/b.jpg', (4, 6))
    raw = GroundTruthFolder(str(gt), '0/255')
    assert raw.load('/photos/b.jpg', (4, 6)).sum() == 6  # snapped
