"""Train a deep ensemble: K members with different seeds, then write the
ensemble inference config that points at their checkpoints.

    python tools/train_ensemble.py configs/spotrust_ensemble.py \
        --num-members 3 [--work-dir work_dirs/spotrust_ensemble] \
        [--first-seed 0] [--cfg-options k=v ...]

Member k is trained by tools/train.py (one process each) in
``<work-dir>/member_<k>`` with ``randomness.seed=first_seed + k``. Then
``<work-dir>/ensemble.py`` is written (atomically): it inherits
configs/spotrust_ensemble_infer.py and lists each member's resolved config
(as dumped by the runner) and checkpoint: the best by validation mIoU,
else the last. Use it with tools/test.py,
tools/infer.py or mmseg.apis.init_model, without a checkpoint argument.
"""
import argparse
import os.path as osp
import subprocess
import sys

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TOOLS)
sys.path.insert(0, TOOLS)
sys.path.insert(0, REPO)
from mmseg_cli import trained_checkpoint  # noqa: E402

from spotrust_mm.fileio import atomic_write  # noqa: E402


def ensemble_config_text(members, work_dir: str) -> str:
    """Python config text of an ensemble over ``(config, checkpoint)``s,
    inheriting the first member's config (data, evaluators, runtime)."""
    lines = [
        f'_base_ = [{members[0][0]!r}]', f'work_dir = {work_dir!r}',
        'load_from = None', 'model = dict(', '    _delete_=True,',
        "    type='EnsembleSegmentor',", '    threshold=0.5,',
        "    test_cfg=dict(mode='whole'),", '    members=['
    ]
    lines += [
        f'        dict(config={cfg!r}, checkpoint={ckpt!r}),'
        for cfg, ckpt in members
    ]
    lines += ['    ])', '']
    return '\n'.join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='member config')
    p.add_argument('--num-members', type=int, default=3)
    p.add_argument('--work-dir')
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--cfg-options', nargs='+', default=[])
    args = p.parse_args(argv)
    if args.num_members < 2:
        raise ValueError(f'--num-members must be >= 2: {args.num_members}')
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'{args.config}: config file does not exist')
    seeded = [o for o in args.cfg_options if o.startswith('randomness.')]
    if seeded:
        raise ValueError(
            f'--cfg-options {" ".join(seeded)} would give every member the '
            'same seed, and so the same weights: members get seeds '
            'first_seed + k; set --first-seed instead')
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = osp.abspath(args.work_dir or osp.join('work_dirs', name))
    members = []
    for k in range(args.num_members):
        member_dir = osp.join(work_dir, f'member_{k}')
        cmd = [
            sys.executable,
            osp.join(TOOLS, 'train.py'), args.config, '--work-dir',
            member_dir, '--cfg-options',
            f'randomness.seed={args.first_seed + k}', *args.cfg_options
        ]
        print(f'training member {k + 1}/{args.num_members}: seed '
              f'{args.first_seed + k} -> {member_dir}', flush=True)
        subprocess.run(cmd, check=True)
        members.append((osp.join(member_dir, f'{name}.py'),
                        trained_checkpoint(member_dir)))
    out = osp.join(work_dir, 'ensemble.py')
    text = ensemble_config_text(members, work_dir)

    def write(tmp):
        with open(tmp, 'w') as f:
            f.write(text)

    atomic_write(out, write)
    print(f'wrote {out}')
    return out


if __name__ == '__main__':
    main()
