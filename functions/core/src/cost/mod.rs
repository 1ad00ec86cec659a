//! What a job cost: per attempt, its instance's price × the time it ran (launch → terminate), plus its EBS
//! volume for the same time; per task and per job the sums of their attempts.
//!
//! Billing rules (EC2 user guide, "Amazon EC2 billing and purchasing options", per-second billing; Amazon EBS
//! pricing): Linux instances, on demand and spot, and EBS volumes are billed per second with a minimum of 60
//! seconds. A spot instance pays the spot price of its availability zone in effect at each moment it runs (the
//! price history is integrated, not sampled once). An EBS GB-month is prorated per second over a 30-day month, as
//! the Amazon EBS pricing page's worked examples do.
//!
//! Money is summed in whole micro-dollars, so a job's cost is exactly the sum of its attempts' and a task's of
//! its attempts'. Prices arrive from the AWS Pricing API ([`price_list`]), EC2's spot price history, or the table
//! shipped with the stack ([`snapshot`]); every figure says which.

pub mod groups;
pub mod price_list;
pub mod snapshot;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shortest time an instance or a volume is billed for.
pub const MINIMUM_BILLED_SECONDS: u64 = 60;
/// Seconds in the month an EBS GB-month is prorated over.
pub const EBS_MONTH_SECONDS: u64 = 30 * 24 * 3600;

/// Where a price came from.
pub mod sources {
    /// On-demand and EBS list prices from the Pricing API's GetProducts.
    pub const PRICING_API: &str = "pricing-api";
    /// EC2's DescribeSpotPriceHistory, for the attempt's zone and time.
    pub const SPOT_HISTORY: &str = "spot-price-history";
    /// The price table shipped with the stack ([`super::snapshot`]).
    pub const SNAPSHOT: &str = "snapshot";
    /// A spot attempt priced at the on-demand price because no spot price was known: an upper bound.
    pub const ON_DEMAND_BOUND: &str = "on-demand-upper-bound";
}

/// A price per unit (an hour of an instance, a GB-month of a volume) in US dollars, and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub usd: f64,
    pub source: String,
}

/// One spot price change: from `at_ms` on, `usd_per_hour`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpotPoint {
    pub at_ms: i64,
    pub usd_per_hour: f64,
}

/// The prices a job is costed with, gathered once per job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Prices {
    /// Instance type → on-demand Linux price per hour.
    pub on_demand: BTreeMap<String, Rate>,
    /// `type@zone` → the spot price changes, oldest first.
    pub spot: BTreeMap<String, Vec<SpotPoint>>,
    /// The root volume's (gp3) price per GB-month.
    pub ebs_gb_month: Option<Rate>,
    /// Why a source was not used (the Pricing API refused, the history was unavailable, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Prices {
    pub fn spot_key(instance_type: &str, zone: &str) -> String {
        format!("{instance_type}@{zone}")
    }

    /// Adds a spot price change (kept oldest first, one per instant).
    pub fn add_spot(&mut self, instance_type: &str, zone: &str, point: SpotPoint) {
        let points = self
            .spot
            .entry(Self::spot_key(instance_type, zone))
            .or_default();
        match points.binary_search_by_key(&point.at_ms, |p| p.at_ms) {
            Ok(at) => points[at] = point,
            Err(at) => points.insert(at, point),
        }
    }
}

/// An attempt as it is costed: what ran, where, from when to when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub index: usize,
    pub attempt: u32,
    pub instance_type: Option<String>,
    pub spot: bool,
    pub availability_zone: Option<String>,
    /// When RunInstances answered; `None`: no instance was launched.
    pub launched_ms: Option<i64>,
    /// When the instance was terminated (the attempt's record is written just before the termination).
    pub ended_ms: i64,
    /// The root volume's size.
    pub disk_gib: u32,
}

