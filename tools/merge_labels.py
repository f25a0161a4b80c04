"""Add newly labelled photos to the training split of a converted dataset.

    python tools/merge_labels.py NEW DATASET [--allow-new-suffix]

NEW is what a converter wrote from the new labels (every split of it is
added; convert with ``--split 1 0 0`` to keep them in one place), e.g.
the photos tools/select_for_labelling.py chose, corrected in LabelMe:

    python tools/dataset_converters/labelme.py to_label/ -o new_batch \
        --split 1 0 0
    python tools/merge_labels.py new_batch data/my_defects

Only DATASET's training split grows: its validation and test photos and
masks stay byte for byte as they were, so scores before and after the
merge compare. dataset_info.json gets the new training counts, the class
weight suggested for the grown training split (set it in the config, as
after a conversion) and a ``merged`` entry. A stem already in DATASET is
refused, as are other classes and masks with labels outside them; nothing
is changed then. The copies are written under temporary names and renamed
into place once all are written and checked.
"""
import argparse

from spotrust_mm.datasets.conversion import converter_main
from spotrust_mm.datasets.conversion.merge import merge_into_train


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('new', help='converted folder of the new labels')
    p.add_argument('dataset', help='converted dataset to add them to')
    p.add_argument('--allow-new-suffix', action='store_true',
                   help='accept photos with an extension no training '
                   'photo has')
    args = p.parse_args(argv)
    info = merge_into_train(args.new, args.dataset, args.allow_new_suffix)
    added = info['merged'][-1]['stems']
    print(f'added {len(added)} photo(s) to {args.dataset}: train '
          f'{info["splits"]["train"]}, val {info["splits"].get("val")}, '
          f'test {info["splits"].get("test")} (unchanged)')
    print(f'suggested class_weight: {info["class_weight"]}')
    return info


if __name__ == '__main__':
    converter_main(main)
