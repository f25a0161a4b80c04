"""What the tools share, as mmseg keeps ``mmseg/apis``: argument
handling, configs and checkpoints, image listing, and folder inference
with its resume bookkeeping. Tools in ``tools/`` are thin scripts over
these."""
from .checkpoint import (init_checked_model, load_checked_checkpoint,
                         state_mismatch)
from .cli import (LAUNCHERS, add_cfg_options_arg, add_inference_args,
                  add_launcher_args, add_region_args, add_runner_args,
                  add_scoring_args, cfg_options_dict, finish_distributed,
                  parse_runner_args, resolved_model)
from .config import (check_checkpoint, ensemble_config_text, last_checkpoint,
                     load_inference_config, load_runner_config, read_config,
                     trained_checkpoint, write_ensemble_config)
from .images import image_inputs
from .pretrained import (PretrainedWeightsUnavailable,
                         check_pretrained_weights, pretrained_weights)

__all__ = [
    'init_checked_model', 'load_checked_checkpoint', 'state_mismatch',
    'LAUNCHERS', 'add_cfg_options_arg', 'add_inference_args',
    'add_launcher_args', 'add_runner_args', 'finish_distributed',
    'add_region_args', 'add_scoring_args',
    'cfg_options_dict',
    'parse_runner_args', 'resolved_model',
    'check_checkpoint', 'last_checkpoint', 'load_inference_config',
    'load_runner_config', 'read_config', 'trained_checkpoint',
    'ensemble_config_text', 'write_ensemble_config',
    'image_inputs', 'PretrainedWeightsUnavailable',
    'check_pretrained_weights', 'pretrained_weights'
]
