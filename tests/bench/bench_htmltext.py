"""HTML mail to text: ours, html2text and inscriptis on the mail corpus.

Run: python -m tests.bench.bench_htmltext [--rounds 200]
For every corpus mail with an HTML body (tests/bench/htmltext_corpus.py) prints whether
each converter gives the desk the right text (after ``strip_reply``, against the sender's
own plain part), then the mean time per mail over ``rounds`` conversions of the corpus.
Never asserts: tests/unit/test_htmltext_measured.py holds what must stay true.
"""

from __future__ import annotations

import argparse
import time

from tests.bench.htmltext_corpus import CONVERTERS, desk_text, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    corpus = samples()
    width = max(len(s.name) for s in corpus)
    print(f"{'mail':{width}}  " + "  ".join(f"{name:>18}" for name in CONVERTERS))
    right = dict.fromkeys(CONVERTERS, 0)
    for sample in corpus:
        marks = []
        for name, convert in CONVERTERS.items():
            ok = desk_text(convert(sample.html)) == sample.expected
            right[name] += ok
            marks.append(f"{'right' if ok else 'WRONG':>18}")
        print(f"{sample.name:{width}}  " + "  ".join(marks))
    print(f"{'right, of ' + str(len(corpus)):{width}}  "
          + "  ".join(f"{right[name]:>18}" for name in CONVERTERS))
    timings = []
    for convert in CONVERTERS.values():
        started = time.perf_counter()
        for _ in range(rounds):
            for sample in corpus:
                convert(sample.html)
        timings.append((time.perf_counter() - started) / (rounds * len(corpus)))
    print(f"{'µs per mail':{width}}  " + "  ".join(f"{t * 1e6:>18.0f}" for t in timings))


if __name__ == "__main__":
    main()
