"""The emulated cloud's delivery (faults.py): at least once and sometimes late by default, as AWS documents it,
drawn from a seed so that a failed test's draws can be made again; exactly once when a test asks. Run by
tests/run.sh."""

import unittest

from ..faults import DEFAULT_DELIVERY, Faults


class Delivery(unittest.TestCase):
    def draws(self, faults: Faults, n: int) -> list[list[float]]:
        return [faults.deliveries("ecsub-task-stopped") for _ in range(n)]

    def test_delivery_is_at_least_once_and_sometimes_late_by_default(self):
        faults = Faults(seed=7)
        draws = self.draws(faults, 10_000)
        twice = sum(1 for d in draws if len(d) == 2)
        late = sum(1 for d in draws for delay in d if delay > 0)
        copies = sum(len(d) for d in draws)
        # 4 % twice and 10 % of copies late, within what 10 000 draws allow.
        self.assertTrue(0.03 < twice / 10_000 < 0.05, twice)
        self.assertTrue(0.08 < late / copies < 0.12, late)
        self.assertTrue(all(0 <= delay <= DEFAULT_DELIVERY.delay_ms[1] / 1000 for d in draws for delay in d))
        self.assertEqual((faults.duplicated, faults.delayed), (twice, late))

    def test_one_seed_draws_the_same_duplicates_and_delays_again(self):
        self.assertEqual(self.draws(Faults(seed=11), 500), self.draws(Faults(seed=11), 500))
        self.assertNotEqual(self.draws(Faults(seed=11), 500), self.draws(Faults(seed=12), 500))

    def test_a_test_that_counts_calls_gets_exactly_once(self):
        faults = Faults(seed=7)
        faults.add({"kind": "delivery", "function": None, "duplicate": 0, "late": 0})
        self.assertEqual(self.draws(faults, 2_000), [[0.0]] * 2_000)

    def test_a_duplicating_fault_delivers_every_event_twice_each_copy_late(self):
        faults = Faults(seed=7)
        faults.add({"kind": "delivery", "function": "ecsub-task-stopped", "duplicate": True, "delay_ms": [100, 200]})
        for draw in self.draws(faults, 200):
            self.assertEqual(len(draw), 2)
            self.assertTrue(all(0.1 <= delay <= 0.2 for delay in draw), draw)
        # Another function keeps the default.
        self.assertTrue(any(len(faults.deliveries("ecsub-launcher")) == 2 for _ in range(500)))


if __name__ == "__main__":
    unittest.main()
