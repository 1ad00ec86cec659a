//! A job's launches in virtual time, against EC2's RunInstances buckets as documented ([`super::pace`]): what no
//! machine here can run (10 000 instances), with the real decision logic. Three launchers meet the same tasks:
//! - [`Launcher::Paced`]: one launcher for the job, batching what waits in the order it asked, at the pace
//!   [`Pace`] believes EC2 allows;
//! - [`Launcher::PerTask`]: each task calling for its own instance, as the state machine did until 2026-12, a
//!   refused call retried with its Retry policy (5 s doubling to 300 s, full jitter, 30 times; then the task fails);
//! - [`Launcher::Oracle`]: the best any launcher could do, seeing the buckets: it launches everything that waits
//!   whenever there are tokens. Its last launch is the bound the others are measured against.
//!
//! The account's other tenant takes a share of both buckets' refill (another job, another stack). Tasks ask for an
//! instance at most `processes` at a time, each as its child execution starts: a Map run starts at most 100 children
//! a second ("Step Functions service quotas": it "dispatches … standard executions at up to 100 TPS"; see
//! [`CHILD_STARTS_PER_SECOND`]); a launched task runs `task_seconds` and frees its place for the next.
//! A task that waits longer than `patience` fails. The paced launcher sees the asks a batching window (a second) at
//! a time, as the launch queue's event source mapping gathers them. RunInstances answers at once; boots are not
//! modelled.
//! Pure and deterministic (the jitter comes from a seeded generator).

use super::pace::{Answer, Ask, Pace, RUN_INSTANCES_CALLS, RUN_INSTANCES_INSTANCES};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// One run's conditions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scenario {
    pub tasks: usize,
    pub processes: usize,
    /// The share of EC2's refill another tenant of the account takes (0: none, 0.5: half).
    pub tenant: f64,
    pub task_seconds: f64,
    /// How long a task may wait for its instance before it fails.
    pub patience: f64,
    /// Child executions the Map starts a second at most ([`CHILD_STARTS_PER_SECOND`]; infinite: all at once).
    pub child_starts: f64,
}

/// Step Functions' rate of a Map run's child starts (standard executions).
pub const CHILD_STARTS_PER_SECOND: f64 = 100.0;

/// Who launches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    Paced,
    PerTask,
    Oracle,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub launched: usize,
    pub failed: usize,
    /// Seconds from the start to the last launch.
    pub last_launch: f64,
    pub calls: usize,
    /// Calls EC2 refused (RequestLimitExceeded).
    pub throttled: usize,
    /// Every task was launched in the order it asked.
    pub in_order: bool,
}

/// The launch queue's batching window (the template's MaximumBatchingWindowInSeconds), seconds.
pub const BATCHING_WINDOW: f64 = 1.0;

/// A token short by this much is a rounding error, not a wait.
const TOKEN_EPSILON: f64 = 1e-9;

/// EC2's two buckets as this account sees them: the refill the other tenant leaves.
struct Ec2 {
    instances: f64,
    calls: f64,
    at: f64,
    left: f64,
    calls_made: usize,
    throttled: usize,
}

impl Ec2 {
    fn new(tenant: f64) -> Self {
        Ec2 {
            instances: RUN_INSTANCES_INSTANCES.capacity,
            calls: RUN_INSTANCES_CALLS.capacity,
            at: 0.0,
            left: (1.0 - tenant).clamp(0.0, 1.0),
            calls_made: 0,
            throttled: 0,
        }
    }

    fn refill_to(&mut self, now: f64) {
        let elapsed = now - self.at;
        self.instances = RUN_INSTANCES_INSTANCES.refilled(self.instances, elapsed, self.left);
        self.calls = RUN_INSTANCES_CALLS.refilled(self.calls, elapsed, self.left);
        self.at = self.at.max(now);
    }

    /// RunInstances for `n` instances: all of them, or refused whole taking nothing.
    fn run_instances(&mut self, now: f64, n: usize) -> bool {
        self.refill_to(now);
        self.calls_made += 1;
        if !self.holds(n) {
            self.throttled += 1;
            return false;
        }
        self.calls -= 1.0;
        self.instances -= n as f64;
        true
    }

    /// Whether the buckets hold a call and `n` instances. Refill is arithmetic on seconds: a token short by rounding
    /// (which no later step of the clock could make up) counts as there.
    fn holds(&self, n: usize) -> bool {
        self.calls + TOKEN_EPSILON >= 1.0 && self.instances + TOKEN_EPSILON >= n as f64
    }

