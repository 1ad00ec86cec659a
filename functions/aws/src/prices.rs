//! The prices a job's attempts are costed with, asked once per job at its end: each instance type's on-demand
//! price and the gp3 volume's from the Pricing API (GetProducts), each spot attempt's zone's price history from
//! EC2 (DescribeSpotPriceHistory, over the job's time). What cannot be asked (no permission, no route to the
//! Pricing API's endpoint, a region it does not price) falls back to the table shipped with the stack, and the
//! job's cost says so.

use crate::clients::Clients;
use crate::error::describe;
use aws_sdk_ec2::primitives::DateTime;
use aws_sdk_ec2::types as ec2;
use aws_sdk_pricing::types::{Filter, FilterType};
use ecsub_core::chain::sizes::attempt_volume_gib;
use ecsub_core::chain::AttemptRecord;
use ecsub_core::cost::{self, billed_seconds, price_list, snapshot, Prices, Rate, Span, SpotPoint};
use ecsub_core::time::rfc3339_ms as millis;
use std::collections::{BTreeMap, BTreeSet};
use tracing::warn;

/// The attempts as they are costed: launch → the record (written just before the instance is terminated), each
/// with its own root volume (`--retry-larger` doubles an out-of-disk attempt's: the attempt before it says so).
pub fn spans(records: &[AttemptRecord], root_volume_gib: u32) -> Vec<Span> {
    let doublings: BTreeMap<(usize, u32), u32> = records
        .iter()
        .filter_map(|r| {
            let next = r.next_attempt.as_ref()?;
            Some(((r.index, next.number), next.disk_doublings))
        })
        .collect();
    let mut spans: Vec<Span> = records
        .iter()
        .map(|r| Span {
            index: r.index,
            attempt: r.attempt,
            instance_type: r.instance_id.as_ref().and(r.instance_type.clone()),
            spot: r.spot,
            availability_zone: r.availability_zone.clone(),
            launched_ms: r.launched_at.as_deref().and_then(millis),
            // A held instance (`--keep-on-failure`) is billed until its hold ends (or `release`, which the
            // summary cannot know of: this is what it costs at most).
            ended_ms: r
                .held_until
                .as_deref()
                .and_then(millis)
                .or_else(|| millis(&r.recorded_at))
                .unwrap_or(0),
            disk_gib: attempt_volume_gib(
                root_volume_gib,
                doublings.get(&(r.index, r.attempt)).copied().unwrap_or(0),
            ),
        })
        .collect();
    spans.sort_by_key(|s| (s.index, s.attempt));
    spans
}

/// Asks AWS for the prices of what `spans` ran; the shipped table fills what AWS did not answer.
pub async fn gather(aws: &Clients, spans: &[Span]) -> Prices {
    let table = snapshot::prices(&aws.region);
    let mut prices = Prices::default();
    let types: BTreeSet<&str> = spans
        .iter()
        .filter_map(|s| s.instance_type.as_deref())
        .collect();
    if types.is_empty() {
        return prices;
    }
    let pricing = aws.pricing.as_ref();
    let mut api_refused: Option<String> = pricing.is_none().then(|| {
        format!(
            "there is none in the {} partition (it prices the aws and aws-cn partitions only)",
            aws.partition
        )
    });
    for instance_type in &types {
        if let (None, Some(pricing)) = (&api_refused, pricing) {
            let filters = price_list::instance_filters(instance_type, &aws.region);
            match products(pricing, &filters, "instanceType", "Hrs").await {
                Ok(found) => {
                    if let Some(usd) = found.get(*instance_type) {
                        prices.on_demand.insert(
                            (*instance_type).to_owned(),
                            Rate {
                                usd: *usd,
                                source: cost::sources::PRICING_API.to_owned(),
                            },
                        );
                        continue;
                    }
                }
                Err(why) => api_refused = Some(why),
            }
        }
        if let Some(rate) = table.on_demand.get(*instance_type) {
            prices
                .on_demand
                .insert((*instance_type).to_owned(), rate.clone());
        }
    }
    if let (None, Some(pricing)) = (&api_refused, pricing) {
        match products(
            pricing,
            &price_list::gp3_filters(&aws.region),
            "volumeApiName",
            "GB-Mo",
        )
        .await
        {
            Ok(found) => {
                prices.ebs_gb_month = found.get("gp3").map(|usd| Rate {
                    usd: *usd,
                    source: cost::sources::PRICING_API.to_owned(),
                });
            }
            Err(why) => api_refused = Some(why),
        }
    }
    if prices.ebs_gb_month.is_none() {
        prices.ebs_gb_month = table.ebs_gb_month.clone();
    }
    if let Some(why) = api_refused {
        warn!(
            why,
            "the Pricing API was not asked for every price: the shipped table fills in"
        );
        prices.notes.push(format!(
            "Pricing API: {why}; on-demand and EBS prices from the table shipped with the stack ({}{})",
            snapshot::as_of(),
            if table.on_demand.is_empty() {
                format!(", which has no prices for {}", aws.region)
            } else {
                String::new()
            }
        ));
    }
    if let Err(why) = spot_history(aws, spans, &mut prices).await {
        warn!(
            why,
            "no spot price history: spot attempts are priced at the on-demand price"
        );
        prices.notes.push(format!(
            "spot price history: {why}; spot attempts priced at the on-demand price (an upper bound)"
        ));
    }
    prices
}

