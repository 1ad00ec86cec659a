//! How fast to launch: the launcher's estimate of what EC2 lets this account launch now, so that one job's
//! launches go out as a few large RunInstances calls (MinCount 1, MaxCount n) at the pace EC2's buckets refill,
//! instead of one call per task that throttles and backs off. Pure: the caller says what time it is and what EC2
//! answered.
//!
//! EC2 meters RunInstances per account and Region with two token buckets ("Request throttling for the Amazon EC2
//! API", EC2 Developer Guide): each call takes one token from a bucket of 5 that refills 2 a second, and each
//! instance one from a bucket of 1 000 that refills 2 a second; "you can immediately launch 1000 instances, using
//! any number of API requests". A call short of tokens is refused with RequestLimitExceeded and takes nothing.
//! Others in the account (another job, another stack, an Auto Scaling group) spend the same tokens, so the
//! launcher cannot know how many are left: it starts from the documented buckets, full, and learns from EC2's
//! answers — a refused call halves what it asks for, and in the steady state halves the share of the refill it
//! believes is its own; every call that goes through gives some of that share back.

/// A token bucket as EC2 documents it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub capacity: f64,
    /// Tokens a second.
    pub refill: f64,
}

impl Bucket {
    /// `tokens` after `seconds` of refill at `share` of the bucket's rate, never past its capacity.
    pub fn refilled(&self, tokens: f64, seconds: f64, share: f64) -> f64 {
        (tokens + seconds.max(0.0) * self.refill * share).min(self.capacity)
    }
}

/// RunInstances' request bucket: one token a call.
pub const RUN_INSTANCES_CALLS: Bucket = Bucket {
    capacity: 5.0,
    refill: 2.0,
};
/// RunInstances' resource bucket: one token an instance.
pub const RUN_INSTANCES_INSTANCES: Bucket = Bucket {
    capacity: 1000.0,
    refill: 2.0,
};

/// The least share of the refill the launcher believes is its own: it never stops asking altogether.
const MIN_SHARE: f64 = 1.0 / 64.0;
/// What a call that goes through gives back to the believed share.
const SHARE_STEP: f64 = 0.05;
/// A call is worth making once it can launch what this many seconds of (believed) refill bring, or everything
/// that waits: fewer, larger calls, and at most one a second in the steady state (the call bucket refills 2).
const BATCH_SECONDS: f64 = 1.0;

/// What EC2 answered a RunInstances call of the launcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This many instances were launched.
    Launched(u32),
    /// RequestLimitExceeded: nothing was launched and no token taken.
    Throttled,
}

/// The launcher's next step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ask {
    /// Call RunInstances now for this many instances (MaxCount; MinCount 1).
    Now(u32),
    /// Nothing worth a call before this time (seconds, the caller's clock).
    At(f64),
}

/// What the launcher believes EC2 would let it launch, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Pace {
    instances: f64,
    calls: f64,
    at: f64,
    share: f64,
}

impl Pace {
    /// A launcher that has not called yet: EC2's buckets believed full, the whole refill believed its own.
    pub fn new(now: f64) -> Self {
        Pace {
            instances: RUN_INSTANCES_INSTANCES.capacity,
            calls: RUN_INSTANCES_CALLS.capacity,
            at: now,
            share: 1.0,
        }
    }

    /// The share of EC2's refill the launcher believes is its own (1: nobody else launches).
    pub fn share(&self) -> f64 {
        self.share
    }

    fn refill_to(&mut self, now: f64) {
        let elapsed = now - self.at;
        self.instances = RUN_INSTANCES_INSTANCES.refilled(self.instances, elapsed, self.share);
        self.calls = RUN_INSTANCES_CALLS.refilled(self.calls, elapsed, self.share);
        self.at = self.at.max(now);
    }

    /// Instances a call is worth making for, with `waiting` instances wanted.
    fn batch(&self, waiting: usize) -> f64 {
        let steady = (RUN_INSTANCES_INSTANCES.refill * self.share * BATCH_SECONDS).max(1.0);
        steady.min(waiting as f64)
    }