    /// When the buckets hold a call and `n` instances (for the oracle).
    fn ready_at(&mut self, now: f64, n: usize) -> f64 {
        self.refill_to(now);
        let rate = |refill: f64| refill * self.left;
        let calls = (1.0 - self.calls).max(0.0) / rate(RUN_INSTANCES_CALLS.refill);
        let instances = (n as f64 - self.instances).max(0.0) / rate(RUN_INSTANCES_INSTANCES.refill);
        now + calls.max(instances)
    }
}

/// The Map's child starts, at most `per_second` of them a second: when each asked-for start happens.
struct ChildStarts {
    per_second: f64,
    next: f64,
}

impl ChildStarts {
    fn new(per_second: f64) -> Self {
        ChildStarts {
            per_second,
            next: 0.0,
        }
    }

    /// When a child the Map would start at `now` starts.
    fn next(&mut self, now: f64) -> f64 {
        let at = self.next.max(now);
        self.next = at + 1.0 / self.per_second;
        at
    }
}

/// Tasks asking, waiting, running: the same for every launcher.
struct Tasks {
    scenario: Scenario,
    next: usize,
    starts: ChildStarts,
    /// Children started later than asked for (the Map's rate), each with its start time, in order.
    starting: VecDeque<(usize, f64)>,
    waiting: VecDeque<(usize, f64)>,
    running: BinaryHeap<Reverse<Time>>,
    launched: Vec<usize>,
    failed: usize,
    last_launch: f64,
}

/// A time as a heap key (finite, non-negative seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Time(f64);
impl Eq for Time {}
impl Ord for Time {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl PartialOrd for Time {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Tasks {
    fn new(scenario: Scenario) -> Self {
        let mut tasks = Tasks {
            scenario,
            next: 0,
            starts: ChildStarts::new(scenario.child_starts),
            starting: VecDeque::new(),
            waiting: VecDeque::new(),
            running: BinaryHeap::new(),
            launched: Vec::with_capacity(scenario.tasks),
            failed: 0,
            last_launch: 0.0,
        };
        for _ in 0..scenario.processes.min(scenario.tasks) {
            tasks.ask(0.0);
        }
        tasks
    }

    /// The Map starts the next task's child: at once, or when its rate lets it.
    fn ask(&mut self, now: f64) {
        if self.next < self.scenario.tasks {
            let at = self.starts.next(now);
            self.starting.push_back((self.next, at));
            self.next += 1;
        }
    }

    fn done(&self) -> bool {
        self.launched.len() + self.failed == self.scenario.tasks
    }

    /// Tasks that ended by `now` free their places; tasks past their patience fail and free theirs.
    fn advance(&mut self, now: f64) {
        while self.running.peek().is_some_and(|Reverse(t)| t.0 <= now) {
            let Reverse(Time(at)) = self.running.pop().unwrap_or(Reverse(Time(now)));
            self.ask(at);
        }
        while self.starting.front().is_some_and(|(_, at)| *at <= now) {
            if let Some(started) = self.starting.pop_front() {
                self.waiting.push_back(started);
            }
        }
        while self
            .waiting
            .front()
            .is_some_and(|(_, asked)| now - asked > self.scenario.patience)
        {
            self.waiting.pop_front();
            self.failed += 1;
            self.ask(now);
        }
    }

    fn launch(&mut self, now: f64, n: usize) {
        for _ in 0..n {
            if let Some((task, _)) = self.waiting.pop_front() {
                self.launched.push(task);
                self.running
                    .push(Reverse(Time(now + self.scenario.task_seconds)));
                self.last_launch = now;
            }
        }
    }

    /// The next time something happens on its own: a task ends, a child starts, or the first waiting one runs out
    /// of patience.
    fn next_event(&self) -> f64 {
        let end = self.running.peek().map_or(f64::INFINITY, |Reverse(t)| t.0);
        let start = self.starting.front().map_or(f64::INFINITY, |(_, at)| *at);
        let patience = self.waiting.front().map_or(f64::INFINITY, |(_, asked)| {
            asked + self.scenario.patience + 1e-6
        });
        end.min(start).min(patience)
    }

