"""Train a deep ensemble: K members with different seeds, then write the
ensemble inference config that points at their checkpoints.

    python tools/train_ensemble.py configs/spotrust_ensemble.py \
        --num-members 3 [--work-dir work_dirs/spotrust_ensemble] \
        [--first-seed 0] [--parallel] [--gpus-per-member G] [--quiet] \
        [--member K | --collect | --collect-from WORK_DIR ...] \
        [--cfg-options k=v ...]

Member k is trained by tools/train.py in ``<work-dir>/member_<k>`` with
``randomness.seed=first_seed + k``: one after another by default; with
``--parallel`` all at once, each its own process group (its own process on
a CPU machine or with one GPU each; with ``--gpus-per-member G > 1`` a
torchrun group of G processes). On a machine with GPUs member k gets GPUs
``k*G .. k*G+G-1`` (``CUDA_VISIBLE_DEVICES``). In parallel each member's
console output goes to ``<work-dir>/member_<k>/console.log``. The same
seeds give the same members either way.

On a cluster, train each member as a task of a Slurm array
(``--member $SLURM_ARRAY_TASK_ID``), then ``--collect`` writes the config
from the trained members; ``tools/slurm_train_ensemble.sh`` submits both.
Models already trained with ``tools/train.py CONFIG`` (plain mmseg models
of several seeds, say) become an ensemble with
``--collect-from WORK_DIR WORK_DIR ...``: nothing is trained.

Finally ``<work-dir>/ensemble.py`` is written (atomically): it inherits the
first member's resolved config (as dumped by the runner) and lists each
member's config and checkpoint: the best by validation mIoU, else the last.
Use it with tools/test.py, tools/infer.py or mmseg.apis.init_model, without
a checkpoint argument.
"""
import argparse
import os
import os.path as osp
import subprocess
import sys

from mmengine.config import Config
from spotrust_mm.apis import (PretrainedWeightsUnavailable, cfg_options_dict,
                              check_pretrained_weights, trained_checkpoint,
                              write_ensemble_config)
from spotrust_mm.progress import progress

TOOLS = osp.dirname(osp.abspath(__file__))
REPO = osp.dirname(TOOLS)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config', help='member config')
    p.add_argument('--num-members', type=int, default=3)
    p.add_argument('--work-dir')
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--parallel', action='store_true',
                   help='train all members at once, each its own process '
                   'group')
    p.add_argument('--gpus-per-member', type=int, default=1,
                   help='processes (GPUs) per member; > 1 runs the member '
                   'under torchrun')
    p.add_argument('--port', type=int, default=29600,
                   help='first master port of the torchrun groups (member '
                   'k uses port + k)')
    which = p.add_mutually_exclusive_group()
    which.add_argument('--member', type=int,
                       help='train only this member (a Slurm array task)')
    which.add_argument('--collect', action='store_true',
                       help='only write ensemble.py from trained members')
    which.add_argument('--collect-from', nargs='+', metavar='WORK_DIR',
                       help='only write ensemble.py from models already '
                       'trained by tools/train.py with CONFIG in these work '
                       'dirs (plain mmseg models of several seeds, say)')
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    p.add_argument('--cfg-options', nargs='+', default=[])
    args = p.parse_args(argv)
    if args.collect_from is not None:
        if len(args.collect_from) < 2:
            p.error('--collect-from needs at least 2 work dirs')
        args.num_members = len(args.collect_from)
    if args.num_members < 2:
        p.error(f'--num-members must be >= 2: {args.num_members}')
    if args.gpus_per_member < 1:
        p.error(f'--gpus-per-member must be >= 1: {args.gpus_per_member}')
    if args.member is not None and not 0 <= args.member < args.num_members:
        p.error(f'--member must be in 0..{args.num_members - 1}: '
                f'{args.member}')
    if not osp.isfile(args.config):
        raise FileNotFoundError(f'{args.config}: config file does not exist')
    seeded = [o for o in args.cfg_options if o.startswith('randomness.')]
    if seeded:
        raise ValueError(
            f'--cfg-options {" ".join(seeded)} would give every member the '
            'same seed, and so the same weights: members get seeds '
            'first_seed + k; set --first-seed instead')
    return args