    /// What to do now, with `waiting` instances wanted.
    pub fn ask(&mut self, now: f64, waiting: usize) -> Ask {
        self.refill_to(now);
        if waiting == 0 {
            return Ask::At(f64::INFINITY);
        }
        let batch = self.batch(waiting);
        // Refill is arithmetic on seconds: a token short by rounding is not worth a wait the clock cannot show.
        const EPSILON: f64 = 1e-6;
        let mut wait: f64 = 0.0;
        if self.calls + EPSILON < 1.0 {
            wait = wait.max((1.0 - self.calls) / (RUN_INSTANCES_CALLS.refill * self.share));
        }
        if self.instances + EPSILON < batch {
            wait =
                wait.max((batch - self.instances) / (RUN_INSTANCES_INSTANCES.refill * self.share));
        }
        if wait > 0.0 {
            return Ask::At(now + wait);
        }
        let n = ((self.instances + EPSILON).floor() as usize)
            .min(waiting)
            .max(1);
        Ask::Now(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// EC2's answer to a call for `asked` instances made at `now`.
    pub fn answered(&mut self, now: f64, asked: u32, answer: Answer) {
        self.refill_to(now);
        match answer {
            Answer::Launched(n) => {
                self.instances = (self.instances - f64::from(n)).max(0.0);
                self.calls = (self.calls - 1.0).max(0.0);
                self.share = (self.share + SHARE_STEP).min(1.0);
            }
            Answer::Throttled => {
                // Fewer tokens than `asked` were left. A call of one second's refill or less refused means the
                // refill is shared: believe half the share. Either way ask for half next time.
                if f64::from(asked) <= self.batch(usize::MAX) {
                    self.share = (self.share / 2.0).max(MIN_SHARE);
                }
                self.instances = (f64::from(asked) / 2.0).floor();
                self.calls = 0.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_launcher_asks_for_everything_that_waits_up_to_the_full_bucket() {
        let mut pace = Pace::new(0.0);
        assert_eq!(pace.ask(0.0, 300), Ask::Now(300));
        assert_eq!(pace.ask(0.0, 5000), Ask::Now(1000));
        assert_eq!(pace.ask(0.0, 0), Ask::At(f64::INFINITY));
    }

    #[test]
    fn after_the_bucket_it_asks_once_a_second_for_a_seconds_refill() {
        let mut pace = Pace::new(0.0);
        pace.answered(0.0, 1000, Answer::Launched(1000));
        match pace.ask(0.0, 10) {
            Ask::At(t) => assert!((t - 1.0).abs() < 1e-9, "{t}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(pace.ask(1.0, 10), Ask::Now(2));
        pace.answered(1.0, 2, Answer::Launched(2));
        assert_eq!(pace.ask(1.5, 10), Ask::At(2.0));
    }

    #[test]
    fn a_refused_call_halves_the_ask_and_in_the_steady_state_the_share() {
        let mut pace = Pace::new(0.0);
        pace.answered(0.0, 1000, Answer::Throttled);
        assert_eq!(
            pace.share(),
            1.0,
            "a refused burst says nothing of the refill"
        );
        assert!(
            matches!(pace.ask(0.0, 2000), Ask::At(_)),
            "no call token left"
        );
        assert_eq!(pace.ask(0.5, 2000), Ask::Now(501));
        pace.answered(0.5, 501, Answer::Launched(501));
        pace.answered(0.5, 2, Answer::Throttled);
        assert_eq!(pace.share(), 0.5);
        pace.answered(1.0, 1, Answer::Throttled);
        assert_eq!(pace.share(), 0.25);
        for _ in 0..100 {
            pace.answered(2.0, 1, Answer::Throttled);
        }
        assert_eq!(pace.share(), MIN_SHARE, "it never stops asking");
        pace.answered(3.0, 1, Answer::Launched(1));
        assert!(pace.share() > MIN_SHARE);
    }

    /// Others drained the instance bucket (10 left, refilling 5 a second here, as the 50-task end-to-end test
    /// shrinks it): 50 waiting asks are launched within a few seconds of what the refill allows, not at a call
    /// every half minute.
    #[test]
    fn with_the_instance_bucket_drained_by_others_it_finds_the_refill_soon() {
        let (mut real_instances, mut real_calls, mut at) = (10.0f64, 5.0f64, 0.0f64);
        let mut pace = Pace::new(0.0);
        let (mut waiting, mut now) = (50u32, 0.0f64);
        while waiting > 0 && now < 600.0 {
            match pace.ask(now, waiting as usize) {
                Ask::Now(n) => {
                    real_instances = (real_instances + (now - at) * 5.0).min(10.0);
                    real_calls = (real_calls + (now - at) * 2.0).min(5.0);
                    at = now;
                    if real_calls >= 1.0 && real_instances >= f64::from(n) {
                        real_calls -= 1.0;
                        real_instances -= f64::from(n);
                        waiting -= n;
                        pace.answered(now, n, Answer::Launched(n));
                    } else {
                        pace.answered(now, n, Answer::Throttled);
                    }
                }
                Ask::At(t) => now = t.max(now + 1e-3),
            }
        }
        // 10 at once, then 5 a second: the 50th could go at 8 s.
        assert_eq!(waiting, 0);
        assert!(now < 40.0, "the last launch at {now} s");
    }
}
