"""keep_freed_memory: large freed blocks are reused, not mapped afresh."""
import subprocess
import sys

import pytest

PROBE = '''
import resource, sys
import torch
from spotrust_mm.allocator import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == 'keep' else None
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
def step():  # two 64 MiB tensors, touched, then freed, as a head chunk
    a = torch.ones(16, 1024, 1024)
    b = a * 2
    del a, b
counts = []  # faults per step; the heap may still grow in some
for _ in range(8):
    start = faults()
    step()
    counts.append(faults() - start)
print(applied, min(counts))
'''


@pytest.mark.skipif(not sys.platform.startswith('linux'),
                    reason='glibc mallopt')
def test_freed_blocks_are_reused_without_page_faults():
    def run(mode):
        out = subprocess.run([sys.executable, '-c', PROBE, mode],
                             capture_output=True, text=True, check=True)
        applied, faults = out.stdout.split()
        return applied, int(faults)

    applied, kept = run('keep')
    if applied != 'True':
        pytest.skip('not glibc: keep_freed_memory changes nothing here')
    _, default = run('default')
    # 128 MiB touched afresh: about 32,000 faults of 4 KiB pages
    assert default > 20_000
    assert kept < default / 20