def member_command(args, k: int, member_dir: str):
    """``(command, environment)`` that trains member ``k``."""
    train = [osp.join(TOOLS, 'train.py'), args.config, '--work-dir',
             member_dir, '--cfg-options',
             f'randomness.seed={args.first_seed + k}', *args.cfg_options]
    env = dict(os.environ)
    g = args.gpus_per_member
    if args.parallel and 'SLURM_ARRAY_TASK_ID' not in env:
        import torch
        if torch.cuda.device_count() > 0:
            env['CUDA_VISIBLE_DEVICES'] = ','.join(
                str(i) for i in range(k * g, k * g + g))
    if g == 1:
        return [sys.executable, *train], env
    return [sys.executable, '-m', 'torch.distributed.run',
            f'--nproc_per_node={g}', f'--master_port={args.port + k}',
            *train, '--launcher', 'pytorch'], env


def train_members(args, work_dir: str, members) -> None:
    """Train ``members`` (indices), one after another or all at once."""
    jobs = [(k, osp.join(work_dir, f'member_{k}')) for k in members]
    bar = progress(None, total=len(jobs), desc='members', unit='member',
                   quiet=args.quiet)
    if not args.parallel:
        for k, member_dir in jobs:
            cmd, env = member_command(args, k, member_dir)
            print(f'training member {k + 1}/{args.num_members}: seed '
                  f'{args.first_seed + k} -> {member_dir}', flush=True)
            subprocess.run(cmd, env=env, check=True)
            bar.update(1)
        bar.close()
        return
    running = []
    for k, member_dir in jobs:
        os.makedirs(member_dir, exist_ok=True)
        cmd, env = member_command(args, k, member_dir)
        log = open(osp.join(member_dir, 'console.log'), 'w')
        print(f'started member {k + 1}/{args.num_members}: seed '
              f'{args.first_seed + k} -> {member_dir} (console.log there)',
              flush=True)
        running.append((k, member_dir, log, subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT)))
    failed = []
    for k, member_dir, log, proc in running:
        if proc.wait() != 0:
            failed.append(f'member {k} (exit {proc.returncode}, see '
                          f'{osp.join(member_dir, "console.log")})')
        log.close()
        bar.update(1)
    bar.close()
    if failed:
        raise RuntimeError('training failed: ' + '; '.join(failed))


def member_dirs(args, work_dir: str) -> list:
    """The folders of the members: ``--collect-from``'s, else
    ``<work_dir>/member_<k>``."""
    if args.collect_from:
        return [osp.abspath(d) for d in args.collect_from]
    return [osp.join(work_dir, f'member_{k}')
            for k in range(args.num_members)]


def write_members_config(args, work_dir: str) -> str:
    """``<work_dir>/ensemble.py`` over every member's trained checkpoint
    (:func:`spotrust_mm.apis.write_ensemble_config`)."""
    name = osp.splitext(osp.basename(args.config))[0]
    members = []
    for d in member_dirs(args, work_dir):
        config = osp.join(d, f'{name}.py')
        if not osp.isfile(config):
            raise SystemExit(
                f'error: {d} has no {name}.py: not a work dir of '
                f'tools/train.py {args.config}')
        try:
            members.append((config, trained_checkpoint(d)))
        except FileNotFoundError as e:
            raise SystemExit(f'error: {e}') from None
    out = write_ensemble_config(members, osp.join(work_dir, 'ensemble.py'))
    print(f'wrote {out}')
    return out


def check_weights(args) -> None:
    """Stop before member 0 if the ImageNet weights the config names are
    neither cached nor downloadable (:func:`check_pretrained_weights`)."""
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(cfg_options_dict(args.cfg_options))
    try:
        check_pretrained_weights(cfg, args.config,
                                 'python tools/train_ensemble.py')
    except PretrainedWeightsUnavailable as e:
        raise SystemExit(f'error: {e}') from None


def main(argv=None):
    args = parse_args(argv)
    name = osp.splitext(osp.basename(args.config))[0]
    work_dir = osp.abspath(args.work_dir or osp.join('work_dirs', name))
    collect = args.collect or args.collect_from is not None
    if not collect:
        check_weights(args)
    if args.member is not None:
        train_members(args, work_dir, [args.member])
        return None
    if not collect:
        train_members(args, work_dir, range(args.num_members))
    return write_members_config(args, work_dir)


if __name__ == '__main__':
    main()
