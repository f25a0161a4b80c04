"""Write a trained checkpoint as a shipped one, as mmseg's
``tools/misc/publish_model.py`` does: the weights and the ``meta`` a model
needs, no optimiser or training config, half precision where exact to
``2**-10``, the first 8 hex digits of its SHA-256 in the name.

    python tools/misc/publish_model.py IN_FILE NAME [--out-dir DIR]
        [--full-precision] [--meta KEY=VALUE ...]

Prints the written path, for the ``Weights`` of a metafile entry
(``spotrust://<file name>`` when written to spotrust_mm/weights).
"""
import argparse
import sys

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from spotrust_mm.apis.zoo import WEIGHTS_DIR, publish_checkpoint


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('in_file')
    p.add_argument('name', help='file name before the hash')
    p.add_argument('--out-dir', default=WEIGHTS_DIR)
    p.add_argument('--full-precision', action='store_true',
                   help='keep every tensor in its own dtype')
    p.add_argument('--meta', nargs='+', default=[], metavar='KEY=VALUE',
                   help='added to the checkpoint meta (strings)')
    args = p.parse_args(argv)
    extra = {}
    for item in args.meta:
        if '=' not in item:
            p.error(f'--meta takes KEY=VALUE, got {item!r}')
        key, value = item.split('=', 1)
        extra[key] = value
    print(publish_checkpoint(args.in_file, args.out_dir, args.name,
                             half=not args.full_precision,
                             extra_meta=extra))
    return 0


if __name__ == '__main__':
    sys.exit(main())
