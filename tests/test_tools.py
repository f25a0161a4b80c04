"""The tools' argument and config handling (no model is run here)."""
import importlib.util
import os.path as osp

import pytest

from .conftest import REPO


def _tool(name):
    spec = importlib.util.spec_from_file_location(
        f'tool_{name}', osp.join(REPO, 'tools', f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def test_tool():
    return _tool('test')


def _cfg(tool, *argv):
    return tool.build_test_config(tool.parse_args(list(argv)))


def test_test_tool_wires_plots_figures_and_out(test_tool, tmp_path):
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(b'')
    cfg = _cfg(test_tool, osp.join(REPO, 'configs/spotrust_mcdropout.py'),
               str(ckpt), '--work-dir', str(tmp_path / 'w'), '--show-dir',
               str(tmp_path / 'figs'), '--out', str(tmp_path / 'preds'))
    metrics = {m['type']: m for m in cfg.test_evaluator}
    assert metrics['UncertaintyMetric']['plot_dir'] == str(
        tmp_path / 'w' / 'plots')
    assert metrics['IoUMetric']['output_dir'] == str(tmp_path / 'preds')
    assert dict(type='UncertaintyFigureHook',
                out_dir=str(tmp_path / 'figs')) in cfg.custom_hooks
    assert cfg.load_from is None  # main() loads it, once, checked
    other = _cfg(test_tool, osp.join(REPO, 'configs/spotrust_mcdropout.py'),
                 str(ckpt), '--plot-dir', str(tmp_path / 'p'))
    assert {m['type']: m for m in other.test_evaluator}[
        'UncertaintyMetric']['plot_dir'] == str(tmp_path / 'p')


def test_test_tool_checkpoint_errors(test_tool, tmp_path):
    config = osp.join(REPO, 'configs/spotrust_variational.py')
    with pytest.raises(ValueError, match='a checkpoint is needed'):
        _cfg(test_tool, config)
    with pytest.raises(FileNotFoundError, match='nope.pth: checkpoint not'):
        _cfg(test_tool, config, str(tmp_path / 'nope.pth'))
    ensemble = _cfg(test_tool,
                    osp.join(REPO, 'configs/spotrust_ensemble_infer.py'))
    assert ensemble.load_from is None  # members name their checkpoints


def test_inference_config_and_image_listing(test_tool, tmp_path):
    from spotrust_mm import apis as mmseg_cli
    with pytest.raises(ValueError, match='member configs'):
        mmseg_cli.load_inference_config(
            osp.join(REPO, 'configs/spotrust_ensemble_infer.py'),
            num_samples=3)
    cfg = mmseg_cli.load_inference_config(
        osp.join(REPO, 'configs/spotrust_mcdropout.py'),
        str(test_tool.__file__), num_samples=3)  # any existing file
    assert cfg.model.num_samples == 3
    with pytest.raises(FileNotFoundError, match='config file does not'):
        mmseg_cli.load_inference_config(str(tmp_path / 'none.py'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='empty: no images'):
        mmseg_cli.image_inputs([str(tmp_path / 'empty')])
    with pytest.raises(FileNotFoundError, match='gone.png: no such'):
        mmseg_cli.image_inputs([str(tmp_path / 'gone.png')])
    (tmp_path / 'imgs').mkdir()
    for name in ('b.png', 'a.JPG', 'notes.txt'):
        (tmp_path / 'imgs' / name).write_bytes(b'')
    assert mmseg_cli.image_inputs([str(tmp_path / 'imgs')]) == [
        (str(tmp_path / 'imgs' / 'a.JPG'), 'a.JPG'),
        (str(tmp_path / 'imgs' / 'b.png'), 'b.png')]


def test_ood_tool_needs_an_ood_set(tmp_path):
    tool = _tool('eval_ood')
    with pytest.raises(ValueError, match='has no ood_dataset'):
        tool.dataset_images(None, 'ood_dataset', 'my_config.py')


def test_trained_checkpoint_prefers_the_best(test_tool, tmp_path):
    import os

    from spotrust_mm import apis as mmseg_cli
    with pytest.raises(FileNotFoundError, match='saved no checkpoint'):
        mmseg_cli.trained_checkpoint(str(tmp_path))
    last = tmp_path / 'epoch_3.pth'
    last.write_bytes(b'')
    (tmp_path / 'last_checkpoint').write_text(str(last))
    assert mmseg_cli.trained_checkpoint(str(tmp_path)) == str(last)
    old, new = tmp_path / 'best_mIoU_epoch_1.pth', tmp_path / 'best_f1.pth'
    for i, path in enumerate((old, new)):
        path.write_bytes(b'')
        os.utime(path, (100 + i, 100 + i))
    assert mmseg_cli.trained_checkpoint(str(tmp_path)) == str(new)


def test_checkpoint_that_does_not_fit_is_named_and_read_once(
        tmp_path, monkeypatch):
    import torch
    from mmengine.runner import CheckpointLoader
    from mmseg.registry import MODELS

    from spotrust_mm.apis import load_checked_checkpoint

    from .conftest import tiny_hrnet_model
    reads = []
    real = CheckpointLoader.load_checkpoint.__func__

    def counting(cls, filename, *a, **k):
        reads.append(filename)
        return real(cls, filename, *a, **k)

    monkeypatch.setattr(CheckpointLoader, 'load_checkpoint',
                        classmethod(counting))
    torch.manual_seed(0)
    model = MODELS.build(tiny_hrnet_model())
    torch.manual_seed(1)
    trained = MODELS.build(tiny_hrnet_model())
    same = tmp_path / 'same.pth'
    torch.save(dict(state_dict=trained.state_dict(), meta={}), same)
    load_checked_checkpoint(model, str(same), 'a.py')
    assert reads == [str(same)]  # read once
    key = 'decode_head.conv_seg.weight'
    assert torch.equal(model.state_dict()[key], trained.state_dict()[key])
    # trained with another config: one block fewer, another head width
    state = dict(model.state_dict())
    state.pop('backbone.conv1.weight')
    state[key] = torch.zeros(1, 5, 1, 1)
    other = tmp_path / 'other.pth'
    torch.save(dict(state_dict=state), other)
    with pytest.raises(ValueError) as e:
        load_checked_checkpoint(model, str(other), 'cfg.py')
    msg = str(e.value)
    assert msg.startswith(f'{other} does not fit the model of cfg.py')
    assert "1 of the model's" in msg and 'backbone.conv1.weight' in msg
    assert f'1 have other shapes (e.g. [{key!r}])' in msg
    assert torch.equal(model.state_dict()[key],  # nothing loaded
                       trained.state_dict()[key])


def test_test_tool_has_no_dead_tta_flag(test_tool):
    """mmseg's SegTTAModel would softmax the one probability channel and
    drop the uncertainty fields; the flag is not offered."""
    with pytest.raises(SystemExit):
        test_tool.parse_args(['cfg.py', 'ckpt.pth', '--tta'])


def test_each_argument_is_defined_once():
    """--cfg-options (mmengine's DictAction) and --launcher are defined in
    spotrust_mm/apis/cli.py only."""
    import glob
    for path in glob.glob(osp.join(REPO, 'tools', '**', '*.py'),
                          recursive=True) + glob.glob(
                              osp.join(REPO, 'spotrust_mm', '**', '*.py'),
                              recursive=True):
        if path.endswith(osp.join('apis', 'cli.py')):
            continue
        text = open(path).read()
        assert "argument('--launcher'" not in text, path
        assert 'DictAction' not in text, path
    infer = _tool('infer')
    args = infer.parse_args(['c.py', 'x.png', '--out-dir', 'o',
                             '--launcher', 'pytorch', '--cfg-options',
                             'a=1'])
    assert args.launcher == 'pytorch' and args.cfg_options == {'a': 1}


def test_train_ensemble_refuses_one_seed_for_all_members():
    tool = _tool('train_ensemble')
    with pytest.raises(ValueError, match='same seed.*--first-seed'):
        tool.main([osp.join(REPO, 'configs/spotrust_ensemble.py'),
                   '--cfg-options', 'train_cfg.max_epochs=1',
                   'randomness.seed=3'])


def test_amp_and_sync_bn_without_a_gpu_say_why():
    import torch
    if torch.cuda.is_available():
        pytest.skip('a GPU is here: --amp is available')
    tool = _tool('train')
    args = tool.parse_args([osp.join(REPO, 'configs/spotrust_demo.py'),
                            '--amp'])
    with pytest.raises(RuntimeError, match='--amp: .*GPU'):
        tool.build_train_config(args)
    args = tool.parse_args([osp.join(REPO, 'configs/spotrust_demo.py'),
                            '--cfg-options',
                            'optim_wrapper.type=AmpOptimWrapper'])
    with pytest.raises(RuntimeError, match='AmpOptimWrapper .*config'):
        tool.build_train_config(args)  # AMP asked for by the config
    args = tool.parse_args([osp.join(REPO, 'configs/spotrust_demo.py'),
                            '--cfg-options', 'sync_bn=torch'])
    with pytest.raises(RuntimeError, match='SyncBatchNorm works on GPUs'):
        tool.build_train_config(args)


def test_train_ensemble_member_commands(tmp_path):
    tool = _tool('train_ensemble')
    cfg = osp.join(REPO, 'configs/spotrust_ensemble.py')
    args = tool.parse_args([cfg, '--parallel', '--first-seed', '5',
                            '--cfg-options', 'train_cfg.max_epochs=1'])
    cmd, _ = tool.member_command(args, 2, str(tmp_path / 'm2'))
    assert cmd[1].endswith('tools/train.py') and '--launcher' not in cmd
    assert cmd[cmd.index('--cfg-options') + 1] == 'randomness.seed=7'
    args = tool.parse_args([cfg, '--parallel', '--gpus-per-member', '2',
                            '--port', '30000'])
    cmd, _ = tool.member_command(args, 1, str(tmp_path / 'm1'))
    assert cmd[1:3] == ['-m', 'torch.distributed.run']
    assert '--nproc_per_node=2' in cmd and '--master_port=30001' in cmd
    assert cmd[-2:] == ['--launcher', 'pytorch']
    with pytest.raises(SystemExit):
        tool.parse_args([cfg, '--member', '3', '--num-members', '3'])
    with pytest.raises(SystemExit, match='has no spotrust_ensemble.py'):
        tool.main([cfg, '--collect', '--work-dir', str(tmp_path)])
    # a work dir of tools/train.py (its config dump) with no checkpoint
    trained = tmp_path / 'a'
    trained.mkdir()
    (trained / 'spotrust_ensemble.py').write_text('')
    with pytest.raises(SystemExit, match='training saved no'):
        tool.main([cfg, '--collect-from', str(trained), str(trained),
                   '--work-dir', str(tmp_path / 'ens')])
    assert not (tmp_path / 'ens' / 'ensemble.py').exists()
    with pytest.raises(SystemExit):  # one model is no ensemble
        tool.parse_args([cfg, '--collect-from', str(trained)])
    with pytest.raises(SystemExit):  # collect one way or the other
        tool.parse_args([cfg, '--collect', '--collect-from', 'a', 'b'])


def test_slurm_ensemble_script_submits_an_array_then_the_config(tmp_path):
    """tools/slurm_train_ensemble.sh against a stand-in ``sbatch`` that
    records its arguments."""
    import subprocess
    fake = tmp_path / 'bin'
    fake.mkdir()
    log = tmp_path / 'sbatch.log'
    (fake / 'sbatch').write_text(
        '#!/usr/bin/env bash\n'
        f'printf "%s\\n" "$@" >> {log}\necho ---- >> {log}\necho 4242\n')
    (fake / 'sbatch').chmod(0o755)
    import os
    env = dict(os.environ, PATH=f'{fake}:{os.environ["PATH"]}')
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools/slurm_train_ensemble.sh'), 'gpu',
         'rust', 'configs/spotrust_ensemble.py', '3', 'work_dirs/ens'],
        env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    array, collect = log.read_text().split('----\n')[:2]
    assert '--array=0-2' in array and '--gres=gpu:1' in array
    assert '--member $SLURM_ARRAY_TASK_ID' in array
    assert '--dependency=afterok:4242' in collect and '--collect' in collect
    assert '--num-members 3 --work-dir work_dirs/ens' in collect
