//! The AWS Pricing API's answers: GetProducts returns `PriceList`, a list of JSON documents (as strings), one per
//! product, each with the product's attributes and its terms (AWS Billing user guide, "Reading the service price
//! list files"; Pricing API reference, GetProducts):
//!
//! ```json
//! {"product": {"productFamily": "Compute Instance", "sku": "…",
//!              "attributes": {"instanceType": "m5.large", "regionCode": "us-east-1", "operatingSystem": "Linux", …}},
//!  "serviceCode": "AmazonEC2",
//!  "terms": {"OnDemand": {"SKU.TERM": {"priceDimensions": {"SKU.TERM.RATE": {"unit": "Hrs",
//!            "pricePerUnit": {"USD": "0.0960000000"}, …}}, …}}, "Reserved": {…}}}
//! ```
//!
//! Only the on-demand terms are read; an instance's price is per `Hrs`, a volume's per `GB-Mo`.

use serde_json::Value;

/// The filters (all `TERM_MATCH`) that select one instance type's on-demand Linux price in a region: shared
/// tenancy, no pre-installed software, no license, the capacity actually used (not reservations).
pub fn instance_filters<'a>(
    instance_type: &'a str,
    region: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("instanceType", instance_type),
        ("regionCode", region),
        ("operatingSystem", "Linux"),
        ("tenancy", "Shared"),
        ("preInstalledSw", "NA"),
        ("capacitystatus", "Used"),
        ("licenseModel", "No License required"),
    ]
}

/// The filters that select the gp3 volume's storage price in a region.
pub fn gp3_filters(region: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("productFamily", "Storage"),
        ("volumeApiName", "gp3"),
        ("regionCode", region),
    ]
}

/// The service code of EC2's (and EBS's) products.
pub const EC2_SERVICE: &str = "AmazonEC2";

/// A product's on-demand price in US dollars for `unit` (`Hrs`, `GB-Mo`), with the attribute `key`'s value
/// (e.g. the instance type) — `None` if the document is not a product with such a price.
pub fn on_demand(document: &str, key: &str, unit: &str) -> Option<(String, f64)> {
    let doc: Value = serde_json::from_str(document).ok()?;
    let named = doc
        .pointer(&format!("/product/attributes/{key}"))?
        .as_str()?
        .to_owned();
    let terms = doc.pointer("/terms/OnDemand")?.as_object()?;
    let price = terms
        .values()
        .filter_map(|term| term.get("priceDimensions")?.as_object())
        .flat_map(|dimensions| dimensions.values())
        .filter(|d| d.get("unit").and_then(Value::as_str) == Some(unit))
        .filter_map(|d| {
            d.pointer("/pricePerUnit/USD")?
                .as_str()?
                .parse::<f64>()
                .ok()
        })
        .find(|usd| usd.is_finite() && *usd >= 0.0)?;
    Some((named, price))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M5: &str = r#"{"product":{"productFamily":"Compute Instance","attributes":{"instanceType":"m5.large",
        "regionCode":"us-east-1","operatingSystem":"Linux"},"sku":"ABC"},"serviceCode":"AmazonEC2",
        "terms":{"OnDemand":{"ABC.JRTCKXETXF":{"priceDimensions":{"ABC.JRTCKXETXF.6YS6EN2CT7":{"unit":"Hrs",
        "pricePerUnit":{"USD":"0.0960000000"},"description":"$0.096 per On Demand Linux m5.large Instance Hour"}},
        "offerTermCode":"JRTCKXETXF","sku":"ABC"}},"Reserved":{"ABC.X":{"priceDimensions":{"ABC.X.Y":{"unit":"Hrs",
        "pricePerUnit":{"USD":"0.0600000000"}}}}}},"version":"20261101","publicationDate":"2026-11-01T00:00:00Z"}"#;

    #[test]
    fn the_on_demand_term_gives_the_price() {
        assert_eq!(
            on_demand(M5, "instanceType", "Hrs"),
            Some(("m5.large".to_owned(), 0.096))
        );
        assert_eq!(on_demand(M5, "instanceType", "GB-Mo"), None);
        assert_eq!(on_demand(M5, "volumeApiName", "Hrs"), None);
        assert_eq!(on_demand("not json", "instanceType", "Hrs"), None);
    }
}
