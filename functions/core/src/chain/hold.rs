//! `--keep-on-failure DURATION`: the instance of a task whose last attempt failed is kept for a look instead of
//! terminated, tagged with the time its hold ends. Task-stopped decides to hold ([`hold_for`]); the janitor's sweep,
//! the job's end and `release` read the tag ([`Hold::of`]): a held instance outlives its job, and the sweep
//! terminates it at its deadline whatever else happens.

use super::wire::Outcome;

/// The tag on a held instance: when its hold ends, RFC 3339 in UTC (EC2 tag values allow `:`).
pub const TAG_HELD_UNTIL: &str = "ecsub:held-until";
/// The shortest hold: the janitor sweeps every 10 minutes, so a shorter one would end at the sweep anyway.
pub const MIN_KEEP_SECONDS: u32 = 60;
/// The longest hold: a day. An instance kept longer is forgotten and billed; a look needs less.
pub const MAX_KEEP_SECONDS: u32 = 24 * 3600;

/// `--keep-on-failure`'s value: `90m`, `2h`, `1h30m`, `45m30s`, `3600s` or a number of seconds, from one minute to
/// a day.
pub fn parse_keep(text: &str) -> Result<u32, String> {
    let what = || {
        format!(
            "`{text}` is not a duration (e.g. `30m`, `2h`, `1h30m`: hours, minutes and seconds with h, m and s)"
        )
    };
    let mut seconds: u64 = 0;
    let mut digits = String::new();
    let mut units_seen = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            if digits.len() > 6 {
                return Err(what());
            }
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return Err(what()),
        };
        // Units in order (h, m, s), each at most once, each after a number.
        if digits.is_empty() || !"hms"[units_start(&units_seen)..].contains(c) {
            return Err(what());
        }
        units_seen.push(c);
        seconds += digits.parse::<u64>().map_err(|_| what())? * unit;
        digits.clear();
    }
    if !digits.is_empty() {
        if !units_seen.is_empty() {
            return Err(what());
        }
        seconds = digits.parse().map_err(|_| what())?;
    } else if units_seen.is_empty() {
        return Err(what());
    }
    if seconds < u64::from(MIN_KEEP_SECONDS) || seconds > u64::from(MAX_KEEP_SECONDS) {
        return Err(format!(
            "`{text}` is {}: a failed task's instance is kept from 1 minute to 24 hours (24h)",
            words(u32::try_from(seconds).unwrap_or(u32::MAX))
        ));
    }
    u32::try_from(seconds).map_err(|_| what())
}

/// Where the next unit may start in `hms`, after the units already seen.
fn units_start(seen: &str) -> usize {
    seen.chars()
        .last()
        .and_then(|c| "hms".find(c))
        .map_or(0, |i| i + 1)
}

/// A duration as a person says it: `2h`, `1h30m`, `45s`.
pub fn words(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    for (n, unit) in [(h, 'h'), (m, 'm'), (s, 's')] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        out.push_str("0s");
    }
    out
}

/// How long an attempt's instance is held: only when the attempt failed for good (nothing tries the task again)
/// with the instance still there to look at, and the job asked for it.
pub fn hold_for(outcome: Outcome, tried_again: bool, keep: Option<u32>) -> Option<u32> {
    let failed_on_its_instance = matches!(
        outcome,
        Outcome::Failed | Outcome::OutputsMissing | Outcome::InfrastructureError
    );
    keep.filter(|_| failed_on_its_instance && !tried_again)
}

/// What an instance's `ecsub:held-until` tag says at `now_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Not held: it goes when its job is over.
    No,
    /// Held until this time (ms since the epoch): nothing but `release` or the deadline ends it.
    Until(i64),
    /// Its hold ended: it goes now, whatever its job's state.
    Over,
}

impl Hold {
    /// Whether nothing but `release` or the deadline may end the instance now.
    pub fn is_held(self) -> bool {
        matches!(self, Hold::Until(_))
    }

    /// The hold a tag value gives. A value that is not a time is a hold that is over: an instance nobody can say
    /// the end of is not kept.
    pub fn of(tag: Option<&str>, now_ms: i64) -> Hold {
        match tag.map(crate::time::rfc3339_ms) {
            None => Hold::No,
            Some(Some(until)) if until > now_ms => Hold::Until(until),
            Some(_) => Hold::Over,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keep_is_a_duration_from_a_minute_to_a_day() {
        assert_eq!(parse_keep("30m"), Ok(1800));
        assert_eq!(parse_keep("2h"), Ok(7200));
        assert_eq!(parse_keep("1h30m"), Ok(5400));
        assert_eq!(parse_keep("1h0m30s"), Ok(3630));
        assert_eq!(parse_keep("600"), Ok(600));
        assert_eq!(parse_keep("24h"), Ok(86_400));
        for bad in [
            "", "h", "30", "m30", "30x", "1m1h", "1h1h", "2d", "-5m", "1.5h", "30m5",
        ] {
            assert!(parse_keep(bad).is_err(), "{bad}");
        }
        let long = parse_keep("25h").unwrap_err();
        assert!(
            long.contains("`25h` is 25h") && long.contains("24 hours"),
            "{long}"
        );
        assert!(parse_keep("59s").unwrap_err().contains("from 1 minute"));
        assert_eq!(words(5400), "1h30m");
        assert_eq!(words(45), "45s");
    }

    #[test]
    fn only_a_task_failed_for_good_on_its_instance_is_held() {
        let keep = Some(3600);
        assert_eq!(hold_for(Outcome::Failed, false, keep), keep);
        assert_eq!(hold_for(Outcome::OutputsMissing, false, keep), keep);
        assert_eq!(hold_for(Outcome::InfrastructureError, false, keep), keep);
        assert_eq!(hold_for(Outcome::Failed, true, keep), None, "tried again");
        assert_eq!(
            hold_for(Outcome::Interrupted, false, keep),
            None,
            "no instance left"
        );
        assert_eq!(hold_for(Outcome::Succeeded, false, keep), None);
        assert_eq!(
            hold_for(Outcome::Failed, false, None),
            None,
            "not asked for"
        );
    }

    #[test]
    fn a_hold_ends_at_its_deadline_and_an_unreadable_one_is_over() {
        let now = 1_796_351_290_000;
        assert_eq!(Hold::of(None, now), Hold::No);
        assert_eq!(
            Hold::of(Some("2026-12-04T03:28:10Z"), now),
            Hold::Until(now + 3600 * 1000)
        );
        assert_eq!(Hold::of(Some("2026-12-04T02:28:10Z"), now), Hold::Over);
        assert_eq!(Hold::of(Some("tomorrow"), now), Hold::Over);
    }
}
