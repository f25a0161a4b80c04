"""Real data, any mmseg head: each head family with and without a Bayesian
tail (BayesianTailHead), on CrackForest or any binary defect dataset.

    python benchmarks/any_head.py --data-root ../shared/data/crackforest \
        [--converted DIR] [--work-dir work_dirs/any_head] \
        [--rows ROW ...] [--epochs 25] [--doc FILE.md]

For each family (DeepLabV3+ and FCN on ResNet-18-D8, UPerNet on ResNet-18,
SegFormer on MiT-B0, configs/any_head/) two rows: mmseg's own
EncoderDecoder with softmax cross-entropy (``*_crackforest.py``), and the
same model with an MC-dropout tail and a learned variance
(``*_mcdropout_crackforest.py``, the few config lines of the README). Both
are trained as benchmarks/real_data.py trains its rows: converted with
tools/dataset_converters/crackforest.py (or ``--converted``), the
converter's class weight, 256x256 crops, batch 4, ``--epochs`` epochs
validating every 5 and keeping the best checkpoint by validation mIoU,
seed 0, from random weights on CPU; tested with tools/test.py and
calibrated on the validation split with tools/calibrate.py. Rows resume
and fail separately as there. The table goes between the ``any-head``
markers of ``--doc``.
"""
import sys

from spotrust_mm.benchmarking import (CPU_SCHEDULE, benchmark_parser,
                                      collect_results,
                                      convert, parse_benchmark_args,
                                      provenance, report, row_options,
                                      row_table, run_rows, run_seeds)

FAMILIES = {
    'segformer_mit_b0': 'SegFormer MiT-B0 (SegformerHead)',
    'deeplabv3plus_r18': 'DeepLabV3+ R18-D8 (DepthwiseSeparableASPPHead)',
    'fcn_r18': 'FCN R18-D8 (FCNHead)',
    'upernet_r18': 'UPerNet R18 (UPerHead)',
}
ROWS = {}
for _name, _label in FAMILIES.items():
    ROWS[f'{_name}_plain'] = (
        'train', f'configs/any_head/{_name}_crackforest.py',
        f'{_label}, plain mmseg (softmax CE)')
    ROWS[f'{_name}_mcdropout'] = (
        'train', f'configs/any_head/{_name}_mcdropout_crackforest.py',
        f'{_label} + MC-dropout tail + learned variance')
BEGIN, END = '<!-- any-head:begin -->', '<!-- any-head:end -->'


def main(argv=None):
    p = benchmark_parser(__doc__, 'CrackForest-format folder',
                         'work_dirs/any_head', ROWS, 25)
    args = parse_benchmark_args(p, argv, __file__)
    data = convert(args)
    opts = row_options('train', args, data, CPU_SCHEDULE)
    failed = run_rows(args.rows, lambda name: run_seeds(
        name, args, data, ROWS[name], [None], opts))
    results = collect_results(ROWS, args.work_dir, failed)
    text = row_table(results)
    return report(text, args.doc, failed, BEGIN, END,
                  head=provenance(args, data))


if __name__ == '__main__':
    sys.exit(main())
