"""Copying one store's event log into another (``msp store copy``), through the store interface.

Events keep their ids, times, sources and data; each is appended to the target in the source's
order, so the target folds its own projections (sessions, blockers, the state hooks read) as
it goes, exactly as if the commands had run against it. Copying is idempotent: an event whose
id the target already holds is skipped, so a second run copies nothing and an interrupted run
carries on where it stopped. Each batch is one transaction on the target: an interruption keeps
whole batches, never part of one.

The outbox and the hook failures are not copied: they belong to the store that planned them.
Integrations enabled on the target back-fill from the copied events with ``msp replay``, so
nothing is delivered twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from msp._store.interface import Store

#: Events per transaction on the target: large enough that a round trip per batch is noise,
#: small enough that an interruption loses little work and others' appends wait little.
BATCH = 500


@dataclass
class CopyReport:
    """What a copy found and did."""

    #: Events in the source when the copy started (a live source may gain more meanwhile).
    total: int
    copied: int = 0
    #: Events the target held already (copied by an earlier run, or recorded there).
    present: int = 0

    @property
    def seen(self) -> int:
        return self.copied + self.present

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.total, "copied": self.copied, "already_there": self.present}


def copy_events(source: Store, target: Store, *, batch: int = BATCH,
                progress: Callable[[CopyReport], None] | None = None) -> CopyReport:
    """Append every event of ``source`` that ``target`` lacks, in order; see the module doc.

    ``progress`` is called after each batch commits. A failure raises the backend's
    :class:`msp.errors.StoreError` with what was committed kept; running it again is safe.
    """
    with source.read() as tx:
        report = CopyReport(tx.count_events())
    after = 0
    while True:
        with source.read() as tx:
            events = tx.events_since(after, limit=batch)
        if not events:
            return report
        with target.write() as out:
            present = out.events_present([e.id for e in events])
            copied = 0
            for event in events:
                if event.id not in present:
                    out.append(event)
                    copied += 1
        report.copied += copied
        report.present += len(events) - copied
        after = events[-1].seq or after
        if progress is not None:
            progress(report)
