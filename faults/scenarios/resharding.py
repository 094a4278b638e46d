"""Live resharding: slots migrate key batch by key batch while the workers use them."""

from __future__ import annotations

from typing import List, Set, Tuple

from .. import resp
from ..runner import Context, Scenario


def tag_for_slot(slot: int) -> str:
    """A hash tag whose keys hash to ``slot``."""
    i = 0
    while resp.key_slot(f"t{i}") != slot:
        i += 1
    return f"t{i}"


class SlowMigration(Scenario):
    name = "reshard_slow"
    measures_recovery = False
    family = "resharding"
    title = "Live resharding, slow migration (8 slots, 5 keys per MIGRATE)"
    what = ("8 slots holding every worker's keys (plus 30 filler keys each) migrate to another "
            "primary 5 keys per MIGRATE, the workload running between batches: ASK, TRYAGAIN, "
            "then MOVED.")
    promotion_expected = False
    slot_count = 8
    batch = 5
    pause_ops = 20

    def chosen_slots(self, ctx: Context) -> List[int]:
        own = sorted(self.victim_slots(ctx))
        step = max(1, len(own) // self.slot_count)
        return own[::step][: self.slot_count]

    def make_keys(self, ctx: Context) -> Tuple[List[List[str]], Set[str]]:
        self._slots = self.chosen_slots(ctx)
        tags = [tag_for_slot(s) for s in self._slots]
        per = [[f"{{{tags[(t + j) % len(tags)]}}}:f:{self.name}:{ctx.adapter.name}:{ctx.seed}:"
                f"{t}:{j}"
                for j in range(12)] for t in range(self.threads)]
        return per, {k for ks in per for k in ks}

    def prepare(self, ctx: Context) -> None:
        assert ctx.victim is not None
        fill = 30 if self.slot_count <= 16 else 2
        with resp.RawConnection(ctx.victim.address) as conn:
            for s in self._slots:
                tag = tag_for_slot(s)
                args: List[str] = []
                for i in range(fill):
                    args += [f"{{{tag}}}:fill:{i}", "f"]
                conn.call("MSET", *args)

    def fault(self, ctx: Context) -> None:
        assert ctx.victim is not None and ctx.workload is not None
        wl = ctx.workload
        target = next(p for p in ctx.lc.primaries() if p is not ctx.victim)
        ctx.mark()

        def between() -> None:
            if self.pause_ops:
                wl.progressed(self.pause_ops, 0.3)

        ctx.lc.migrate_slots(self._slots, ctx.victim, target, keys_batch=self.batch,
                             between_keys=between, timeout=240)


class ManySlots(SlowMigration):
    name = "reshard_many"
    title = "Live resharding, many slots"
    what = ("Many slots (32 in the short profile, 160 in the full one) migrate to another "
            "primary 100 keys per MIGRATE without pauses, while the workers use keys in all "
            "of them.")
    batch = 100
    pause_ops = 0

    def chosen_slots(self, ctx: Context) -> List[int]:
        own = sorted(self.victim_slots(ctx))
        return own[: ctx.profile.many_slots]
