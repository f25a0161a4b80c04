"""Serve a model as a Label Studio ML backend: pre-annotations with their
uncertainty, and a task score to sort the queue by.

    python tools/label_studio_backend.py CONFIG [CHECKPOINT] [--port 9090]
        [--host 127.0.0.1] [--label-studio-url http://localhost:8080]
        [--api-key TOKEN] [--local-root DIR ...]
        [--strategy mutual_information] [--aggregation patch_max]
        [--patch 64] [--fraction 0.05] [--tolerance 0.5] [--min-area 4]
        [--low-confidence 0.75] [--review-epistemic E]
        [--slide CROP STRIDE] [--num-samples N] [--device cpu]
        [--cfg-options k=v ...]

In Label Studio: Settings > Model > Connect Model, URL
``http://127.0.0.1:9090``; then select tasks and "Retrieve Predictions",
and sort the queue by "Prediction score", highest first
(docs/labelling.md). The labelling config must have a ``<PolygonLabels>``
on an ``<Image>`` with one ``<Label>`` per class of the model (but
background), and may add ``uncertain`` for the marks of unsure pixels.

Each task gets one polygon per predicted region with its mean confidence
(as the region's score) and mean epistemic uncertainty; the task's score
is the photo score tools/select_for_labelling.py ranks by
(``--strategy``/``--aggregation``), so that the most informative photos
come first. Images are fetched from Label Studio with ``--api-key``
(default ``$LABEL_STUDIO_API_KEY``, else the token Label Studio sends in
``/setup``), or read from its local storage under ``--local-root``
folders only. The server listens on 127.0.0.1 unless ``--host`` says
otherwise. Bad settings stop it at start-up with exit status 2.
"""
import argparse
import os
import sys

import spotrust_mm  # noqa: F401  (registers plugins, mmcv-lite shim)
from spotrust_mm.apis import (add_inference_args, add_region_args,
                              add_scoring_args, init_checked_model,
                              load_inference_config, resolved_model)
from spotrust_mm.apis.label_studio import (ImageSource, LabelStudioBackend,
                                           is_loopback, serve)
from spotrust_mm.apis.labelling import check_strategy
from spotrust_mm.apis.zoo import resolve_model


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?',
                   help='checkpoint (not for an ensemble config)')
    p.add_argument('--port', type=int, default=9090)
    p.add_argument('--host', default='127.0.0.1',
                   help='address to listen on (default 127.0.0.1: this '
                   'machine only)')
    p.add_argument('--label-studio-url',
                   help="Label Studio's address, for its images (default: "
                   'the one its /setup call names)')
    p.add_argument('--api-key', default=os.environ.get(
        'LABEL_STUDIO_API_KEY'), help='Label Studio API token (default '
        '$LABEL_STUDIO_API_KEY, else the one /setup sends)')
    p.add_argument('--local-root', action='append', default=[],
                   help="a folder Label Studio's local storage serves "
                   '(repeatable); no other file is ever read')
    p.add_argument('--slide', nargs=2, type=int, metavar=('CROP', 'STRIDE'),
                   help='sliding-window inference for large photos')
    add_scoring_args(p)
    add_region_args(p)
    add_inference_args(p)
    args = p.parse_args(argv)
    if args.patch < 1 or not 0 < args.fraction <= 1:
        p.error('--patch must be >= 1 and --fraction in (0, 1]')
    return args


def main(argv=None):
    args = parse_args(argv)
    resolved = resolved_model(resolve_model, args.config, args.checkpoint)
    if resolved is None:
        return 2
    args.config, args.checkpoint = resolved
    cfg = load_inference_config(args.config, args.checkpoint,
                                args.cfg_options, args.num_samples,
                                args.slide, args.device)
    model = init_checked_model(cfg, args.checkpoint, args.config,
                               device=args.device)
    try:
        strategy = check_strategy(model, args.config, args.strategy,
                                  args.review_epistemic)
        if strategy == 'random':
            raise ValueError('--strategy random does not rank a queue; '
                             'use entropy, epistemic or mutual_information')
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    backend = LabelStudioBackend(
        model, ImageSource(args.label_studio_url, args.api_key,
                           args.local_root),
        strategy, args.aggregation,
        dict(tolerance=args.tolerance, min_area=args.min_area,
             low_confidence=args.low_confidence,
             review_epistemic=args.review_epistemic, patch=args.patch,
             fraction=args.fraction),
        model_version=os.path.basename(args.checkpoint or args.config))
    server = serve(backend, args.host, args.port)
    if not is_loopback(args.host):
        print(f'warning: listening on {args.host}: other machines can '
              'reach this backend', file=sys.stderr)
    print(f'Label Studio ML backend on http://{args.host}:'
          f'{server.server_port} ({type(model).__name__}, classes '
          f'{backend.classes[1:]}, task score {strategy}/'
          f'{args.aggregation})', flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
