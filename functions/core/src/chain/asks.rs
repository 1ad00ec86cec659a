//! The launcher's decisions over the asks a queue batch brings (pure): their order, how they group into launches,
//! the idempotency token of one RunInstances for several asks, how long an ask that must wait is sent back to
//! the queue for, and which copies were handled already.

use super::limits::client_token;
use super::wire::LaunchAsk;
use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};

/// SQS's longest delay of a message ("SendMessage": DelaySeconds, 0 to 900).
pub const MAX_QUEUE_DELAY: u32 = 900;
/// How long an ask waits after a used-up quota or no capacity for any type before it is tried again: the first
/// interval of the Retry that waited for them before the launcher did.
pub const CAPACITY_WAIT: f64 = 60.0;
/// How long an ask waits after an error that says nothing of EC2's buckets (a 5xx, a lost answer).
pub const TRANSIENT_WAIT: f64 = 5.0;

/// The copies of asks a launcher process has handled (answered, failed or sent back to wait), the last
/// `capacity` of them. SQS delivers a message at least once: a second delivery of a copy already handled would
/// launch again, or send the ask back a second time, and each copy sent back can be delivered twice in turn — the
/// copies of one waiting ask would multiply with every wait. A copy met again here is dropped. A copy handed back
/// to SQS for delivery again (`again`) is not recorded, so that delivery is taken. Copies that reach different
/// processes are not caught here; their launches meet at the ask's claim.
#[derive(Debug)]
pub struct Handled {
    seen: HashSet<u64>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl Handled {
    pub fn new(capacity: usize) -> Handled {
        Handled {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    fn key(ask: &LaunchAsk) -> u64 {
        let mut hasher = DefaultHasher::new();
        (&ask.token, ask.relaunch, ask.waits).hash(&mut hasher);
        hasher.finish()
    }

    /// Whether this copy of the ask was handled before.
    pub fn contains(&self, ask: &LaunchAsk) -> bool {
        self.seen.contains(&Self::key(ask))
    }

    /// Records this copy as handled, forgetting the oldest past the capacity.
    pub fn insert(&mut self, ask: &LaunchAsk) {
        let key = Self::key(ask);
        if self.seen.insert(key) {
            self.order.push_back(key);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.seen.remove(&old);
                }
            }
        }
    }
}

/// Asks in the order they were made (the Launch state's entry time), then by task and attempt.
pub fn in_order(asks: &mut [LaunchAsk]) {
    asks.sort_by(|a, b| {
        (
            a.asked_at.as_str(),
            a.task.index,
            a.attempt.number,
            a.relaunch,
        )
            .cmp(&(
                b.asked_at.as_str(),
                b.task.index,
                b.attempt.number,
                b.relaunch,
            ))
    });
}

/// The asks one RunInstances can launch for together: of one job (its user data, types, subnets, disk), one
/// market (spot or on demand) and one size (`--retry-larger`'s sizes up and disk doublings), each group in ask
/// order, the groups in the order of their first ask.
pub fn groups(mut asks: Vec<LaunchAsk>) -> Vec<Vec<LaunchAsk>> {
    in_order(&mut asks);
    let mut groups: Vec<Vec<LaunchAsk>> = Vec::new();
    for ask in asks {
        match groups.iter_mut().find(|g| {
            let first = &g[0].attempt;
            g[0].job.job_id == ask.job.job_id
                && first.spot == ask.attempt.spot
                && first.larger == ask.attempt.larger
                && first.disk_doublings == ask.attempt.disk_doublings
        }) {
            Some(group) => group.push(ask),
            None => groups.push(vec![ask]),
        }
    }
    groups
}

/// An ask's identity: its task, attempt and launch again.
pub fn ask_key(ask: &LaunchAsk) -> String {
    format!("{}.{}.{}", ask.task.index, ask.attempt.number, ask.relaunch)
}

/// RunInstances' ClientToken for one call for `asks`: the same asks, type and subnet give the same token, so a
/// batch delivered again gets the instances the first call made ("Ensuring idempotency"); any difference gives
/// another, since EC2 ties a token to its parameters.
pub fn batch_token(
    stack: &str,
    job: &str,
    instance_type: &str,
    subnet: Option<&str>,
    asks: &[&LaunchAsk],
) -> String {
    let keys: Vec<String> = asks.iter().map(|a| ask_key(a)).collect();
    let mut parts = vec![stack, job, instance_type, subnet.unwrap_or_default()];
    parts.extend(keys.iter().map(String::as_str));
    client_token(&parts)
}

/// Whole seconds to send an ask back to the queue for: the wait asked for, at least 1 and at most SQS's 900, and
/// never past the ask's patience (it comes back in time to be failed saying why it waited).
pub fn requeue_delay(wait_seconds: f64, now_ms: i64, asked_ms: i64, patience_seconds: u32) -> u32 {
    let left_ms = asked_ms + i64::from(patience_seconds) * 1000 - now_ms;
    let left = u32::try_from((left_ms.max(0) + 999) / 1000).unwrap_or(u32::MAX);
    let wanted = if wait_seconds.is_finite() {
        wait_seconds.max(1.0).ceil().min(f64::from(MAX_QUEUE_DELAY)) as u32
    } else {
        MAX_QUEUE_DELAY
    };
    wanted.min(left).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::wire::{Attempt, JobRef, TaskRef};

    fn job(id: &str) -> JobRef {
        serde_json::from_value(serde_json::json!({
            "job_id": id, "bucket": "b", "job_url": format!("s3://b/jobs/{id}/"), "cluster": "c",
            "task_definition": "td", "instance_types": ["t3.micro"], "spot": false, "retry_od": false,
            "disk_size": 0, "subnet_ids": [], "security_group_id": null, "key_name": null, "processes": 2,
            "waiter_delay": 10, "join_polls": 60, "task_timeout": 3600
        }))
        .unwrap()
    }

    fn ask(job_id: &str, index: usize, spot: bool, at: &str) -> LaunchAsk {
        LaunchAsk {
            token: format!("token-{job_id}-{index}"),
            job: job(job_id),
            task: TaskRef {
                index,
                line: index + 2,
            },
            attempt: Attempt {
                number: 1,
                spot,
                ..Attempt::default()
            },
            relaunch: 0,
            asked_at: at.to_owned(),
            waited: None,
            waits: 0,
        }
    }

    #[test]
    fn a_copy_handled_before_is_known_and_the_next_wait_of_the_same_ask_is_not() {
        let mut handled = Handled::new(2);
        let first = ask("a-aaaaa", 0, false, "2026-12-06T10:00:00Z");
        assert!(!handled.contains(&first));
        handled.insert(&first);
        assert!(handled.contains(&first), "the same copy delivered again");
        let sent_back = LaunchAsk {
            waits: 1,
            ..first.clone()
        };
        assert!(
            !handled.contains(&sent_back),
            "the copy sent back to wait is new"
        );
        let relaunch = LaunchAsk {
            relaunch: 1,
            ..first.clone()
        };
        assert!(
            !handled.contains(&relaunch),
            "a launch again is an ask of its own"
        );
        handled.insert(&sent_back);
        handled.insert(&relaunch);
        assert!(
            !handled.contains(&first),
            "the oldest is forgotten past the capacity"
        );
        assert!(handled.contains(&sent_back) && handled.contains(&relaunch));
    }

    #[test]
    fn asks_group_by_job_and_market_each_in_the_order_asked() {
        let asks = vec![
            ask("b-bbbbb", 3, false, "2026-12-06T10:00:03Z"),
            ask("a-aaaaa", 1, false, "2026-12-06T10:00:02Z"),
            ask("a-aaaaa", 0, false, "2026-12-06T10:00:02Z"),
            ask("a-aaaaa", 2, true, "2026-12-06T10:00:01Z"),
            ask("b-bbbbb", 4, false, "2026-12-06T10:00:00Z"),
        ];
        let grouped: Vec<Vec<(String, usize)>> = groups(asks)
            .iter()
            .map(|g| {
                g.iter()
                    .map(|a| (a.job.job_id.to_string(), a.task.index))
                    .collect()
            })
            .collect();
        assert_eq!(
            grouped,
            vec![
                vec![("b-bbbbb".to_owned(), 4), ("b-bbbbb".to_owned(), 3)],
                vec![("a-aaaaa".to_owned(), 2)],
                vec![("a-aaaaa".to_owned(), 0), ("a-aaaaa".to_owned(), 1)],
            ]
        );
    }

    #[test]
    fn a_batch_token_is_the_same_for_the_same_asks_and_call_and_differs_otherwise() {
        let (a, b) = (
            ask("j-jjjjj", 0, false, "2026-12-06T10:00:00Z"),
            ask("j-jjjjj", 1, false, "2026-12-06T10:00:00Z"),
        );
        let token = batch_token("s", "j-jjjjj", "t3.micro", None, &[&a, &b]);
        assert_eq!(
            token,
            batch_token("s", "j-jjjjj", "t3.micro", None, &[&a, &b])
        );
        assert!(token.len() <= 64 && token.is_ascii());
        assert_ne!(token, batch_token("s", "j-jjjjj", "t3.micro", None, &[&a]));
        assert_ne!(
            token,
            batch_token("s", "j-jjjjj", "t3.small", None, &[&a, &b])
        );
        assert_ne!(
            token,
            batch_token("s", "j-jjjjj", "t3.micro", Some("subnet-1"), &[&a, &b])
        );
        let mut again = b.clone();
        again.relaunch = 4;
        assert_ne!(
            token,
            batch_token("s", "j-jjjjj", "t3.micro", None, &[&a, &again])
        );
    }

    #[test]
    fn an_ask_waits_whole_seconds_within_sqs_and_never_past_its_patience() {
        let asked = 1_000_000;
        assert_eq!(requeue_delay(0.2, asked, asked, 86_400), 1);
        assert_eq!(requeue_delay(12.3, asked, asked, 86_400), 13);
        assert_eq!(
            requeue_delay(5_000.0, asked, asked, 86_400),
            MAX_QUEUE_DELAY
        );
        assert_eq!(
            requeue_delay(f64::INFINITY, asked, asked, 86_400),
            MAX_QUEUE_DELAY
        );
        // 30 s of patience left: back in 30 s at the latest, to be failed saying why.
        assert_eq!(requeue_delay(60.0, asked + 86_370_000, asked, 86_400), 30);
        assert_eq!(requeue_delay(60.0, asked + 90_000_000, asked, 86_400), 1);
    }
}
