//! The price table shipped with the stack: what a job is costed with when the Pricing API cannot be asked (no
//! permission, no route to its endpoint), and what `push --dry-run` quotes without calling AWS. On-demand Linux
//! list prices per hour and the gp3 volume's per GB-month, US East (N. Virginia), as published on the EC2 and EBS
//! pricing pages; regions not in the table are not priced from it.

use super::{sources, Prices, Rate};
use serde::Deserialize;

const TABLE: &str = include_str!("snapshot.json");

#[derive(Debug, Deserialize)]
struct Table {
    as_of: String,
    regions: std::collections::BTreeMap<String, Region>,
}

#[derive(Debug, Deserialize)]
struct Region {
    ebs_gp3_usd_per_gb_month: f64,
    on_demand_linux_usd_per_hour: std::collections::BTreeMap<String, f64>,
}

/// The month the table was taken (`2026-11`).
pub fn as_of() -> String {
    table().map(|t| t.as_of).unwrap_or_default()
}

fn table() -> Option<Table> {
    serde_json::from_str(TABLE).ok()
}

/// The table's prices for `region` (empty if the region is not in it).
pub fn prices(region: &str) -> Prices {
    let mut prices = Prices::default();
    let Some(table) = table() else {
        return prices;
    };
    let source = format!("{} ({})", sources::SNAPSHOT, table.as_of);
    if let Some(r) = table.regions.get(region) {
        for (instance_type, usd) in &r.on_demand_linux_usd_per_hour {
            prices.on_demand.insert(
                instance_type.clone(),
                Rate {
                    usd: *usd,
                    source: source.clone(),
                },
            );
        }
        prices.ebs_gb_month = Some(Rate {
            usd: r.ebs_gp3_usd_per_gb_month,
            source,
        });
    }
    prices
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_table_reads_and_names_its_date() {
        assert!(table().is_some(), "snapshot.json does not parse");
        let p = prices("us-east-1");
        assert_eq!(p.on_demand["m5.large"].usd, 0.096);
        assert_eq!(
            p.on_demand["t3.micro"].source,
            format!("snapshot ({})", as_of())
        );
        assert!(p.ebs_gb_month.is_some());
        assert!(prices("xx-nowhere-1").on_demand.is_empty());
    }
}