/// One attempt's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptCost {
    pub index: usize,
    pub attempt: u32,
    pub instance_type: Option<String>,
    pub spot: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Seconds billed (at least [`MINIMUM_BILLED_SECONDS`] once an instance was launched).
    pub billed_seconds: u64,
    pub instance_usd: f64,
    pub ebs_usd: f64,
    pub usd: f64,
    /// Where the instance's price came from ([`sources`]); the EBS price's is in [`JobCost::ebs_source`].
    pub source: String,
    /// Why the attempt could not be priced (its cost then counts as 0 and the job's total says so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpriced: Option<String>,
}

/// A job's cost: every attempt's, and the sum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCost {
    pub usd: f64,
    pub attempts: Vec<AttemptCost>,
    /// The sources of the instance prices used, each once.
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ebs_source: Option<String>,
    /// Attempts with an instance that could not be priced: the total leaves them out.
    pub unpriced: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl JobCost {
    /// Each task's cost (the sum of its attempts'), in one pass over the attempts (a job has up to 100 000 tasks:
    /// asking per task would go over every attempt for each).
    pub fn by_task(&self) -> std::collections::HashMap<usize, f64> {
        let mut sums: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
        for a in &self.attempts {
            *sums.entry(a.index).or_default() += micros(a.usd);
        }
        sums.into_iter().map(|(i, m)| (i, dollars(m))).collect()
    }
}

/// Whole micro-dollars of a dollar amount.
fn micros(usd: f64) -> u64 {
    let m = (usd * 1e6).round();
    if m.is_finite() && m > 0.0 {
        m as u64
    } else {
        0
    }
}

fn dollars(micros: u64) -> f64 {
    micros as f64 / 1e6
}

/// Seconds an attempt is billed for: launch → end, at least the minimum.
pub fn billed_seconds(launched_ms: i64, ended_ms: i64) -> u64 {
    let ran = u64::try_from(ended_ms.saturating_sub(launched_ms)).unwrap_or(0);
    (ran.div_ceil(1000)).max(MINIMUM_BILLED_SECONDS)
}

/// The spot price integrated over `[from_ms, to_ms)`: each change applies from its time on; before the first one
/// known, the first applies (EC2 returns the change in effect at a window's start with the window).
fn spot_usd(points: &[SpotPoint], from_ms: i64, to_ms: i64) -> f64 {
    let mut usd = 0.0;
    for (i, point) in points.iter().enumerate() {
        let start = if i == 0 {
            from_ms
        } else {
            point.at_ms.max(from_ms)
        };
        let end = points
            .get(i + 1)
            .map_or(to_ms, |next| next.at_ms.min(to_ms));
        if end > start {
            usd += point.usd_per_hour * (end - start) as f64 / 3_600_000.0;
        }
    }
    usd
}

/// Prices every attempt and sums them.
pub fn price(spans: &[Span], prices: &Prices) -> JobCost {
    let mut attempts = Vec::with_capacity(spans.len());
    let mut total = 0u64;
    let mut sources: Vec<String> = Vec::new();
    let mut unpriced = 0;
    for span in spans {
        let cost = price_one(span, prices);
        if cost.unpriced.is_some() {
            unpriced += 1;
        } else if !cost.source.is_empty() && !sources.contains(&cost.source) {
            sources.push(cost.source.clone());
        }
        total += micros(cost.usd);
        attempts.push(cost);
    }
    JobCost {
        usd: dollars(total),
        attempts,
        sources,
        ebs_source: prices.ebs_gb_month.as_ref().map(|r| r.source.clone()),
        unpriced,
        notes: prices.notes.clone(),
    }
}