/// GetProducts with `filters` (all TERM_MATCH), every page: attribute `key`'s value → its on-demand price per
/// `unit`.
async fn products(
    pricing: &aws_sdk_pricing::Client,
    filters: &[(&str, &str)],
    key: &str,
    unit: &str,
) -> Result<BTreeMap<String, f64>, String> {
    let mut request = pricing
        .get_products()
        .service_code(price_list::EC2_SERVICE)
        .format_version("aws_v1")
        .max_results(100);
    for (field, value) in filters {
        let filter = Filter::builder()
            .r#type(FilterType::TermMatch)
            .field(*field)
            .value(*value)
            .build()
            .map_err(|e| e.to_string())?;
        request = request.filters(filter);
    }
    let mut found = BTreeMap::new();
    let mut pages = request.into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| format!("GetProducts: {}", describe(&e)))?;
        for document in page.price_list() {
            if let Some((name, usd)) = price_list::on_demand(document, key, unit) {
                found.entry(name).or_insert(usd);
            }
        }
    }
    Ok(found)
}

/// EC2's spot price history for every type and zone a spot attempt ran in, over the job's time.
async fn spot_history(aws: &Clients, spans: &[Span], prices: &mut Prices) -> Result<(), String> {
    let spot: Vec<&Span> = spans
        .iter()
        .filter(|s| s.spot && s.instance_type.is_some() && s.availability_zone.is_some())
        .collect();
    // To the end of the last billed second of any attempt: one shorter than the minimum pays the prices of its
    // whole first minute, past its end.
    let (Some(from), Some(to)) = (
        spot.iter().filter_map(|s| s.launched_ms).min(),
        spot.iter()
            .filter_map(|s| {
                let launched = s.launched_ms?;
                let billed = i64::try_from(billed_seconds(launched, s.ended_ms)).ok()?;
                Some(launched.saturating_add(billed.saturating_mul(1000)))
            })
            .max(),
    ) else {
        return Ok(());
    };
    let mut zones_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in &spot {
        if let (Some(t), Some(z)) = (s.instance_type.as_deref(), s.availability_zone.as_deref()) {
            zones_of.entry(t).or_default().insert(z);
        }
    }
    for (instance_type, zones) in zones_of {
        let request = aws
            .ec2
            .describe_spot_price_history()
            .instance_types(ec2::InstanceType::from(instance_type))
            .product_descriptions("Linux/UNIX")
            .filters(
                ec2::Filter::builder()
                    .name("availability-zone")
                    .set_values(Some(zones.iter().map(|z| (*z).to_owned()).collect()))
                    .build(),
            )
            .start_time(DateTime::from_millis(from))
            .end_time(DateTime::from_millis(to));
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("DescribeSpotPriceHistory: {}", describe(&e)))?;
            for point in page.spot_price_history() {
                let (Some(zone), Some(usd), Some(at)) = (
                    point.availability_zone(),
                    point.spot_price().and_then(|p| p.parse::<f64>().ok()),
                    point.timestamp().and_then(|t| t.to_millis().ok()),
                ) else {
                    continue;
                };
                prices.add_spot(
                    instance_type,
                    zone,
                    SpotPoint {
                        at_ms: at,
                        usd_per_hour: usd,
                    },
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};

    /// Clients of a stack in `region` of `partition`, pointed at a port where nothing answers: any call fails.
    fn clients(partition: &str, region: &'static str) -> Clients {
        let shared = aws_config::SdkConfig::builder()
            .region(Region::new(region))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "AKIDEXAMPLE",
                "secret",
                None,
                None,
                "test",
            )))
            .build();
        Clients::new(&shared, partition)
    }

    #[test]
    fn an_attempt_is_costed_with_its_own_volume_and_a_held_one_until_its_hold_ends() {
        use ecsub_core::chain::{Attempt, Outcome};
        let mut first = AttemptRecord::example(0, 1, Outcome::Failed);
        first.recorded_at = "2026-12-07T10:00:00Z".into();
        first.next_attempt = Some(Attempt {
            number: 2,
            disk_doublings: 1,
            ..Attempt::default()
        });
        let mut second = AttemptRecord::example(0, 2, Outcome::Failed);
        second.recorded_at = "2026-12-07T10:10:00Z".into();
        second.held_until = Some("2026-12-07T12:10:00Z".into());
        let spans = spans(&[second, first], 40);
        let got: Vec<(u32, u32, i64)> = spans
            .iter()
            .map(|s| (s.attempt, s.disk_gib, s.ended_ms))
            .collect();
        assert_eq!(
            got,
            [
                (1, 40, millis("2026-12-07T10:00:00Z").unwrap()),
                (2, 80, millis("2026-12-07T12:10:00Z").unwrap()),
            ]
        );
    }

    #[tokio::test]
    async fn govcloud_is_not_priced_with_another_partitions_prices() {
        let spans = [Span {
            index: 0,
            attempt: 1,
            instance_type: Some("m5.large".into()),
            spot: false,
            availability_zone: Some("us-gov-west-1a".into()),
            launched_ms: Some(0),
            ended_ms: 3_600_000,
            disk_gib: 30,
        }];
        let prices = gather(&clients("aws-us-gov", "us-gov-west-1"), &spans).await;
        assert!(prices.on_demand.is_empty(), "{:?}", prices.on_demand);
        assert!(prices.ebs_gb_month.is_none());
        assert_eq!(prices.notes.len(), 1, "{:?}", prices.notes);
        assert!(
            prices.notes[0].starts_with(
                "Pricing API: there is none in the aws-us-gov partition (it prices the aws and aws-cn partitions only)"
            ) && prices.notes[0].ends_with("which has no prices for us-gov-west-1)"),
            "{}",
            prices.notes[0]
        );
    }
}
