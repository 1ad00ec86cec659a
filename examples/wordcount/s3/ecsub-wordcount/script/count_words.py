#!/usr/bin/env python3
"""Count the words of a text: one `count<TAB>word` line per distinct word, most frequent first.

A word is a run of letters, possibly with inner apostrophes or hyphens ("'tis" counts as "tis", "o'er" as
"o'er"); case is folded. Ties are broken alphabetically so that the output is the same on every run.
"""

import collections
import re
import sys

WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")


def count_words(text):
    return collections.Counter(m.group(0).casefold().replace("\u2019", "'") for m in WORD.finditer(text))


def main(argv):
    if len(argv) != 2:
        print("usage: count_words.py TEXT_FILE", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        counts = count_words(f.read())
    out = sys.stdout
    for word, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        out.write(f"{n}\t{word}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