fn price_one(span: &Span, prices: &Prices) -> AttemptCost {
    let mut cost = AttemptCost {
        index: span.index,
        attempt: span.attempt,
        instance_type: span.instance_type.clone(),
        spot: span.spot,
        availability_zone: span.availability_zone.clone(),
        billed_seconds: 0,
        instance_usd: 0.0,
        ebs_usd: 0.0,
        usd: 0.0,
        source: String::new(),
        unpriced: None,
    };
    let (Some(launched), Some(instance_type)) = (span.launched_ms, span.instance_type.as_deref())
    else {
        if span.instance_type.is_some() {
            cost.unpriced = Some("the attempt's launch time was not recorded".to_owned());
        }
        return cost;
    };
    let seconds = billed_seconds(launched, span.ended_ms);
    let until = launched + i64::try_from(seconds * 1000).unwrap_or(i64::MAX);
    cost.billed_seconds = seconds;
    let on_demand = prices.on_demand.get(instance_type);
    let spot_history = span.availability_zone.as_deref().and_then(|zone| {
        prices
            .spot
            .get(&Prices::spot_key(instance_type, zone))
            .filter(|p| !p.is_empty())
    });
    let instance = match (span.spot, spot_history, on_demand) {
        (true, Some(points), _) => Some((
            spot_usd(points, launched, until),
            sources::SPOT_HISTORY.to_owned(),
        )),
        (true, None, Some(rate)) => Some((
            rate.usd * seconds as f64 / 3600.0,
            sources::ON_DEMAND_BOUND.to_owned(),
        )),
        (false, _, Some(rate)) => Some((rate.usd * seconds as f64 / 3600.0, rate.source.clone())),
        (_, _, None) => None,
    };
    let Some((instance_usd, source)) = instance else {
        cost.unpriced = Some(format!(
            "no {} price is known for {instance_type}",
            if span.spot {
                "spot or on-demand"
            } else {
                "on-demand"
            }
        ));
        return cost;
    };
    let ebs_usd = prices.ebs_gb_month.as_ref().map_or(0.0, |rate| {
        rate.usd * f64::from(span.disk_gib) * seconds as f64 / EBS_MONTH_SECONDS as f64
    });
    let (instance_m, ebs_m) = (micros(instance_usd), micros(ebs_usd));
    cost.instance_usd = dollars(instance_m);
    cost.ebs_usd = dollars(ebs_m);
    cost.usd = dollars(instance_m + ebs_m);
    cost.source = source;
    cost
}

/// What `instances` instances of `instance_type` with `disk_gib` volumes burn per hour on demand (the dry run's
/// figure); `None` if the type has no price.
pub fn hourly_burn(
    prices: &Prices,
    instance_type: &str,
    disk_gib: u32,
    instances: u32,
) -> Option<f64> {
    let rate = prices.on_demand.get(instance_type)?;
    let ebs = prices.ebs_gb_month.as_ref().map_or(0.0, |r| {
        r.usd * f64::from(disk_gib) * 3600.0 / EBS_MONTH_SECONDS as f64
    });
    Some((rate.usd + ebs) * f64::from(instances))
}

