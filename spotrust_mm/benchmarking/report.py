"""Where a benchmark's tables go: between markers of a markdown file
(the work dir's ``benchmarks.md`` unless ``--doc`` names another, so that a
run on other data never rewrites the project's ``docs/benchmarks.md``),
under a line naming the data and the command that produced them."""
import json
import os
import os.path as osp
import sys

from ..fileio import write_text
from . import REPO

BEGIN, END = '<!-- real-data:begin -->', '<!-- real-data:end -->'


def write_doc(doc: str, text: str, begin: str = BEGIN,
              end: str = END) -> None:
    """Put ``text`` between the ``begin`` and ``end`` markers of ``doc``
    (appended with them if it has none; a new ``doc`` is created)."""
    BEGIN, END = begin, end  # noqa: N806
    content = ''
    if osp.isfile(doc):
        with open(doc) as f:
            content = f.read()
    else:
        os.makedirs(osp.dirname(osp.abspath(doc)), exist_ok=True)
    block = f'{BEGIN}\n{text}\n{END}'
    if BEGIN in content and END in content:
        a, b = content.index(BEGIN), content.index(END) + len(END)
        content = content[:a] + block + content[b:]
    else:
        content = (content.rstrip('\n') + '\n\n' if content else '') + \
            block + '\n'
    write_text(doc, content)


def provenance(args, data: str) -> str:
    """The line above a table that says which data and which command
    produced it: the converted folder, its source and split sizes."""
    path = osp.join(data, 'dataset_info.json')
    info = dict(source='no dataset_info.json')
    if osp.isfile(path):
        with open(path) as f:
            info = json.load(f)
    splits = info.get('splits', {})
    command = ' '.join(['python', osp.relpath(args.script, REPO)] +
                       list(args.argv))
    return (f'Data: `{data}` ({info.get("source", "unknown source")}; '
            + ', '.join(f'{k} {v}' for k, v in splits.items()) +
            f' images). Command: `{command}`.')


def report(text: str, doc, failed: dict, begin: str = BEGIN,
           end: str = END, head: str = '') -> int:
    """Print ``text`` (under ``head``, e.g. its :func:`provenance`),
    write it between the markers of ``doc`` (if any), name the failed
    rows; the exit status (1 if any failed)."""
    if head:
        text = head + '\n\n' + text
    print(text)
    if doc:
        write_doc(doc, text, begin, end)
        print(f'written to {doc}')
    if failed:
        print(f'{len(failed)} row(s) failed: {", ".join(failed)} (their '
              'run.log in the work dir says why)', file=sys.stderr)
        return 1
    return 0
