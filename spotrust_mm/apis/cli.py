"""Command-line arguments shared by the tools (train, test, infer,
calibrate, eval_ood, fit_classical), each defined once here, as mmseg's
own tools define them."""
import argparse
import logging
import os
import sys

from mmengine.config import DictAction

#: Launchers of mmengine's ``init_dist``.
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_cfg_options_arg(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options key=value ...`` (mmengine's ``DictAction``)."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings in the config, key=value pairs')


def add_launcher_args(parser: argparse.ArgumentParser,
                      launchers=LAUNCHERS) -> None:
    """``--launcher`` and ``--local-rank`` (torchrun passes the rank in
    ``LOCAL_RANK``; older launchers as ``--local-rank``)."""
    parser.add_argument(
        '--launcher', choices=list(launchers), default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """``--cfg-options``, ``--launcher`` and ``--local-rank`` of the
    runner tools (train, test)."""
    add_cfg_options_arg(parser)
    add_launcher_args(parser)


def add_inference_args(parser: argparse.ArgumentParser) -> None:
    """``--device``, ``--num-samples`` and ``--cfg-options`` of the
    inference tools (see :func:`~spotrust_mm.apis.load_inference_config`).
    """
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--num-samples', type=int, help='override MC samples')
    add_cfg_options_arg(parser)


def add_scoring_args(parser: argparse.ArgumentParser) -> None:
    """``--strategy``, ``--aggregation``, ``--patch`` and ``--fraction``:
    how the pixel uncertainty becomes one score per photo
    (:mod:`spotrust_mm.evaluation.acquisition`; docs/labelling.md)."""
    from ..evaluation.acquisition import AGGREGATIONS, STRATEGIES
    parser.add_argument('--strategy', choices=STRATEGIES,
                        help='default: mutual_information (SpotRust '
                        'models), entropy (plain mmseg models, whose softmax '
                        'gives no other); expected_f1_error: the review '
                        "page's photo score (binary models; no aggregation)")
    parser.add_argument('--aggregation', choices=AGGREGATIONS,
                        default='patch_max')
    parser.add_argument('--patch', type=int, default=64,
                        help='window side of patch_max, pixels (default 64)')
    parser.add_argument('--fraction', type=float, default=0.05,
                        help='pixel share of top_fraction (default 0.05)')


def add_region_args(parser: argparse.ArgumentParser) -> None:
    """``--tolerance``, ``--min-area``, ``--low-confidence`` and
    ``--review-epistemic``: how a prediction becomes regions to correct
    (:func:`spotrust_mm.datasets.conversion.prediction_regions`)."""
    parser.add_argument('--tolerance', type=float, default=0.5,
                        help='polygon simplification, pixels (default 0.5)')
    parser.add_argument('--min-area', type=int, default=4,
                        help='smallest region annotated, pixels (default 4)')
    parser.add_argument('--low-confidence', type=float, default=0.75,
                        help='a pixel whose predicted class has a lower '
                        'probability is unsure (default 0.75)')
    parser.add_argument('--review-epistemic', type=float,
                        help='... or whose epistemic uncertainty is higher')


def parse_runner_args(parser: argparse.ArgumentParser, argv=None):
    """Parse, and export ``LOCAL_RANK`` as torch's launcher expects."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def finish_distributed(status: int = 0) -> None:
    """End a torchrun / Slurm process cleanly (a no-op outside one).

    Every rank waits at a barrier, destroys the default process group,
    flushes the logs and standard streams, and exits at once with
    ``status`` (``os._exit``), skipping the interpreter's teardown. Left to
    that teardown, gloo's threads were seen to abort a rank after a
    successful run ("terminate called without an active exception", exit
    code -6), which fails the whole torchrun job; the barrier and the
    destroyed group made it rarer but it was still seen, in CI with the
    tests on two workers. Call it last: nothing after it runs in a
    distributed process.

    Args:
        status (int): The exit status of a distributed process.
            Defaults to 0.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def cfg_options_dict(options) -> dict:
    """``key=value`` strings (as a tool passes them on to another) parsed
    as ``--cfg-options`` parses them (mmengine's ``DictAction``)."""
    return {k: DictAction._parse_iterable(v)
            for k, v in (o.split('=', 1) for o in options)}


def resolved_model(resolve, *args):
    """``resolve(*args)`` (:func:`~.zoo.split_model_args` or
    :func:`~.zoo.resolve_model`: a tool's CONFIG [CHECKPOINT], CONFIG
    perhaps a shipped model's name), or None after printing why it cannot
    be resolved (a name that is not shipped, shipped weights missing):
    the tool then exits with status 2."""
    from .zoo import UnknownModel
    try:
        return resolve(*args)
    except (UnknownModel, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return None
