"""Precision and recall of the default detection rules (issue 16, point 2).

    .venv/bin/python benchmarks/detection.py [--labels benchmarks/data/detection_labels.jsonl] [--show-misses]

Reads a labelled set of update texts (one JSON object a line: ``text``, and the ``decisions``,
``blockers`` and ``entities`` a reader would record from it), runs :func:`msp._model.detect.detect`
with the default rules on each text, and counts per kind: a detected decision or blocker is a
true positive when its clause contains one of the text's labels of that kind (each label is
used once), an entity when its name equals a label. The set was written for this benchmark:
realistic engineer updates, many of them hard negatives (the trigger words used for something
else: "updated the decisions page", "triaged the blocked-accounts report", questions,
negations, conditions, bug reports), and a section of hard cases labelled as a reader would,
whatever the rules do.

Also times the detector over the whole set against reading the same texts with one compiled
regex search (the floor of any regex detector), and prints the ratio. Goal: precision >= 0.9
for decisions and blockers. The exit status is 1 when the goal is missed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from msp._model.detect import DEFAULT_RULES, Found, detect

LABELS = Path(__file__).resolve().parent / "data" / "detection_labels.jsonl"
KINDS = ("decision", "blocker", "entity")
GOAL = 0.9


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def _matches(kind: str, found: Found, label: str) -> bool:
    if kind == "entity":
        return found.text == label
    return label.casefold() in found.text.casefold()


def score(rows: list[dict[str, Any]]) -> dict[str, Score]:
    scores = {k: Score() for k in KINDS}
    for row in rows:
        found = detect(row["text"], DEFAULT_RULES)
        for kind in KINDS:
            labels = list(row[kind + "s"] if kind != "entity" else row["entities"])
            s = scores[kind]
            for f in (f for f in found if f.kind == kind):
                hit = next((lab for lab in labels if _matches(kind, f, lab)), None)
                if hit is None:
                    s.fp += 1
                    s.misses.append(f"false {kind}: {f.text!r}  <- {row['text']!r}")
                else:
                    labels.remove(hit)
                    s.tp += 1
            s.fn += len(labels)
            s.misses += [f"missed {kind} {lab!r}  <- {row['text']!r}" for lab in labels]
    return scores


def _timed(texts: list[str], repeat: int) -> tuple[float, float]:
    floor = re.compile(r"\b(?:decided|chose|going with|will use|blocked by|waiting on|stuck on)\b", re.I)
    detect("warm up `Compiled` rules")  # compiled once per rule set, on first use
    start = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            detect(text)
    ours = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(repeat):
        for text in texts:
            floor.findall(text)
    return ours, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--show-misses", action="store_true", help="List every false and missed item.")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    scores = score(rows)
    negatives = sum(1 for r in rows if not r["decisions"] and not r["blockers"])
    print(f"{len(rows)} labelled texts ({negatives} with no decision or blocker)")
    for kind in KINDS:
        s = scores[kind]
        print(f"{kind:9s} precision {s.precision:.3f}  recall {s.recall:.3f}  (tp {s.tp}, fp {s.fp}, fn {s.fn})")
    ours, floor = _timed([r["text"] for r in rows], args.repeat)
    per_text_us = ours / (len(rows) * args.repeat) * 1e6
    print(f"detector {per_text_us:.1f} us per text; vs one regex search: {ours / floor:.1f}x")
    met = all(scores[k].precision >= GOAL for k in ("decision", "blocker"))
    print(f"goal precision >= {GOAL} for decisions and blockers: {'met' if met else 'NOT met'}")
    if args.show_misses:
        for kind in KINDS:
            for line in scores[kind].misses:
                print("  " + line)
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