/// Dollars for people: cents from a dollar up, four decimals below.
pub fn format_usd(usd: f64) -> String {
    if usd >= 1.0 {
        format!("${usd:.2}")
    } else {
        format!("${usd:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prices() -> Prices {
        let mut p = Prices::default();
        p.on_demand.insert(
            "m5.large".into(),
            Rate {
                usd: 0.096,
                source: sources::PRICING_API.into(),
            },
        );
        p.ebs_gb_month = Some(Rate {
            usd: 0.08,
            source: sources::PRICING_API.into(),
        });
        p.add_spot(
            "m5.large",
            "us-east-1a",
            SpotPoint {
                at_ms: 0,
                usd_per_hour: 0.03,
            },
        );
        p.add_spot(
            "m5.large",
            "us-east-1a",
            SpotPoint {
                at_ms: 1_800_000,
                usd_per_hour: 0.05,
            },
        );
        p
    }

    fn span(attempt: u32, spot: bool, from: i64, to: i64) -> Span {
        Span {
            index: 0,
            attempt,
            instance_type: Some("m5.large".into()),
            spot,
            availability_zone: Some("us-east-1a".into()),
            launched_ms: Some(from),
            ended_ms: to,
            disk_gib: 50,
        }
    }

    #[test]
    fn on_demand_is_billed_per_second_with_a_minute_at_least() {
        assert_eq!(billed_seconds(0, 1), 60);
        assert_eq!(billed_seconds(0, 60_001), 61);
        assert_eq!(billed_seconds(5_000, 0), 60);
        let cost = price(&[span(1, false, 0, 3_600_000)], &prices());
        let a = &cost.attempts[0];
        assert_eq!(a.billed_seconds, 3600);
        assert_eq!(a.instance_usd, 0.096);
        // 50 GiB × $0.08 per GB-month × one hour of a 720-hour month.
        assert_eq!(a.ebs_usd, 0.005556);
        assert_eq!(a.usd, 0.101556);
        assert_eq!(a.source, sources::PRICING_API);
        assert_eq!(cost.usd, a.usd);
    }

    #[test]
    fn spot_pays_each_price_for_the_time_it_was_in_effect() {
        // Half an hour at $0.03, then half an hour at $0.05.
        let cost = price(&[span(1, true, 0, 3_600_000)], &prices());
        assert_eq!(cost.attempts[0].instance_usd, 0.04);
        assert_eq!(cost.attempts[0].source, sources::SPOT_HISTORY);
        // Launched before the first known change: the first price applies.
        let early = price(&[span(1, true, -3_600_000, 0)], &prices());
        assert_eq!(early.attempts[0].instance_usd, 0.03);
        // No history for its zone: the on-demand price, said to be an upper bound.
        let mut other = span(1, true, 0, 3_600_000);
        other.availability_zone = Some("us-east-1b".into());
        let bound = price(&[other], &prices());
        assert_eq!(bound.attempts[0].instance_usd, 0.096);
        assert_eq!(bound.attempts[0].source, sources::ON_DEMAND_BOUND);
    }

    #[test]
    fn a_spot_attempt_shorter_than_a_minute_pays_the_minute_at_the_prices_of_that_minute() {
        // 10 s at $0.03: billed 60 s.
        let short = price(&[span(1, true, 0, 10_000)], &prices());
        assert_eq!(short.attempts[0].billed_seconds, 60);
        assert_eq!(short.attempts[0].instance_usd, 0.0005);
        // 5 s, 30 s before the price changes: the billed minute is half at $0.03 and half at $0.05.
        let across = price(&[span(1, true, 1_770_000, 1_775_000)], &prices());
        assert_eq!(across.attempts[0].billed_seconds, 60);
        assert_eq!(across.attempts[0].instance_usd, 0.000667);
    }

    #[test]
    fn the_job_is_the_exact_sum_of_its_attempts_and_unknowns_are_counted() {
        let spans = [
            span(1, true, 0, 1_234_567),
            span(2, false, 1_300_000, 2_000_001),
            Span {
                index: 1,
                attempt: 1,
                instance_type: Some("x9.huge".into()),
                spot: false,
                availability_zone: None,
                launched_ms: Some(0),
                ended_ms: 10,
                disk_gib: 30,
            },
            Span {
                index: 2,
                attempt: 1,
                instance_type: None,
                spot: false,
                availability_zone: None,
                launched_ms: None,
                ended_ms: 10,
                disk_gib: 30,
            },
        ];
        let cost = price(&spans, &prices());
        let sum: u64 = cost.attempts.iter().map(|a| micros(a.usd)).sum();
        assert_eq!(micros(cost.usd), sum);
        assert_eq!(cost.by_task()[&0], cost.usd);
        assert_eq!(cost.unpriced, 1);
        assert_eq!(
            cost.attempts[2].unpriced.as_deref(),
            Some("no on-demand price is known for x9.huge")
        );
        assert_eq!(
            cost.attempts[3].unpriced, None,
            "nothing launched costs nothing"
        );
        assert_eq!(cost.sources, [sources::SPOT_HISTORY, sources::PRICING_API]);
    }

    #[test]
    fn a_burn_rate_counts_instances_and_volumes() {
        let burn = hourly_burn(&prices(), "m5.large", 720, 10).unwrap_or_default();
        // 10 × ($0.096 + 720 GiB × $0.08 / 720 h).
        assert!((burn - 1.76).abs() < 1e-9, "{burn}");
        assert_eq!(hourly_burn(&prices(), "x9.huge", 1, 1), None);
        assert_eq!(format_usd(1.761), "$1.76");
        assert_eq!(format_usd(0.01234), "$0.0123");
    }
}