    fn outcome(&self, ec2: &Ec2) -> Outcome {
        Outcome {
            launched: self.launched.len(),
            failed: self.failed,
            last_launch: self.last_launch,
            calls: ec2.calls_made,
            throttled: ec2.throttled,
            in_order: self.launched.windows(2).all(|w| w[0] < w[1]),
        }
    }
}

/// Runs a scenario with one launcher.
pub fn run(scenario: Scenario, launcher: Launcher) -> Outcome {
    match launcher {
        Launcher::Paced => paced(scenario),
        Launcher::Oracle => oracle(scenario),
        Launcher::PerTask => per_task(scenario),
    }
}

fn paced(scenario: Scenario) -> Outcome {
    let mut ec2 = Ec2::new(scenario.tenant);
    let mut tasks = Tasks::new(scenario);
    let mut pace = Pace::new(0.0);
    let mut now = 0.0;
    while !tasks.done() {
        tasks.advance(now);
        match pace.ask(now, tasks.waiting.len()) {
            // The launcher sees the asks of one batching window at a time (the queue's event source mapping
            // gathers up to a second of them): it acts on window boundaries, on what came in the window.
            Ask::Now(_) if now % BATCHING_WINDOW > 1e-9 => {
                now = (now / BATCHING_WINDOW).ceil() * BATCHING_WINDOW;
            }
            Ask::Now(n) => {
                let n = n as usize;
                if ec2.run_instances(now, n) {
                    tasks.launch(now, n);
                    pace.answered(now, n as u32, Answer::Launched(n as u32));
                } else {
                    pace.answered(now, n as u32, Answer::Throttled);
                }
            }
            Ask::At(at) => {
                let then = at.min(tasks.next_event());
                assert!(
                    then > now || tasks.waiting.is_empty(),
                    "the pace waits for no time at {now} s"
                );
                now = then.max(now);
            }
        }
    }
    tasks.outcome(&ec2)
}

fn oracle(scenario: Scenario) -> Outcome {
    let mut ec2 = Ec2::new(scenario.tenant);
    let mut tasks = Tasks::new(scenario);
    let mut now = 0.0;
    while !tasks.done() {
        tasks.advance(now);
        let waiting = tasks.waiting.len();
        if waiting == 0 {
            now = tasks.next_event();
            continue;
        }
        ec2.refill_to(now);
        let n = ((ec2.instances + TOKEN_EPSILON).floor() as usize).min(waiting);
        if n >= 1 && ec2.holds(n) {
            ec2.run_instances(now, n);
            tasks.launch(now, n);
        } else {
            now = ec2.ready_at(now, 1).min(tasks.next_event()).max(now);
        }
    }
    tasks.outcome(&ec2)
}

/// The state machine's Retry for a throttled launch until 2026-12: 5 s, doubling, at most 300 s, full jitter,
/// 30 retries.
const RETRY_INTERVAL: f64 = 5.0;
const RETRY_MAX_DELAY: f64 = 300.0;
const RETRY_ATTEMPTS: u32 = 30;

fn per_task(scenario: Scenario) -> Outcome {
    let mut ec2 = Ec2::new(scenario.tenant);
    let mut random = Xorshift(0x2545_f491_4f6c_dd1d);
    // (when, what): a task's call for its instance (task, retries so far), or a task's end (usize::MAX).
    let mut events: BinaryHeap<Reverse<(Time, usize, u32)>> = BinaryHeap::new();
    const END: usize = usize::MAX;
    let mut next = 0;
    let mut starts = ChildStarts::new(scenario.child_starts);
    while next < scenario.processes.min(scenario.tasks) {
        events.push(Reverse((Time(starts.next(0.0)), next, 0)));
        next += 1;
    }
    let (mut launched, mut failed, mut last_launch) = (Vec::with_capacity(scenario.tasks), 0, 0.0);
    while let Some(Reverse((Time(now), task, retries))) = events.pop() {
        let frees_a_place = if task == END {
            true
        } else if ec2.run_instances(now, 1) {
            launched.push(task);
            last_launch = now;
            events.push(Reverse((Time(now + scenario.task_seconds), END, 0)));
            false
        } else if retries < RETRY_ATTEMPTS {
            let cap = (RETRY_INTERVAL * 2f64.powi(retries as i32)).min(RETRY_MAX_DELAY);
            events.push(Reverse((
                Time(now + cap * random.unit()),
                task,
                retries + 1,
            )));
            false
        } else {
            failed += 1;
            true
        };
        if frees_a_place && next < scenario.tasks {
            events.push(Reverse((Time(starts.next(now)), next, 0)));
            next += 1;
        }
    }
    Outcome {
        launched: launched.len(),
        failed,
        last_launch,
        calls: ec2.calls_made,
        throttled: ec2.throttled,
        in_order: launched.windows(2).all(|w| w[0] < w[1]),
    }
}

/// A small deterministic generator for the jitter.
struct Xorshift(u64);
impl Xorshift {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Whether a launcher's last launch is within 5 % of the oracle's (and two seconds, for the calls' own pacing).
pub fn within_bound(outcome: &Outcome, oracle: &Outcome) -> bool {
    outcome.last_launch <= oracle.last_launch * 1.05 + 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(tasks: usize, processes: usize, tenant: f64) -> Scenario {
        Scenario {
            tasks,
            processes,
            tenant,
            task_seconds: 3600.0,
            patience: 24.0 * 3600.0,
            child_starts: f64::INFINITY,
        }
    }

    #[test]
    fn the_oracle_launches_the_first_thousand_at_once_then_at_the_refill() {
        let o = run(scenario(1000, 1000, 0.0), Launcher::Oracle);
        assert_eq!((o.launched, o.failed, o.last_launch), (1000, 0, 0.0));
        let o = run(scenario(1200, 1200, 0.0), Launcher::Oracle);
        assert!((o.last_launch - 100.0).abs() < 1.0, "{o:?}");
        let o = run(scenario(1200, 1200, 0.5), Launcher::Oracle);
        assert!((o.last_launch - 200.0).abs() < 2.0, "{o:?}");
    }

    #[test]
    fn the_paced_launcher_keeps_to_the_bound_and_the_order_with_and_without_another_tenant() {
        for (tasks, processes) in [(300, 300), (2000, 2000), (3000, 1000)] {
            for tenant in [0.0, 0.5] {
                let s = scenario(tasks, processes, tenant);
                let paced = run(s, Launcher::Paced);
                let oracle = run(s, Launcher::Oracle);
                assert_eq!((paced.launched, paced.failed), (tasks, 0), "{s:?}");
                assert!(paced.in_order, "{s:?}");
                assert!(
                    within_bound(&paced, &oracle),
                    "{s:?}: last launch {} s, the bound {} s",
                    paced.last_launch,
                    oracle.last_launch
                );
            }
        }
    }

    #[test]
    fn a_task_per_call_is_slower_than_the_bound_and_out_of_order() {
        let s = scenario(2000, 2000, 0.0);
        let per_task = run(s, Launcher::PerTask);
        let oracle = run(s, Launcher::Oracle);
        assert_eq!(per_task.launched + per_task.failed, 2000);
        assert!(!within_bound(&per_task, &oracle), "{per_task:?} {oracle:?}");
        assert!(!per_task.in_order);
    }

    #[test]
    fn children_started_100_a_second_ask_as_they_start_and_the_launcher_keeps_to_the_bound() {
        let mut s = scenario(2000, 2000, 0.0);
        s.child_starts = CHILD_STARTS_PER_SECOND;
        let oracle = run(s, Launcher::Oracle);
        // The first 1 000 asks come over 10 s: even the oracle cannot launch them at once.
        let at_once = run(scenario(2000, 2000, 0.0), Launcher::Oracle);
        assert!(
            oracle.last_launch >= at_once.last_launch,
            "{oracle:?} {at_once:?}"
        );
        let paced = run(s, Launcher::Paced);
        assert_eq!((paced.launched, paced.failed), (2000, 0));
        assert!(paced.in_order);
        assert!(within_bound(&paced, &oracle), "{paced:?} {oracle:?}");
        let mut small = scenario(300, 300, 0.0);
        small.child_starts = CHILD_STARTS_PER_SECOND;
        let o = run(small, Launcher::Oracle);
        assert!(
            (o.last_launch - 2.99).abs() < 0.05,
            "the 300th child starts at 2.99 s: {o:?}"
        );
    }

    #[test]
    fn a_task_out_of_patience_fails_and_frees_its_place() {
        let mut s = scenario(1500, 1500, 0.0);
        s.patience = 100.0;
        let o = run(s, Launcher::Paced);
        assert_eq!(o.launched + o.failed, 1500);
        assert!(o.failed > 0 && o.launched >= 1000 + 190, "{o:?}");
    }
}
